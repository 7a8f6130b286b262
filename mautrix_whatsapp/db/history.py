"""The stored history sync (v12): chats, their past messages until bridged, and progress."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.util.async_db import Connection, Database


@dataclass
class HistoryConversationRow:
    user_mxid: str
    chat_jid: str
    name: str = ""
    last_message_at: int = 0
    """Unix seconds of the chat's newest message."""
    unread_count: int = 0
    marked_unread: bool = False
    archived: bool = False
    pinned_at: int = 0
    mute_end: int = 0
    """0: not muted, -1: for ever, else unix seconds."""
    chosen: bool = False
    backfilled: bool = False

    @classmethod
    def from_row(cls, row: Any) -> HistoryConversationRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass
class HistoryMessageRow:
    user_mxid: str
    chat_jid: str
    sender: str
    id: str
    timestamp: int
    """Unix milliseconds."""
    from_me: bool
    push_name: str
    view_once: bool
    reaction_to: str
    content: bytes
    """The serialized, unwrapped ``Message`` (what a live delivery hands the bridge)."""
    web_message_info: bytes | None

    @classmethod
    def from_row(cls, row: Any) -> HistoryMessageRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass
class HistoryProgressRow:
    user_mxid: str
    chunks: int = 0
    last_chunk_at: int = 0
    dispatched_at: int = 0
    notice_room: str | None = None
    notice_event: str | None = None
    space_room: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> HistoryProgressRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_CONV = ", ".join(f.name for f in fields(HistoryConversationRow))
_MSG = ", ".join(f.name for f in fields(HistoryMessageRow))
_MSG_PH = ", ".join(f"${i}" for i in range(1, len(fields(HistoryMessageRow)) + 1))
_PROG = ", ".join(f.name for f in fields(HistoryProgressRow))
_PROG_PH = ", ".join(f"${i}" for i in range(1, len(fields(HistoryProgressRow)) + 1))


class HistoryTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- conversations ----

    async def put_conversation(self, row: HistoryConversationRow) -> None:
        """Insert or refresh a chat; a chat split over chunks keeps its newest time, and a
        chat already backfilled stays so."""
        await self.db.execute(
            """INSERT INTO history_conversation (user_mxid, chat_jid, name, last_message_at,
                   unread_count, marked_unread, archived, pinned_at, mute_end)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (user_mxid, chat_jid) DO UPDATE SET
                   name=CASE WHEN excluded.name <> '' THEN excluded.name
                             ELSE history_conversation.name END,
                   last_message_at=CASE
                       WHEN excluded.last_message_at > history_conversation.last_message_at
                       THEN excluded.last_message_at
                       ELSE history_conversation.last_message_at END,
                   unread_count=excluded.unread_count, marked_unread=excluded.marked_unread,
                   archived=excluded.archived, pinned_at=excluded.pinned_at,
                   mute_end=excluded.mute_end""",
            row.user_mxid,
            row.chat_jid,
            row.name,
            row.last_message_at,
            row.unread_count,
            row.marked_unread,
            row.archived,
            row.pinned_at,
            row.mute_end,
        )

    async def get_conversation(self, user: str, chat: str) -> HistoryConversationRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_CONV} FROM history_conversation WHERE user_mxid=$1 AND chat_jid=$2",
            user,
            chat,
        )
        return HistoryConversationRow.from_row(row) if row else None

    async def pending_conversations(self, user: str) -> list[HistoryConversationRow]:
        """Chats not yet backfilled, most recent first."""
        rows = await self.db.fetch(
            f"""SELECT {_CONV} FROM history_conversation WHERE user_mxid=$1 AND NOT backfilled
               ORDER BY last_message_at DESC, chat_jid""",
            user,
        )
        return [HistoryConversationRow.from_row(r) for r in rows]

    async def choose(self, user: str, chats: list[str]) -> None:
        """Remember which chats get a portal at login (a restart resumes with them)."""
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            for chat in chats:
                await conn.execute(
                    """UPDATE history_conversation SET chosen=true
                       WHERE user_mxid=$1 AND chat_jid=$2""",
                    user,
                    chat,
                )

    async def chosen_pending(self, user: str) -> list[HistoryConversationRow]:
        """Chats chosen at login whose portal is not filled yet, most recent first."""
        rows = await self.db.fetch(
            f"""SELECT {_CONV} FROM history_conversation
               WHERE user_mxid=$1 AND chosen AND NOT backfilled
               ORDER BY last_message_at DESC, chat_jid""",
            user,
        )
        return [HistoryConversationRow.from_row(r) for r in rows]

    async def mark_backfilled(self, user: str, chat: str) -> None:
        """The chat's portal holds its history: its stored messages go."""
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE history_conversation SET backfilled=true
                   WHERE user_mxid=$1 AND chat_jid=$2""",
                user,
                chat,
            )
            await conn.execute(
                "DELETE FROM history_message WHERE user_mxid=$1 AND chat_jid=$2", user, chat
            )

    async def reset_conversation(self, user: str, chat: str) -> None:
        """A deleted portal: its chat may be backfilled again."""
        await self.db.execute(
            """UPDATE history_conversation SET backfilled=false
               WHERE user_mxid=$1 AND chat_jid=$2""",
            user,
            chat,
        )

    # ---- messages ----

    async def put_messages(self, rows: list[HistoryMessageRow]) -> None:
        if not rows:
            return
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            for row in rows:
                await conn.execute(
                    f"""INSERT INTO history_message ({_MSG}) VALUES ({_MSG_PH})
                       ON CONFLICT (user_mxid, chat_jid, sender, id) DO NOTHING""",
                    *row.values(),
                )

    async def last_messages(self, user: str, chat: str, count: int) -> list[HistoryMessageRow]:
        """The chat's newest ``count`` messages (reactions not counted), oldest first, then
        the reactions to them, oldest first."""
        rows = await self.db.fetch(
            f"""SELECT {_MSG} FROM history_message
               WHERE user_mxid=$1 AND chat_jid=$2 AND reaction_to=''
               ORDER BY timestamp DESC, id DESC LIMIT $3""",
            user,
            chat,
            count,
        )
        messages = [HistoryMessageRow.from_row(r) for r in reversed(rows)]
        ids = {m.id for m in messages}
        reaction_rows = await self.db.fetch(
            f"""SELECT {_MSG} FROM history_message
               WHERE user_mxid=$1 AND chat_jid=$2 AND reaction_to<>''
               ORDER BY timestamp, id""",
            user,
            chat,
        )
        reactions = [HistoryMessageRow.from_row(r) for r in reaction_rows]
        return messages + [r for r in reactions if r.reaction_to in ids]

    async def count_messages(self, user: str, chat: str) -> int:
        value = await self.db.fetchval(
            "SELECT COUNT(*) FROM history_message WHERE user_mxid=$1 AND chat_jid=$2",
            user,
            chat,
        )
        return int(value or 0)

    # ---- progress ----

    async def get_progress(self, user: str) -> HistoryProgressRow:
        row = await self.db.fetchrow(
            f"SELECT {_PROG} FROM history_progress WHERE user_mxid=$1", user
        )
        return HistoryProgressRow.from_row(row) if row else HistoryProgressRow(user)

    async def put_progress(self, row: HistoryProgressRow) -> None:
        await self.db.execute(
            f"""INSERT INTO history_progress ({_PROG}) VALUES ({_PROG_PH})
               ON CONFLICT (user_mxid) DO UPDATE SET chunks=excluded.chunks,
                   last_chunk_at=excluded.last_chunk_at, dispatched_at=excluded.dispatched_at,
                   notice_room=excluded.notice_room, notice_event=excluded.notice_event,
                   space_room=excluded.space_room""",
            *row.values(),
        )
