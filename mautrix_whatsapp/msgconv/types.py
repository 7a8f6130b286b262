"""What a WhatsApp → Matrix conversion needs (:class:`ToMatrixContext`) and what it returns.

The converter is pure: every piece of I/O (media download and upload, ghost and message
lookups, poll-vote decryption) goes through the context the portal passes in, so each kind of
message can be tested with a fake context and the portal decides what to send, store or redact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from ..formatter import MentionTarget as MentionTarget


class ToMatrixContext(Protocol):
    """The portal's side of a conversion: bound to one portal (its chat) and one event.

    ``chat`` arguments are the JID string the WhatsApp message names (``contextInfo.remoteJID``
    or a message key's ``remoteJID``); an empty string means the portal's own chat. In a DM a
    key may name either side's JID, so implementations look ids up in the portal's own chat
    unless ``chat`` is clearly another one (a status reply).
    """

    async def download_media(self, message: Any) -> bytes:
        """The decrypted bytes of a waE2E media message (``ImageMessage``…); raises on failure
        (a :class:`~mautrix_whatsapp.whatsapp.media.errors.MediaExpiredError` when the CDN no
        longer has it)."""
        ...

    async def upload_media(self, data: bytes, mimetype: str, filename: str) -> str:
        """Upload to the homeserver's media repository; returns the ``mxc://`` URI."""
        ...

    def mention(self, jid: str) -> MentionTarget | None:
        """The Matrix user (ghost or logged-in user) for a mentioned JID, if known."""
        ...

    def reply_target(self, chat: str, message_id: str) -> str | None:
        """The Matrix event id of a bridged message (its first part), if bridged."""
        ...

    def edit_target(self, chat: str, message_id: str) -> str | None:
        """The Matrix event id an edit of this message must replace, if bridged."""
        ...

    async def decrypt_poll_vote(self, update: wa_e2e_pb2.PollUpdateMessage) -> list[bytes]:
        """The SHA-256 option hashes chosen in a vote on a poll (the client's
        ``secrets.decrypt_poll_vote`` with this event's sender and chat); raises when the
        vote cannot be decrypted."""
        ...


@dataclass
class ConvertedPart:
    """One Matrix event of a converted message. ``part_id`` is ``""`` for the main part."""

    event_type: str
    content: dict[str, Any]
    part_id: str = ""


@dataclass
class ConvertedMessage:
    """A WhatsApp message as the Matrix events to send, with what they point at.

    ``reply_to``/``edit_of`` are Matrix event ids (already put into the first part's
    ``m.relates_to``). ``disappear_seconds`` > 0 when the message disappears that long after
    it is sent. ``timer_change`` is set (seconds, 0 = off) when the message changes the chat's
    disappearing timer; the portal stores it (the notice part is already in ``parts``).
    ``timer_set_at`` is when the sender's client last changed the timer (Unix seconds, 0 if
    unsaid): the portal applies a message's implied timer only when that is newer than the
    change it knows (as the Go bridge does). ``edit_target_missing`` is set for an edit of a
    message that was never bridged: its new content is in ``parts`` as a plain message, so
    nothing said is lost.
    """

    parts: list[ConvertedPart]
    reply_to: str | None = None
    edit_of: str | None = None
    disappear_seconds: int = 0
    timer_change: int | None = None
    timer_set_at: int = 0
    edit_target_missing: bool = False
    mentioned_user_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConvertedReaction:
    """A WhatsApp reaction: ``content`` is the ``m.reaction`` to send, or None when the sender
    removed their reaction (``emoji`` empty: redact their previous one on ``target_message_id``).
    ``target_event_id`` is None when the reacted message was never bridged."""

    target_chat: str
    target_message_id: str
    target_sender: str
    target_from_me: bool
    emoji: str
    target_event_id: str | None
    content: dict[str, Any] | None


@dataclass(frozen=True)
class RevokeTarget:
    """The WhatsApp message a revoke ("delete for everyone") removes; the portal redacts every
    Matrix event stored for it. ``participant`` is the original sender in groups."""

    chat: str
    message_id: str
    participant: str
    from_me: bool
