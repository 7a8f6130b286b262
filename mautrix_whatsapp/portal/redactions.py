"""Deleting both ways: a WhatsApp revoke ("delete for everyone") redacts every Matrix event the
message became; a Matrix redaction revokes the user's own message or removes their reaction.
Someone else's message can't be deleted from Matrix (WhatsApp allows only group admins, which
the bridge doesn't do): the room is told so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mautrix.appservice import IntentAPI
from mautrix.types import EventID, EventType, RoomID

from ..msgconv import convert_revoke
from ..msgconv.from_matrix import convert_redaction
from ..msgconv.from_matrix_types import ConversionError, ReplyTarget
from ..session import SendFailed
from .converters import _FromMatrixContext
from .jids import user_jid
from .reactions import redact
from .relations import refuse, sender_session, succeeded

if TYPE_CHECKING:
    from ..db import MessageRow
    from ..session import MessageReceived
    from ..user import User
    from .portal import Portal

REDACTION_TARGET_UNKNOWN = "the redacted event isn't known to the bridge"


def _revoked_rows(
    rows: list[MessageRow], participant: str, from_me: bool, revoker: str
) -> list[MessageRow]:
    """Of the messages with the revoked id, those of its author: the key's participant
    (groups), the revoker (``fromMe``), else the one sender there is."""
    author = user_jid(participant) if participant else revoker if from_me else None
    if author is not None:
        own = [row for row in rows if row.sender == author]
        if own:
            return own
    return rows if len({row.sender for row in rows}) == 1 else []


async def handle_whatsapp_revoke(
    portal: Portal, source: User, message: MessageReceived, intent: IntentAPI
) -> None:
    target = convert_revoke(message.message)
    if target is None or not target.message_id:
        return
    tables = portal.bridge.tables
    rows = await tables.messages.get_by_id(portal.jid, portal.receiver, target.message_id)
    rows = _revoked_rows(rows, target.participant, target.from_me, user_jid(message.sender))
    if not rows:
        portal.log.debug("Dropping a revoke of %s: the message isn't bridged", target.message_id)
        return
    for row in rows:
        await redact(portal, [intent, portal.main_intent], row.mxid)
    await tables.messages.delete(portal.jid, portal.receiver, rows[0].sender, rows[0].id)


async def handle_matrix_redaction(
    portal: Portal, sender: User, event_id: EventID, redacts: Any
) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    tables = portal.bridge.tables
    try:
        if not isinstance(redacts, str) or not redacts:
            raise ConversionError("the redaction names no event")
        session, own = sender_session(portal, sender)
        reactions: dict[str, ReplyTarget] = {}
        replies: dict[str, ReplyTarget] = {}
        reaction = await tables.reactions.get_by_mxid(EventID(redacts), RoomID(room_id))
        target = await tables.messages.get_by_mxid(EventID(redacts), RoomID(room_id))
        if reaction is not None:
            if reaction.sender != own:
                raise ConversionError("only your own reactions can be removed on WhatsApp")
            from_me = reaction.target_sender == own
            reactions[redacts] = ReplyTarget(
                reaction.target_id, reaction.target_sender, from_me=from_me
            )
        elif target is not None:
            replies[redacts] = ReplyTarget(target.id, target.sender, from_me=target.sender == own)
        else:
            raise ConversionError(REDACTION_TARGET_UNKNOWN)
        ctx = _FromMatrixContext(portal.jid, {}, replies, reactions=reactions)
        await session.send_message(portal.jid, convert_redaction(ctx, redacts))
    except (ConversionError, SendFailed) as e:
        await refuse(portal, sender, event_id, EventType.ROOM_REDACTION, "redaction", e)
        return
    if reaction is not None:
        await tables.reactions.delete(
            portal.jid, portal.receiver, reaction.target_sender, reaction.target_id, own
        )
    elif target is not None:
        # WhatsApp deleted the whole message: its other parts go too.
        parts = await tables.messages.get_parts(portal.jid, portal.receiver, own, target.id)
        for part in parts:
            if part.mxid != redacts:
                await redact(portal, [portal.main_intent], part.mxid)
        await tables.messages.delete(portal.jid, portal.receiver, own, target.id)
    succeeded(portal, sender, event_id, EventType.ROOM_REDACTION)
