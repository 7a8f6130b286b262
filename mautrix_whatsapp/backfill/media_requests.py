"""Per user: when and how many media requests of backfilled messages go to the phone.

A backfilled message whose file expired was bridged as a placeholder and its request stored
(v13, ``media_request``); this module decides when each stored request is handled
(:mod:`.media_fill` does the handling): with ``request_method: immediate`` as soon as it is
stored, with ``local_time`` at the next ``request_local_time`` minutes after local midnight
(the Go legacy bridge's options, to spare the phone's battery during the day). At most
``max_async_handle`` requests are handled at once. Requests still pending after a restart are
taken up again when the user's session connects.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..config import MediaRequestSettings
from ..db.media_request import DONE, PENDING, MediaRequestRow
from ..portal.jids import user_jid
from ..session import MessageReceived
from .media_fill import fill_media_request

if TYPE_CHECKING:
    from ..portal.portal import Portal
    from ..user import User

AUTO_REQUEST_OFF = "auto_request_media is off"


def next_local_run(now: datetime, minutes_after_midnight: int) -> datetime:
    """The first moment at or after ``now`` that is ``minutes_after_midnight`` past a
    midnight in ``now``'s time zone (today's if still ahead, else tomorrow's)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    run = midnight + timedelta(minutes=minutes_after_midnight)
    if run < now:
        run += timedelta(days=1)
    return run


def request_row(
    user: User, portal: Portal, message: MessageReceived, event_id: str, part: int, auto: bool
) -> MediaRequestRow:
    """The request for ``message``, bridged as placeholder ``event_id`` (already finished
    when requests are not sent automatically)."""
    return MediaRequestRow(
        user_mxid=user.mxid,
        chat_jid=portal.jid,
        receiver=portal.receiver,
        sender=user_jid(message.sender),
        message_id=message.id,
        part=part,
        mx_room=str(portal.mxid),
        event_id=event_id,
        timestamp=int(message.timestamp * 1000),
        from_me=message.is_from_me,
        is_group=message.is_group,
        content=message.message.SerializeToString(),
        status=PENDING if auto else DONE,
        error="" if auto else AUTO_REQUEST_OFF,
        created_at=int(time.time()),
    )


class MediaRequests:
    """One user's media requests (``user.backfill.media``)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self._limit: asyncio.Semaphore | None = None
        self._running: dict[tuple[str, str, str, str], asyncio.Task[None]] = {}
        self._timer: asyncio.Task[None] | None = None

    @property
    def settings(self) -> MediaRequestSettings:
        return self.user.bridge.config.media_requests

    @property
    def limit(self) -> asyncio.Semaphore:
        """At most ``max_async_handle`` requests in the phone's hands at once."""
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.settings.max_async_handle)
        return self._limit

    async def defer(
        self, portal: Portal, message: MessageReceived, event_id: str, part: int
    ) -> None:
        """Store the request for a placeholder just bridged, and schedule it."""
        auto = self.settings.auto_request_media
        row = request_row(self.user, portal, message, event_id, part, auto)
        await self.user.bridge.tables.media_requests.put(row)
        if auto:
            self._schedule([row])

    async def resume(self) -> None:
        """The session connected: schedule the requests still pending (after a restart, or
        those that found no connection)."""
        if not self.settings.auto_request_media:
            return
        rows = await self.user.bridge.tables.media_requests.pending(self.user.mxid)
        if rows:
            self.user.log.debug("%d media requests pending", len(rows))
            self._schedule(rows)

    def _schedule(self, rows: list[MediaRequestRow]) -> None:
        if self.settings.request_method == "immediate":
            for row in rows:
                self._start(row)
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._at_local_time())

    async def _at_local_time(self) -> None:
        """Wait for the next ``request_local_time``, then handle everything pending."""
        now = datetime.now().astimezone()
        run = next_local_run(now, self.settings.request_local_time)
        self.user.log.debug("Media requests scheduled for %s", run.isoformat())
        await self.wait((run - now).total_seconds())
        rows = await self.user.bridge.tables.media_requests.pending(self.user.mxid)
        for row in rows:
            self._start(row)

    async def wait(self, seconds: float) -> None:
        """The wait until the requests' time (its own method, for tests)."""
        await asyncio.sleep(seconds)

    def _start(self, row: MediaRequestRow) -> None:
        key = (row.chat_jid, row.receiver, row.sender, row.message_id)
        running = self._running.get(key)
        if running is not None and not running.done():
            return
        self._running[key] = asyncio.create_task(self._handle(key, row))

    async def _handle(self, key: tuple[str, str, str, str], row: MediaRequestRow) -> None:
        try:
            async with self.limit:
                await fill_media_request(self.user, row)
        except Exception:
            self.user.log.exception("Media request for %s failed", row.message_id)
        finally:
            self._running.pop(key, None)

    def in_flight(self) -> int:
        """Requests started and not finished (waiting for a slot, or in the phone's hands)."""
        return sum(1 for task in self._running.values() if not task.done())

    def stop(self) -> None:
        """Logout: cancel what is running (the requests stay pending in the database)."""
        for task in [*self._running.values(), self._timer]:
            if task is not None and not task.done():
                task.cancel()
        self._running.clear()
        self._timer = None
