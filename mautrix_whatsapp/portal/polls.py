"""Polls both ways (MSC3381). A poll is a message like any other (msgconv converts it, the
message table maps it); votes are relations to it.

WhatsApp votes are encrypted with the poll's secret, which the client keeps: the receiving
user's session decrypts them into the chosen options' SHA-256 hashes. A poll started on
WhatsApp names its Matrix answers by those hashes; one started on Matrix keeps its own answer
ids, so both directions map ids and option names through the poll event's own answers (read
back from Matrix: nothing to store, and it works across restarts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mautrix.appservice import IntentAPI
from mautrix.types import EventID, EventType, RoomID

from ..db import MessageRow
from ..msgconv import convert_to_matrix, poll_option_id
from ..msgconv.from_matrix import (
    convert_from_matrix,
    convert_poll_response,
    convert_poll_start,
)
from ..msgconv.from_matrix_types import ConversionError, PollTarget
from ..msgconv.misc import POLL_RESPONSE
from ..session import SendFailed
from ..whatsapp.message_builders import unwrap
from ..whatsapp.proto import wa_e2e_pb2
from .converters import _FromMatrixContext, _ToMatrixContext
from .jids import user_jid
from .relations import event_content, refuse, sender_session, succeeded

if TYPE_CHECKING:
    from ..session import MessageReceived
    from ..user import User
    from .portal import Portal

POLL_TARGET_UNKNOWN = "the poll isn't known to the bridge"


async def poll_options(portal: Portal, poll_event: EventID) -> dict[str, str]:
    """The bridged poll's Matrix answer ids → option names, from its event ({} if unreadable)."""
    if portal.mxid is None:
        return {}
    try:
        event = await portal.main_intent.get_event(portal.mxid, poll_event)
        _, options = convert_poll_start(
            _FromMatrixContext(portal.jid, {}, {}), event_content(event)
        )
    except Exception as e:
        portal.log.warning("Can't read the answers of poll %s: %s", poll_event, e)
        return {}
    return options


async def handle_whatsapp_vote(
    portal: Portal, source: User, message: MessageReceived, intent: IntentAPI
) -> None:
    room_id = portal.mxid
    session = source.session
    key = unwrap(message.message).pollUpdateMessage.pollCreationMessageKey
    tables = portal.bridge.tables
    rows = await tables.messages.get_by_id(portal.jid, portal.receiver, key.ID)
    poll = min(rows, key=lambda row: (row.sender, row.part)) if rows else None
    if poll is None or room_id is None or session is None:
        portal.log.debug("Dropping a vote on %s: the poll isn't bridged", key.ID)
        return

    async def decrypt(update: wa_e2e_pb2.PollUpdateMessage) -> list[bytes]:
        return await session.decrypt_poll_vote(message.chat, message.sender, update)

    ctx = _ToMatrixContext({}, {key.ID: poll.mxid}, decrypt_vote=decrypt)
    converted = await convert_to_matrix(
        ctx, message.message, is_from_me=message.is_from_me, sender=message.sender
    )
    if not converted.parts:
        return  # msgconv logged why (the vote didn't decrypt)
    part = converted.parts[0]
    answers = part.content.get(POLL_RESPONSE, {}).get("answers", [])
    options = await poll_options(portal, poll.mxid)
    by_hash = {poll_option_id(name): answer_id for answer_id, name in options.items()}
    part.content[POLL_RESPONSE]["answers"] = [by_hash.get(a, a) for a in answers]
    await intent.ensure_joined(room_id, bot=portal.main_intent)
    timestamp = int(message.timestamp * 1000)
    content: Any = part.content
    event_type = EventType.find(part.event_type, EventType.Class.MESSAGE)
    event_id = await intent.send_message_event(room_id, event_type, content, timestamp=timestamp)
    await _store(portal, user_jid(message.sender), message.id, event_id, timestamp / 1000)


async def _store(
    portal: Portal, sender: str, message_id: str, event_id: EventID, timestamp: float
) -> None:
    """Map a poll or vote (WhatsApp id, unix seconds) to its Matrix event."""
    if portal.mxid is None:
        return
    row = MessageRow(
        chat_jid=portal.jid,
        receiver=portal.receiver,
        sender=sender,
        id=message_id,
        mxid=event_id,
        mx_room=portal.mxid,
        timestamp=int(timestamp * 1000),
    )
    await portal.bridge.tables.messages.insert(row)


async def handle_matrix_poll_start(
    portal: Portal, sender: User, event_id: EventID, event_type: str, content: dict[str, Any]
) -> None:
    matrix_type = EventType.find(event_type, EventType.Class.MESSAGE)
    try:
        session, own = sender_session(portal, sender)
        ctx = _FromMatrixContext(portal.jid, {}, {})
        message = await convert_from_matrix(ctx, event_type, content)
        sent = await session.send_message(portal.jid, message)
    except (ConversionError, SendFailed) as e:
        await refuse(portal, sender, event_id, matrix_type, "poll", e)
        return
    await _store(portal, own, sent.id, event_id, sent.timestamp)
    succeeded(portal, sender, event_id, matrix_type)


async def handle_matrix_poll_response(
    portal: Portal, sender: User, event_id: EventID, content: dict[str, Any], event_type: str
) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    matrix_type = EventType.find(event_type, EventType.Class.MESSAGE)
    relates = content.get("m.relates_to")
    poll_event = relates.get("event_id") if isinstance(relates, dict) else None
    try:
        session, own = sender_session(portal, sender)
        if not isinstance(poll_event, str) or not poll_event:
            raise ConversionError("the vote names no poll")
        tables = portal.bridge.tables
        poll = await tables.messages.get_by_mxid(EventID(poll_event), RoomID(room_id))
        if poll is None:
            raise ConversionError(POLL_TARGET_UNKNOWN)
        options = await poll_options(portal, poll.mxid)
        target = PollTarget(poll.id, poll.sender, options)
        ctx = _FromMatrixContext(portal.jid, {}, {}, polls={poll_event: target})
        vote = convert_poll_response(ctx, content)
        sent = await session.send_poll_vote(
            portal.jid, vote.message_id, vote.sender_jid, vote.options
        )
    except (ConversionError, SendFailed) as e:
        await refuse(portal, sender, event_id, matrix_type, "vote", e)
        return
    await _store(portal, own, sent.id, event_id, sent.timestamp)
    succeeded(portal, sender, event_id, matrix_type)
