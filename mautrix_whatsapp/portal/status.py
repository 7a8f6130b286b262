"""Delivery status of Matrix events sent to WhatsApp, the way mautrix bridges report it.

Every outcome is reported three ways, each optional by config: a remote message-send
checkpoint (``homeserver.message_send_checkpoint_endpoint``), a ``com.beeper.message_send_status``
event relating to the event (``bridge.message_status_events``), and, for failures, a notice in
the room replying to the event with the reason (``bridge.message_error_notices``). The texts and
status codes follow the Go bridge (``messagetracking.go``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mautrix.types import (
    BeeperMessageStatusEventContent,
    EventID,
    EventType,
    MessageStatus,
    MessageStatusReason,
    MessageType,
    RelatesTo,
    RelationType,
    RoomID,
    TextMessageEventContent,
)
from mautrix.util.message_send_checkpoint import MessageSendCheckpointStatus

from ..session import SendFailed, SendUnconfirmed
from .convert import ConversionError

if TYPE_CHECKING:
    from ..user import User
    from .portal import Portal

FAILED_NOTICE = "Your {kind} {certainty} bridged: {reason}"
NETWORK = "net.maunium.whatsapp://whatsapp/{jid}"

_KINDS = {
    EventType.ROOM_MESSAGE: "message",
    EventType.STICKER: "message",
    EventType.REACTION: "reaction",
    EventType.ROOM_REDACTION: "redaction",
}


class NotLoggedIn(SendFailed):
    """The sender has no WhatsApp session to send with (retriable once they log in)."""


@dataclass(frozen=True)
class Failure:
    """How a failure is reported: its status, its reason code and whether it is certain (a
    message WhatsApp may have received after all says "may not have been")."""

    status: MessageStatus
    reason: MessageStatusReason
    certain: bool
    checkpoint: MessageSendCheckpointStatus


def classify(error: Exception) -> Failure:
    """Refused content is a permanent failure; a failed send may work when the user retries
    (the bridge itself never retries, so every checkpoint is a permanent failure)."""
    perm = MessageSendCheckpointStatus.PERM_FAILURE
    if isinstance(error, ConversionError):
        return Failure(MessageStatus.FAIL, MessageStatusReason.UNSUPPORTED, True, perm)
    if isinstance(error, NotLoggedIn):
        return Failure(MessageStatus.RETRIABLE, MessageStatusReason.NO_PERMISSION, True, perm)
    if isinstance(error, SendUnconfirmed):  # it left, but no ack came: it may be there
        return Failure(MessageStatus.RETRIABLE, MessageStatusReason.NETWORK_ERROR, False, perm)
    if isinstance(error, SendFailed):  # WhatsApp refused it, or it never left
        return Failure(
            MessageStatus.RETRIABLE,
            MessageStatusReason.NETWORK_ERROR,
            True,
            perm,
        )
    return Failure(
        MessageStatus.RETRIABLE,
        MessageStatusReason.GENERIC_ERROR,
        False,
        perm,
    )


def failure_notice(error: Exception, event_type: EventType = EventType.ROOM_MESSAGE) -> str:
    """The notice text for ``error`` (the reason is the error's own text)."""
    certainty = "was not" if classify(error).certain else "may not have been"
    kind = _KINDS.get(event_type, "event")
    return FAILED_NOTICE.format(kind=kind, certainty=certainty, reason=error)


async def report_failure(
    portal: Portal,
    sender: User,
    event_id: EventID,
    error: Exception,
    event_type: EventType = EventType.ROOM_MESSAGE,
) -> None:
    """Checkpoint, status event and notice for an event that was not delivered."""
    room_id = portal.mxid
    if room_id is None:
        return
    failure = classify(error)
    portal.log.warning("Not delivered %s to %s: %s", event_id, portal.jid, error)
    sender.send_remote_checkpoint(failure.checkpoint, event_id, room_id, event_type, error=error)
    await report_notice(portal, event_id, failure_notice(error, event_type))
    if portal.bridge.config.get("bridge.message_status_events", False):
        status = _status_content(portal, event_id, failure.status)
        status.reason = failure.reason
        status.error = str(error)
        status.message = str(error)
        await _send(portal, room_id, EventType.BEEPER_MESSAGE_STATUS, status)


async def report_success(
    portal: Portal,
    sender: User,
    event_id: EventID,
    event_type: EventType = EventType.ROOM_MESSAGE,
) -> None:
    """Checkpoint and status event for an event WhatsApp accepted."""
    room_id = portal.mxid
    if room_id is None:
        return
    ok = MessageSendCheckpointStatus.SUCCESS
    sender.send_remote_checkpoint(ok, event_id, room_id, event_type)
    if portal.bridge.config.get("bridge.message_status_events", False):
        status = _status_content(portal, event_id, MessageStatus.SUCCESS)
        await _send(portal, room_id, EventType.BEEPER_MESSAGE_STATUS, status)


async def report_notice(portal: Portal, event_id: EventID, text: str) -> None:
    """A notice replying to an event: why it failed, or the caveat it was delivered with
    (e.g. its reply target is unknown, so it went without the quote)."""
    room_id = portal.mxid
    if room_id is None or not portal.bridge.config.get("bridge.message_error_notices", True):
        return
    content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
    content.set_reply(event_id)
    await _send(portal, room_id, EventType.ROOM_MESSAGE, content)


def _status_content(
    portal: Portal, event_id: EventID, status: MessageStatus
) -> BeeperMessageStatusEventContent:
    return BeeperMessageStatusEventContent(
        network=NETWORK.format(jid=portal.jid),
        relates_to=RelatesTo(rel_type=RelationType.REFERENCE, event_id=event_id),
        status=status,
    )


async def _send(
    portal: Portal,
    room_id: RoomID,
    event_type: EventType,
    content: TextMessageEventContent | BeeperMessageStatusEventContent,
) -> None:
    """Best effort: a status that can't be sent is logged, never raised."""
    try:
        await portal.main_intent.send_message_event(room_id, event_type, content)
    except Exception:
        portal.log.warning("Couldn't send %s to %s", event_type, room_id, exc_info=True)


UNKNOWN_REPLY_NOTICE = (
    "Your message was bridged without its reply: the message it replies to is unknown to "
    "the bridge"
)


async def unknown_reply_notice(portal: Portal, content: object, event_id: EventID) -> None:
    """Tell the sender when a reply went out unquoted because its target isn't bridged."""
    target = _reply_target(content)
    if target is None or portal.mxid is None:
        return
    if await portal.bridge.tables.messages.get_by_mxid(target, portal.mxid) is None:
        await report_notice(portal, event_id, UNKNOWN_REPLY_NOTICE)


def _reply_target(content: object) -> EventID | None:
    serialize = getattr(content, "serialize", None)
    raw = serialize() if callable(serialize) else None
    relates = raw.get("m.relates_to") if isinstance(raw, dict) else None
    if not isinstance(relates, dict) or relates.get("rel_type") == "m.replace":
        return None
    reply = relates.get("m.in_reply_to")
    event_id = reply.get("event_id") if isinstance(reply, dict) else None
    return EventID(event_id) if isinstance(event_id, str) else None
