"""Per user: take in history chunks, and ``history_sync.dispatch_wait`` after the last one
create the portals of the most recent chats and fill them.

The timer restarts with every chunk, and does not run out while a chunk the phone announced is
still being fetched or read. At dispatch the chats are chosen (most recent first, at
most ``max_initial_conversations``, -1 all; none silent longer than ``max_age_days``) and the
choice is stored, so a bridge killed in the middle resumes with the same chats when it
reconnects; a chat already filled (or filled meanwhile because a message made its portal) is
not filled twice, and a message already bridged is skipped by the live path's dedup. Each
chat's filling runs as a job in its portal's queue, so its live messages wait behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..db.history import HistoryConversationRow, HistoryTable
from ..portal.jids import portal_key
from ..session import HistoryChunk, HistoryFailed
from .backfill import fill_portal
from .history_store import store_chunk
from .media_requests import MediaRequests
from .progress import ProgressNotice
from .space import PersonalSpace

if TYPE_CHECKING:
    from ..portal.portal import Portal
    from ..user import User

PORTALS_AT_ONCE = 3
"""Chats filled at the same time after login."""

FAILED_CHUNK_NOTICE = (
    "Part of your WhatsApp history could not be read ({kind} chunk {order}: {reason}). "
    "The rest of the history is still bridged."
)


class UserBackfill:
    """One user's history sync and backfill state (``user.backfill``)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.space = PersonalSpace(user)
        self.last_filled: dict[str, int] = {}
        """Messages backfilled when a chat's room was made (read by the job that made it)."""
        self._timer: asyncio.Task[None] | None = None
        self._dispatching: asyncio.Task[None] | None = None
        self.media = MediaRequests(user)  # ---- media requests ----

    @property
    def _table(self) -> HistoryTable:
        return self.user.bridge.tables.history

    # ---- events ------------------------------------------------------------------------

    async def handle(self, event: HistoryChunk | HistoryFailed) -> None:
        if isinstance(event, HistoryFailed):
            self.user.log.warning("History chunk failed: %s", event.reason)
            await self.user.send_notice(
                FAILED_CHUNK_NOTICE.format(
                    kind=event.sync_type, order=event.chunk_order, reason=event.reason
                )
            )
            return
        await self._take_chunk(event)

    async def _take_chunk(self, chunk: HistoryChunk) -> None:
        table = self._table
        mxid = self.user.mxid
        progress = await table.get_progress(mxid)
        if chunk.sync_type == "INITIAL_BOOTSTRAP" and progress.dispatched_at:
            progress.dispatched_at = 0  # a new login's history
        count = await store_chunk(table, mxid, chunk)
        progress.chunks += 1
        progress.last_chunk_at = int(time.time())
        await table.put_progress(progress)
        self.user.log.debug(
            "Stored history chunk %s #%d: %d chats, %d messages",
            chunk.sync_type,
            chunk.chunk_order,
            len(chunk.chats),
            count,
        )
        if chunk.on_demand:
            return  # asked for by a portal, which fills itself
        if self.user.bridge.config.history_sync.backfill and not progress.dispatched_at:
            self._arm()

    def _arm(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = asyncio.create_task(self._wait_then_dispatch())

    async def _wait_then_dispatch(self) -> None:
        """``dispatch_wait`` after the last chunk, and not while a further chunk is still
        being fetched or read: its handling re-arms the timer (this task is cancelled)."""
        await asyncio.sleep(self.user.bridge.config.history_sync.dispatch_wait)
        if self.user.session is not None:
            await self.user.session.history_idle()
        self._timer = None
        await self._run(self.dispatch())

    async def _run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run dispatch work as its own task (a new chunk's timer must not cancel it)."""
        task = asyncio.create_task(work)
        self._dispatching = task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            pass
        except Exception:
            self.user.log.exception("Creating portals from the history failed")

    async def resume(self) -> None:
        """On (re)connect: go on where a stopped bridge left off."""
        await self.media.resume()  # ---- media requests ----
        if not self.user.bridge.config.history_sync.backfill:
            return
        if self._dispatching is not None and not self._dispatching.done():
            return
        if self._timer is not None and not self._timer.done():
            return
        progress = await self._table.get_progress(self.user.mxid)
        if progress.dispatched_at:
            pending = await self._table.chosen_pending(self.user.mxid)
            if pending:
                self._dispatching = asyncio.create_task(self._fill(pending))
        elif progress.chunks:
            self._arm()

    def stop(self) -> None:
        for task in (self._timer, self._dispatching):
            if task is not None and not task.done():
                task.cancel()
        self.media.stop()  # ---- media requests ----

    # ---- dispatch ----------------------------------------------------------------------

    def choose(self, pending: list[HistoryConversationRow]) -> list[HistoryConversationRow]:
        """The chats that get a portal now: most recent first, within the limits."""
        config = self.user.bridge.config
        max_age = config.history_max_age_days
        if max_age:
            oldest = time.time() - max_age * 86400
            pending = [c for c in pending if c.last_message_at >= oldest]
        limit = config.history_sync.max_initial_conversations
        return pending if limit < 0 else pending[:limit]

    async def dispatch(self) -> None:
        mxid = self.user.mxid
        chosen = self.choose(await self._table.pending_conversations(mxid))
        await self._table.choose(mxid, [c.chat_jid for c in chosen])
        progress = await self._table.get_progress(mxid)
        progress.dispatched_at = int(time.time())
        await self._table.put_progress(progress)
        self.user.log.info("Creating portals for %d chats from the history", len(chosen))
        await self._fill(chosen)

    async def _fill(self, chats: list[HistoryConversationRow]) -> None:
        own = self.user.wa_jid
        if own is None or not chats:
            return
        try:
            await self.space.room()
        except Exception:
            self.user.log.warning("Failed to make the personal space", exc_info=True)
        notice = ProgressNotice(self.user, len(chats))
        await notice.start()
        metrics.backfill_queued(len(chats))
        # A few portals fill at once (each in its own queue, so each room's order holds): the
        # bridge's work on one message overlaps the homeserver's on another's. They start most
        # recent first.
        slots = asyncio.Semaphore(PORTALS_AT_ONCE)

        async def fill_one(conv: HistoryConversationRow) -> None:
            try:
                sent, error = await self._fill_chat(conv, own)
                metrics.backfill_done()
                await notice.chat_done(sent, error)
            finally:
                slots.release()

        tasks: list[asyncio.Task[None]] = []
        try:
            for conv in chats:
                await slots.acquire()  # the next chat starts once a slot is free
                tasks.append(asyncio.create_task(fill_one(conv)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        await notice.finish()

    async def _fill_chat(self, conv: HistoryConversationRow, own: str) -> tuple[int, str | None]:
        """Fill one chosen chat's portal in its queue: (messages sent, error or None)."""
        jid, receiver = portal_key(conv.chat_jid, own)
        portal = await self.user.bridge.portals.get_by_jid(jid, receiver)
        if portal is None:
            return 0, f"{conv.name or conv.chat_jid}: no portal"
        result: list[int] = []

        async def job(portal: Portal = portal) -> None:
            result.append(await fill_portal(portal, self.user))

        try:
            await portal.queue.run(job)
        except Exception as e:
            self.user.log.exception("Filling %s failed", conv.chat_jid)
            return 0, f"{conv.name or conv.chat_jid}: {e}"
        return (result[0] if result else 0), None
