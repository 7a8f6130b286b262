"""A fake :class:`~mautrix_whatsapp.msgconv.ToMatrixContext` for the converter's unit tests:
media "downloads" from a dict, uploads are recorded, lookups come from dicts."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from mautrix_whatsapp.msgconv import MentionTarget
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2


def jpeg(width: int, height: int) -> bytes:
    """A real JPEG of the given size (thumbnails are measured, so they must decode)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Upload:
    data: bytes
    mimetype: str
    filename: str


@dataclass
class FakeContext:
    media: dict[bytes, bytes] = field(default_factory=dict)
    """Media key → plaintext; a message whose key is missing fails to download."""
    download_error: Exception | None = None
    upload_error: Exception | None = None
    mentions: dict[str, MentionTarget] = field(default_factory=dict)
    messages: dict[tuple[str, str], str] = field(default_factory=dict)
    """(chat, message id) → Matrix event id; chat "" is the portal's own chat."""
    votes: list[bytes] | None = None
    uploads: list[Upload] = field(default_factory=list)

    async def download_media(self, message: Any) -> bytes:
        if self.download_error is not None:
            raise self.download_error
        key = bytes(message.mediaKey)
        if key not in self.media:
            raise LookupError(f"no media for key {key.hex()}")
        return self.media[key]

    async def upload_media(self, data: bytes, mimetype: str, filename: str) -> str:
        if self.upload_error is not None:
            raise self.upload_error
        self.uploads.append(Upload(data, mimetype, filename))
        return f"mxc://test/{len(self.uploads)}"

    def mention(self, jid: str) -> MentionTarget | None:
        return self.mentions.get(jid)

    def reply_target(self, chat: str, message_id: str) -> str | None:
        return self.messages.get((chat, message_id))

    def edit_target(self, chat: str, message_id: str) -> str | None:
        return self.messages.get((chat, message_id))

    async def decrypt_poll_vote(self, update: wa_e2e_pb2.PollUpdateMessage) -> list[bytes]:
        if self.votes is None:
            raise ValueError("no secret for this poll")
        return self.votes
