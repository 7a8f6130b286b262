"""The progress of portal creation after login, as one notice in the management room that is
edited as it goes ("Creating portals: 12 of 40 chats, 380 messages") and ends with a summary
listing the chats that failed. Edits are spaced (``EDIT_EVERY``) so a long backfill doesn't
flood the room; the summary is always sent."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mautrix.types import EventID, MessageType, TextMessageEventContent

if TYPE_CHECKING:
    from ..user import User

EDIT_EVERY = 5.0
"""Seconds between two edits of the progress notice."""


class ProgressNotice:
    def __init__(self, user: User, total: int) -> None:
        self.user = user
        self.total = total
        self.chats = 0
        self.messages = 0
        self.errors: list[str] = []
        self.event_id: EventID | None = None
        self._last_edit = 0.0

    def text(self) -> str:
        return f"Creating portals: {self.chats} of {self.total} chats, {self.messages} messages"

    async def start(self) -> None:
        self.event_id = await self.user.send_notice(self.text())
        self._last_edit = time.monotonic()

    async def chat_done(self, messages: int, error: str | None = None) -> None:
        self.chats += 1
        self.messages += messages
        if error is not None:
            self.errors.append(error)
        if time.monotonic() - self._last_edit >= EDIT_EVERY:
            await self._edit(self.text())

    async def finish(self) -> None:
        failed = len(self.errors)
        text = (
            f"Created portals for {self.chats - failed} of {self.total} chats, "
            f"{self.messages} messages backfilled."
        )
        if self.errors:
            lines = "\n".join(f"* {e}" for e in self.errors)
            text += f" {failed} failed:\n\n{lines}"
        await self._edit(text)

    async def _edit(self, text: str) -> None:
        self._last_edit = time.monotonic()
        room = self.user.row.management_room
        if self.event_id is None or not room:
            await self.user.send_notice(text)
            return
        content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
        content.set_edit(self.event_id)
        try:
            await self.user.az.intent.send_message(room, content)
        except Exception:
            self.user.log.warning("Failed to edit the backfill progress notice", exc_info=True)
