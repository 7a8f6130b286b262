"""What the relation modules (edits, reactions, redactions, polls) share: the sender's session,
notices and send checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mautrix.types import (
    EventID,
    EventType,
    MessageType,
    TextMessageEventContent,
)
from mautrix.util.message_send_checkpoint import MessageSendCheckpointStatus

from ..session import SendFailed, WhatsAppSession
from .jids import user_jid

if TYPE_CHECKING:
    from mautrix.types import Event

    from ..user import User
    from .portal import Portal

NOT_BRIDGED_NOTICE = "Your {what} was not bridged: {reason}"


def sender_session(portal: Portal, sender: User) -> tuple[WhatsAppSession, str]:
    """The sender's session and user JID; :class:`SendFailed` with the reason when they
    can't act in this chat (as for messages)."""
    session = sender.session
    if session is None or sender.wa_jid is None:
        raise SendFailed("you're not logged in to WhatsApp")
    own = user_jid(sender.wa_jid)
    if not portal.is_group and own != portal.receiver:
        raise SendFailed("this is another user's private chat")
    return session, own


async def notice(portal: Portal, text: str) -> None:
    """A notice in the portal's room from its main intent (best effort)."""
    if portal.mxid is None:
        return
    content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
    try:
        await portal.main_intent.send_message(portal.mxid, content)
    except Exception:
        portal.log.warning("Couldn't send a notice to %s", portal.mxid, exc_info=True)


async def refuse(
    portal: Portal,
    sender: User,
    event_id: EventID,
    event_type: EventType,
    what: str,
    reason: Exception | str,
) -> None:
    """Tell the room why ``event_id`` was not bridged, and report the failure."""
    portal.log.warning("Not bridging %s %s: %s", what, event_id, reason)
    if portal.mxid is not None:
        error = reason if isinstance(reason, Exception) else SendFailed(reason)
        status = MessageSendCheckpointStatus.PERM_FAILURE
        sender.send_remote_checkpoint(status, event_id, portal.mxid, event_type, error=error)
    await notice(portal, NOT_BRIDGED_NOTICE.format(what=what, reason=reason))


def succeeded(portal: Portal, sender: User, event_id: EventID, event_type: EventType) -> None:
    if portal.mxid is not None:
        status = MessageSendCheckpointStatus.SUCCESS
        sender.send_remote_checkpoint(status, event_id, portal.mxid, event_type)


def event_content(evt: Event) -> dict[str, Any]:
    """An event's content as JSON (untrusted: callers check every field)."""
    content = evt.serialize().get("content")
    return content if isinstance(content, dict) else {}
