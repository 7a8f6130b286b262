"""A recording FromMatrixContext for the Matrix → WhatsApp conversion tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mautrix_whatsapp.formatter import WhatsAppText
from mautrix_whatsapp.msgconv.from_matrix_types import (
    EditTarget,
    PollTarget,
    ReplyTarget,
    UploadedMedia,
)
from mautrix_whatsapp.whatsapp.media.types import MediaType

CHAT = "120363000000000001@g.us"
ME = "15550000001@s.whatsapp.net"
ALICE = "15550000002@s.whatsapp.net"
GHOSTS = {"@whatsapp_15550000002:example.org": ALICE, "@me:example.org": ME}


@dataclass
class FakeContext:
    """Lookups from dicts; media from an mxc → bytes dict; uploads recorded."""

    media: dict[str, bytes] = field(default_factory=dict)
    replies: dict[str, ReplyTarget] = field(default_factory=dict)
    edits: dict[str, EditTarget] = field(default_factory=dict)
    reactions: dict[str, ReplyTarget] = field(default_factory=dict)
    polls: dict[str, PollTarget] = field(default_factory=dict)
    uploads: list[tuple[bytes, MediaType, str]] = field(default_factory=list)
    downloads: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    upload_error: Exception | None = None
    chat: str = CHAT

    @property
    def chat_jid(self) -> str:
        return self.chat

    async def download_mxc(self, url: str, encrypted_file: dict[str, Any] | None) -> bytes:
        self.downloads.append((url, encrypted_file))
        if url not in self.media:
            raise LookupError(f"{url} not found (404)")
        return self.media[url]

    async def upload_media(self, data: bytes, kind: MediaType, mimetype: str) -> UploadedMedia:
        if self.upload_error is not None:
            raise self.upload_error
        self.uploads.append((data, kind, mimetype))
        return UploadedMedia(
            url="https://mmg.example/blob",
            direct_path="/v/t62/blob",
            media_key=b"k" * 32,
            file_sha256=b"s" * 32,
            file_enc_sha256=b"e" * 32,
            file_length=len(data) + 10,
            media_type=kind,
        )

    def jid_for_user(self, user_id: str) -> str | None:
        return GHOSTS.get(user_id)

    def reply_target(self, event_id: str) -> ReplyTarget | None:
        return self.replies.get(event_id)

    def edit_target(self, event_id: str) -> EditTarget | None:
        return self.edits.get(event_id)

    def reaction_target(self, event_id: str) -> ReplyTarget | None:
        return self.reactions.get(event_id)

    def poll_target(self, event_id: str) -> PollTarget | None:
        return self.polls.get(event_id)


_PILL = re.compile(r'<a href="https://matrix.to/#/([^"]+)">[^<]*</a>')


def fake_formatter(html: str, resolve: Callable[[str], str | None]) -> WhatsAppText:
    """Stands in for the formatter package: ``<b>`` → ``*``, pills → ``@number`` mentions."""
    mentions: list[str] = []

    def pill(match: re.Match[str]) -> str:
        jid = resolve(match[1])
        if jid is None:
            return str(match[1])
        mentions.append(jid)
        return "@" + jid.split("@")[0]

    text = _PILL.sub(pill, html).replace("<b>", "*").replace("</b>", "*")
    return WhatsAppText(re.sub(r"<[^>]+>", "", text), mentions)
