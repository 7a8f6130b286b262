"""WhatsApp → Matrix: one received message into the portal's room (run in the portal queue).

The message is bridged once: a message already in the message table (a redelivery, or the
same group message reaching a second bridge user) is dropped. Each part is sent with
WhatsApp's timestamp and stored as soon as Matrix has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.appservice import IntentAPI
from mautrix.types import MessageType, TextMessageEventContent

from .. import double_puppet
from ..db import MessageRow
from ..msgconv import convert_revoke
from ..whatsapp.message_builders import unwrap
from .convert import ConvertedPart
from .counting import count_to_matrix
from .disappearing import after_whatsapp_message
from .jids import user_jid
from .matrix_send import send_part
from .media import set_media_origin
from .polls import handle_whatsapp_vote
from .reactions import handle_whatsapp_reaction
from .redactions import handle_whatsapp_revoke
from .txn_ids import matrix_txn_id

if TYPE_CHECKING:
    from ..session import MessageReceived
    from ..user import User
    from .portal import Portal

CONVERSION_FAILED_NOTICE = "Failed to bridge this message from WhatsApp: {}"


async def handle_message(portal: Portal, source: User, message: MessageReceived) -> None:
    tables = portal.bridge.tables
    sender = user_jid(message.sender)
    if await tables.messages.get_parts(portal.jid, portal.receiver, sender, message.id):
        portal.log.debug("Dropping %s from %s: already bridged", message.id, sender)
        return
    set_media_origin(source, message)  # ---- media ---- (whose session downloads files)
    if await _handle_relation(portal, source, message):
        return
    try:
        parts = await portal.to_matrix.to_matrix(portal, message)
    except Exception as e:
        portal.log.exception("Converting %s from %s failed", message.id, sender)
        notice = TextMessageEventContent(
            msgtype=MessageType.NOTICE, body=CONVERSION_FAILED_NOTICE.format(e)
        )
        parts = [ConvertedPart(notice)]
    if not parts:
        portal.log.debug("Nothing to show for %s from %s", message.id, sender)
        return
    room_made_now = portal.mxid is None
    room_id = await portal.ensure_room(source)
    if room_id is None:
        return
    # ---- backfill ----: making the room may have backfilled this very message (only then:
    # the queue runs one job at a time, so a room that was there bridged nothing meanwhile)
    if room_made_now and await tables.messages.get_parts(
        portal.jid, portal.receiver, sender, message.id
    ):
        return
    intent = await _sender_intent(portal, source, message)
    await intent.ensure_joined(room_id, bot=portal.main_intent)
    timestamp = int(message.timestamp * 1000)
    for index, part in enumerate(parts):
        double_puppet.mark_edit(intent, part.content)  # ---- double puppet ----
        event_id = await send_part(
            portal,
            intent,
            room_id,
            part.event_type,
            part.content,
            timestamp,
            matrix_txn_id(portal, sender, message.id, index),
        )
        row = MessageRow(
            chat_jid=portal.jid,
            receiver=portal.receiver,
            sender=sender,
            id=message.id,
            mxid=event_id,
            mx_room=room_id,
            timestamp=timestamp,
            part=index,
        )
        await tables.messages.insert(row)
    count_to_matrix(str(parts[0].event_type), parts[0].content)
    await after_whatsapp_message(portal, message)  # ---- receipts ----: disappearing timers


async def _sender_intent(portal: Portal, source: User, message: MessageReceived) -> IntentAPI:
    """Who says it: the user's own Matrix account for what they sent from the phone when they
    are double puppeted, else their own ghost; the sender's ghost for everyone else's; the
    portal's main intent as the last resort."""
    if message.is_from_me:  # ---- double puppet ----: the user's own account
        own = await double_puppet.intent_for(portal.bridge, source)
        if own is not None:
            return own
    jid = source.wa_jid if message.is_from_me and source.wa_jid else message.sender
    puppet = await portal.bridge.get_puppet_by_jid(jid)
    return puppet.intent if puppet is not None else portal.main_intent


# ---- relations ----


async def _handle_relation(portal: Portal, source: User, message: MessageReceived) -> bool:
    """Reactions, revokes and poll votes change a bridged message rather than show one: they
    go to their own handlers (True), from the same ghost a message would come from."""
    inner = unwrap(message.message)
    if inner.HasField("reactionMessage"):
        handler = handle_whatsapp_reaction
    elif convert_revoke(inner) is not None:
        handler = handle_whatsapp_revoke
    elif inner.HasField("pollUpdateMessage"):
        handler = handle_whatsapp_vote
    else:
        return False
    if portal.mxid is None:
        portal.log.debug("Dropping %s: the chat has no room, nothing to change", message.id)
        return True
    await handler(portal, source, message, await _sender_intent(portal, source, message))
    return True
