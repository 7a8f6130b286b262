"""The seam between Matrix → WhatsApp conversion and the portal: what the converter asks of it.

The converter is pure: every lookup (message table, media repository, WhatsApp upload) goes
through a :class:`FromMatrixContext` the portal implements, so unit tests pass a fake one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..whatsapp.media.types import MediaType
from ..whatsapp.media.upload import UploadResult
from ..whatsapp.proto import wa_e2e_pb2

UploadedMedia = UploadResult
"""What an upload returns (the client library's type, re-exported under the brief's name)."""


class ConversionError(Exception):
    """A Matrix event that cannot become a WhatsApp message; ``str(error)`` is the reason to
    show the user in the room."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReplyTarget:
    """A bridged WhatsApp message an event points at (reply, reaction, redaction)."""

    message_id: str
    sender_jid: str
    """The message's author (a user JID; for our own messages, our JID)."""
    quoted: wa_e2e_pb2.Message | None = None
    """The quoted content WhatsApp shows above a reply (None: an empty placeholder)."""
    from_me: bool = False


@dataclass(frozen=True)
class EditTarget:
    """A bridged message an ``m.replace`` names; WhatsApp only lets the author edit."""

    message_id: str
    sent_at: float
    """Unix seconds when WhatsApp accepted the original."""
    from_me: bool = True


@dataclass(frozen=True)
class PollTarget:
    """A bridged poll a Matrix poll response votes on."""

    message_id: str
    sender_jid: str
    options: Mapping[str, str] = field(default_factory=dict)
    """Matrix answer id → WhatsApp option name (the name's SHA-256 is what a vote carries)."""


@dataclass(frozen=True)
class PollVote:
    """A vote to send: the portal turns it into an encrypted ``pollUpdateMessage`` with
    ``client.build_poll_vote(chat, message_id, JID.parse(sender_jid), options)``, because that
    needs the poll's secret from the client's store."""

    message_id: str
    sender_jid: str
    options: list[str]


class FromMatrixContext(Protocol):
    """What conversion needs from the portal; methods raise on I/O failure."""

    @property
    def chat_jid(self) -> str:
        """The portal's WhatsApp chat (edits, reactions and revokes name it in their keys)."""
        ...

    async def download_mxc(self, url: str, encrypted_file: dict[str, Any] | None) -> bytes: ...

    async def upload_media(self, data: bytes, kind: MediaType, mimetype: str) -> UploadedMedia:
        """``client.media.upload`` (the kind picks the encryption keys and upload path)."""
        ...

    def jid_for_user(self, user_id: str) -> str | None:
        """The WhatsApp JID of a Matrix user (ghost or logged-in user) a pill names."""
        ...

    def reply_target(self, event_id: str) -> ReplyTarget | None: ...

    def edit_target(self, event_id: str) -> EditTarget | None: ...

    def reaction_target(self, event_id: str) -> ReplyTarget | None:
        """If ``event_id`` is one of our bridged reactions, the message it reacts to."""
        ...

    def poll_target(self, event_id: str) -> PollTarget | None: ...


class MediaConverter(Protocol):
    """An optional transcoder (e.g. ffmpeg-backed) for formats Pillow cannot handle."""

    name: str

    async def convert(self, data: bytes, source_mime: str, target_mime: str) -> bytes:
        """``data`` re-encoded as ``target_mime``; raise on failure."""
        ...
