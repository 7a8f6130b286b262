"""Read receipts both ways, and call notices.

WhatsApp → Matrix: a contact's ``read`` receipt becomes their ghost's read receipt on the
newest bridged event among the messages it names. The user's own reads on the phone or another
companion are stored (``user_portal_read``); with double puppeting they become the user's own
Matrix read receipt (:func:`_mark_read_as_user`).

Matrix → WhatsApp: the user's read receipt on a bridged event marks every message other people
sent since the user's previous read, up to that event, as read on WhatsApp (one receipt per
sender, as WhatsApp wants them in groups).

Calls are not bridged: an incoming call offer gets the notice "Incoming call. Use the WhatsApp
app to answer." in the chat's portal (``bridge.call_start_notices``), for calls less than 15
minutes old, as mautrix-whatsapp does.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from mautrix.types import EventID, EventType

from .. import double_puppet
from ..db import MessageRow
from ..msgconv import convert_call_start
from ..session import SendFailed
from .jids import user_jid

if TYPE_CHECKING:
    from ..session import CallOffer, ReceiptReceived
    from ..user import User
    from .portal import Portal

CALL_NOTICE_MAX_AGE = 15 * 60
"""Seconds: older call offers (from the offline queue) get no notice."""

READ_WITHOUT_PREVIOUS = 24 * 3600 * 1000
"""Without a previous read, a Matrix read receipt marks what came this long (ms) before it."""

MAX_MARKED = 100
"""At most this many messages are marked read on WhatsApp for one Matrix read receipt."""


async def _newest_bridged(portal: Portal, message_ids: tuple[str, ...]) -> MessageRow | None:
    """The last part of the newest message among ``message_ids`` that the portal bridged."""
    newest: MessageRow | None = None
    for message_id in message_ids:
        for row in await portal.bridge.tables.messages.get_by_id(
            portal.jid, portal.receiver, message_id
        ):
            if newest is None or (row.timestamp, row.part) > (newest.timestamp, newest.part):
                newest = row
    return newest


async def handle_whatsapp_receipt(portal: Portal, source: User, receipt: ReceiptReceived) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    target = await _newest_bridged(portal, receipt.message_ids)
    if target is None:
        portal.log.debug("Read receipt for unbridged messages %s", receipt.message_ids)
        return
    if receipt.is_from_me:
        await portal.bridge.tables.disappearing.set_own_read(
            source.mxid, portal.jid, portal.receiver, target.id, target.timestamp
        )
        await _mark_read_as_user(portal, source, target)
        return
    puppet = await portal.bridge.get_puppet_by_jid(receipt.sender)
    if puppet is None:
        return
    await puppet.intent.ensure_joined(room_id, bot=portal.main_intent)
    await puppet.intent.mark_read(room_id, target.mxid)


async def _mark_read_as_user(portal: Portal, source: User, target: MessageRow) -> None:
    """The user read ``target`` on WhatsApp: their own Matrix read receipt when they are double
    puppeted (else the read is only stored). The receipt comes back from Matrix, and is then
    no news: the stored read is already that far."""
    portal.log.debug("%s read up to %s on WhatsApp", source.mxid, target.mxid)
    # ---- double puppet ----
    if portal.mxid is not None:
        await double_puppet.mark_read(portal.bridge, source, portal.mxid, target.mxid)


async def handle_matrix_receipt(portal: Portal, user: User, event_id: EventID) -> None:
    """Mark what others sent, up to ``event_id``, as read on WhatsApp."""
    room_id = portal.mxid
    session = user.session
    if room_id is None or session is None or user.wa_jid is None:
        return
    if not portal.is_group and user_jid(user.wa_jid) != portal.receiver:
        return  # another user's DM: never speak for them
    tables = portal.bridge.tables
    target = await tables.messages.get_by_mxid(event_id, room_id)
    if target is None:
        portal.log.debug("Read receipt on %s, which isn't a bridged message", event_id)
        return
    read_state = portal.bridge.tables.disappearing
    previous = await read_state.get_own_read(user.mxid, portal.jid, portal.receiver)
    if previous is not None and previous[1] >= target.timestamp:
        return  # already read that far
    after = previous[1] if previous is not None else target.timestamp - READ_WITHOUT_PREVIOUS
    reader = user_jid(user.wa_jid)
    unread = await read_state.unread_between(
        portal.jid, portal.receiver, after, target.timestamp, reader, MAX_MARKED
    )
    await read_state.set_own_read(
        user.mxid, portal.jid, portal.receiver, target.id, target.timestamp
    )
    by_sender: dict[str, list[str]] = defaultdict(list)
    for sender, message_id in unread:
        by_sender[sender].append(message_id)
    for sender, ids in by_sender.items():
        try:
            await session.mark_read(portal.jid, sender, ids, time.time())
        except SendFailed as e:
            portal.log.warning("Couldn't mark %d messages read on WhatsApp: %s", len(ids), e)
            return
    portal.log.debug("Marked %d messages read up to %s", len(unread), target.id)


async def handle_call_offer(portal: Portal, source: User, call: CallOffer) -> None:
    """A notice from the caller's ghost that a call came in (once per call)."""
    if not portal.bridge.config["bridge.call_start_notices"]:
        return
    if time.time() - call.timestamp > CALL_NOTICE_MAX_AGE:
        portal.log.debug("Not noticing old call %s", call.call_id)
        return
    tables = portal.bridge.tables
    sender = user_jid(call.sender)
    fake_id = f"call-{call.call_id}"
    if await tables.messages.get_parts(portal.jid, portal.receiver, sender, fake_id):
        return
    room_id = await portal.ensure_room(source)
    if room_id is None:
        return
    puppet = await portal.bridge.get_puppet_by_jid(call.sender)
    intent = puppet.intent if puppet is not None else portal.main_intent
    await intent.ensure_joined(room_id, bot=portal.main_intent)
    part = convert_call_start(call.call_type)
    timestamp = int(call.timestamp * 1000)
    event_id = await intent.send_message_event(
        room_id,
        EventType.ROOM_MESSAGE,
        part.content,  # type: ignore[arg-type]
        timestamp=timestamp,
    )
    row = MessageRow(
        chat_jid=portal.jid,
        receiver=portal.receiver,
        sender=sender,
        id=fake_id,
        mxid=event_id,
        mx_room=room_id,
        timestamp=timestamp,
    )
    await tables.messages.insert(row)
