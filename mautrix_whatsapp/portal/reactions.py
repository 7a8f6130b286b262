"""Reactions both ways, one per person and message as WhatsApp keeps them.

Each is stored in the ``reaction`` table (target message, reacting user, Matrix event), so a
change or removal finds the event to redact across restarts. From WhatsApp: a new emoji
redacts the sender's previous reaction and sends the new one from their ghost; an empty one
only redacts. From Matrix: the reaction replaces the user's previous one on WhatsApp, and
their previous Matrix reaction to the message is redacted to match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mautrix.appservice import IntentAPI
from mautrix.types import EventID, EventType, RoomID

from ..db import MessageRow, ReactionRow
from ..msgconv import convert_reaction as reaction_to_matrix
from ..msgconv.from_matrix import convert_reaction as reaction_to_whatsapp
from ..msgconv.from_matrix_types import ConversionError, ReplyTarget
from ..session import SendFailed
from ..whatsapp.message_builders import unwrap
from .converters import _FromMatrixContext, _ToMatrixContext
from .jids import user_jid
from .relations import refuse, sender_session, succeeded

if TYPE_CHECKING:
    from ..session import MessageReceived
    from ..user import User
    from .portal import Portal

REACTION_TARGET_UNKNOWN = "the message isn't known to the bridge"


def _same_emoji(a: str, b: str) -> bool:
    strip = str.maketrans("", "", "\ufe0f\ufe0e")
    return a.translate(strip) == b.translate(strip)


async def redact(portal: Portal, intents: list[IntentAPI], event_id: EventID) -> None:
    """Redact with the first intent allowed to (its own events: the sender's ghost; anyone's:
    the room's creator); a failure is logged, nothing else."""
    if portal.mxid is None:
        return
    for intent in intents:
        try:
            await intent.redact(portal.mxid, event_id)
            return
        except Exception as e:
            portal.log.debug("%s couldn't redact %s: %s", intent.mxid, event_id, e)
    portal.log.warning("Couldn't redact %s in %s", event_id, portal.mxid)


def _target_row(rows: list[MessageRow]) -> MessageRow | None:
    """The first part of the (one) message a WhatsApp key's id names."""
    return min(rows, key=lambda row: (row.sender, row.part)) if rows else None


async def _store(
    portal: Portal,
    target: MessageRow,
    sender: str,
    event_id: EventID,
    emoji: str,
    timestamp: int,
) -> None:
    """Remember ``sender``'s reaction to ``target`` (replacing their previous one)."""
    if portal.mxid is None:
        return
    row = ReactionRow(
        chat_jid=portal.jid,
        receiver=portal.receiver,
        target_sender=target.sender,
        target_id=target.id,
        sender=sender,
        mxid=event_id,
        mx_room=portal.mxid,
        emoji=emoji,
        timestamp=timestamp,
    )
    await portal.bridge.tables.reactions.upsert(row)


async def handle_whatsapp_reaction(
    portal: Portal, source: User, message: MessageReceived, intent: IntentAPI
) -> None:
    room_id = portal.mxid
    key = unwrap(message.message).reactionMessage.key
    tables = portal.bridge.tables
    target = _target_row(await tables.messages.get_by_id(portal.jid, portal.receiver, key.ID))
    if target is None or room_id is None:
        portal.log.debug("Dropping a reaction to %s: the message isn't bridged", key.ID)
        return
    ctx = _ToMatrixContext({}, {key.ID: target.mxid})
    reaction = reaction_to_matrix(ctx, message.message)
    if reaction is None:
        return
    reactor = user_jid(message.sender)
    previous = await tables.reactions.get(
        portal.jid, portal.receiver, target.sender, target.id, reactor
    )
    if previous is not None and reaction.emoji and _same_emoji(previous.emoji, reaction.emoji):
        return  # a redelivery
    if previous is not None:
        await redact(portal, [intent, portal.main_intent], previous.mxid)
        await tables.reactions.delete(
            portal.jid, portal.receiver, target.sender, target.id, reactor
        )
    if reaction.content is None:
        return
    await intent.ensure_joined(room_id, bot=portal.main_intent)
    timestamp = int(message.timestamp * 1000)
    content: Any = reaction.content
    event_id = await intent.send_message_event(
        room_id, EventType.REACTION, content, timestamp=timestamp
    )
    await _store(portal, target, reactor, event_id, reaction.emoji, timestamp)


async def handle_matrix_reaction(
    portal: Portal, sender: User, event_id: EventID, content: dict[str, Any]
) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    relates = content.get("m.relates_to")
    target_event = relates.get("event_id") if isinstance(relates, dict) else None
    key = relates.get("key") if isinstance(relates, dict) else None
    tables = portal.bridge.tables
    try:
        if not isinstance(target_event, str) or not isinstance(key, str):
            raise ConversionError("the reaction names no event or emoji")
        target = await tables.messages.get_by_mxid(EventID(target_event), RoomID(room_id))
        if target is None:
            raise ConversionError(REACTION_TARGET_UNKNOWN)
        session, own = sender_session(portal, sender)
        reply = ReplyTarget(target.id, target.sender, from_me=target.sender == own)
        message = reaction_to_whatsapp(_FromMatrixContext(portal.jid, {}, {}), reply, key)
        sent = await session.send_message(portal.jid, message)
    except (ConversionError, SendFailed) as e:
        await refuse(portal, sender, event_id, EventType.REACTION, "reaction", e)
        return
    previous = await tables.reactions.get(
        portal.jid, portal.receiver, target.sender, target.id, own
    )
    if previous is not None and previous.mxid != event_id:
        # WhatsApp keeps one reaction per person: the new one replaced it there, so here too.
        await redact(portal, [portal.main_intent], previous.mxid)
    await _store(portal, target, own, event_id, key, int(sent.timestamp * 1000))
    succeeded(portal, sender, event_id, EventType.REACTION)
