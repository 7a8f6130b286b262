"""Matrix messages the homeserver accepted but never pushed: found in the room, reported failed.

Synapse's appservice recoverer, resending to a bridge that was unreachable, marks the bridge
up once it finds no unsent transaction. A transaction created between that last look and the
mark (its sender saw the bridge down and left it to the recoverer) stays unsent, with its
events, until some later failure. This happens where a recovery ends: after the bridge starts,
or after the homeserver comes back from an outage. So after each, the bridge reads its recently
active portal rooms back to that moment, and reports every message of a bridge user that no
transaction brought as not bridged: sending it now would put it on WhatsApp after newer ones.
If the homeserver pushes it after all, it is dropped (its sender has been told). The same look
finds what Synapse dropped from its in-memory appservice queue when it stopped. Encrypted
messages are not looked for: their type is hidden.

Only events older than the newest one a transaction brought are looked at: the homeserver pushes
in order, so anything before that was pushed or stranded, while anything after it may simply be
queued behind a long backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mautrix.api import Method, Path
from mautrix.types import EventID, RoomID, UserID

from .session import SendFailed

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge
    from .portal import Portal
    from .user import User

log = logging.getLogger("mau.matrix.catchup")

SWEEP_AFTER = (20.0, 90.0, 300.0)
"""Seconds after a recovery began at which the rooms are read (a recovery takes a while)."""
STILL_COMING_MS = 10_000
"""An event younger than this may still be on its way in a transaction: left to a later sweep."""
OUTAGE_MARGIN_MS = 5_000
"""How far before a noticed outage to look (Synapse also drops what it queued just before)."""
PAGE = 100
MAX_PAGES = 5
REMEMBERED = 100_000
ACTIVE_ROOMS = 10_000
SWEPT_TYPES = frozenset({"m.room.message", "m.sticker"})


class NeverDelivered(SendFailed):
    """The homeserver accepted the message but never passed it to the bridge."""

    def __init__(self) -> None:
        super().__init__("the homeserver did not pass it to the bridge in time; send it again")


def _now_ms() -> int:
    return int(time.time() * 1000)


class MissedEventSweep:
    """Remembers what transactions brought, and reads rooms for what they did not."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        self.bridge = bridge
        self._arrived: OrderedDict[str, None] = OrderedDict()
        self._reported: OrderedDict[str, None] = OrderedDict()
        self._active_rooms: OrderedDict[RoomID, int] = OrderedDict()
        self._outage_since: int | None = None
        self._pushed_up_to = 0
        """The newest ``origin_server_ts`` a transaction brought."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.sweeps_scheduled = 0

    # ---- what the bridge tells us -------------------------------------------------------

    def arrived(self, events: list[Any]) -> list[Any]:
        """Note a transaction's events; returns them without those already reported missed."""
        fresh = []
        for event in events:
            event_id = event.get("event_id") if isinstance(event, dict) else None
            if isinstance(event_id, str):
                if event_id in self._reported:
                    log.info("Dropping %s: reported as not bridged before it arrived", event_id)
                    continue
                _remember(self._arrived, event_id, REMEMBERED)
                timestamp = event.get("origin_server_ts")
                if isinstance(timestamp, int):
                    self._pushed_up_to = max(self._pushed_up_to, timestamp)
                room_id = event.get("room_id")
                if isinstance(room_id, str):
                    self.room_active(RoomID(room_id))
            fresh.append(event)
        return fresh

    def room_active(self, room_id: RoomID) -> None:
        self._active_rooms[room_id] = _now_ms()
        self._active_rooms.move_to_end(room_id)
        while len(self._active_rooms) > ACTIVE_ROOMS:
            self._active_rooms.popitem(last=False)

    def started(self, since_ms: int) -> None:
        """The bridge started at ``since_ms``: the homeserver is resending what it kept."""
        self._schedule(since_ms)

    def homeserver_failed(self) -> None:
        if self._outage_since is None:
            self._outage_since = _now_ms()

    def homeserver_answered(self) -> None:
        if self._outage_since is not None:
            since, self._outage_since = self._outage_since, None
            log.info("The homeserver answers again: looking for messages it did not pass on")
            self._schedule(since - OUTAGE_MARGIN_MS)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- the sweep ------------------------------------------------------------------------

    def _schedule(self, since_ms: int) -> None:
        self.sweeps_scheduled += 1
        task = asyncio.create_task(self._sweeps(since_ms))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweeps(self, since_ms: int) -> None:
        waited = 0.0
        for delay in SWEEP_AFTER:
            await asyncio.sleep(delay - waited)
            waited = delay
            try:
                await self.sweep(since_ms, self.settled_until())
            except Exception:
                log.exception("Looking for messages the homeserver did not pass on failed")

    def settled_until(self) -> int:
        """Events before this are pushed or stranded, not on their way."""
        return min(_now_ms() - STILL_COMING_MS, self._pushed_up_to)

    async def sweep(self, since_ms: int, until_ms: int) -> int:
        """Report the missed messages sent in ``[since_ms, until_ms)``; returns how many."""
        rooms = [room for room, last in self._active_rooms.items() if last >= since_ms]
        if not rooms:
            return 0
        being_handled = {
            str(e.get("event_id")) for e in await self.bridge.tables.pending_matrix.all()
        }
        missed = 0
        for room_id in rooms:
            portal = await self.bridge.get_portal(room_id)
            if portal is not None:
                missed += await self._sweep_room(
                    portal, room_id, since_ms, until_ms, being_handled
                )
        return missed

    async def _sweep_room(
        self, portal: Portal, room_id: RoomID, since: int, until: int, being_handled: set[str]
    ) -> int:
        users: dict[UserID, User] = {}
        for user_id in await portal.main_intent.get_joined_members(room_id):
            user = await self._bridge_user(user_id)
            if user is not None:
                users[user_id] = user
        if not users:
            return 0
        events = await self._read_back(portal, room_id, list(users), since)
        missed = 0
        for event in reversed(events):  # oldest first
            if not since <= event.get("origin_server_ts", 0) < until:
                continue
            event_id = EventID(str(event.get("event_id")))
            user = users.get(event.get("sender"))
            if user is None or event_id in being_handled:
                continue
            if await self._was_handled(event_id, room_id):
                continue
            log.warning("%s in %s never reached the bridge: reporting it", event_id, room_id)
            _remember(self._reported, event_id, REMEMBERED)
            missed += 1
            portal.queue.submit(_report_job(portal, user, event_id))
        return missed

    async def _read_back(
        self, portal: Portal, room_id: RoomID, senders: list[UserID], since: int
    ) -> list[Any]:
        """The senders' messages in the room, newest first, back to ``since``.

        Since the bridge started (or the outage began), every event the homeserver pushed came
        to this process, so what arrived is all there is to compare with."""
        events: list[Any] = []
        only = {"types": sorted(SWEPT_TYPES), "senders": senders, "lazy_load_members": True}
        query = {"dir": "b", "limit": str(PAGE), "filter": json.dumps(only)}
        for _ in range(MAX_PAGES):
            data = await portal.main_intent.api.request(
                Method.GET, Path.v3.rooms[room_id].messages, query_params=query
            )
            chunk = data.get("chunk") or []
            events.extend(e for e in chunk if isinstance(e, dict))
            end = data.get("end")
            if not chunk or not end or chunk[-1].get("origin_server_ts", 0) < since:
                break
            query["from"] = str(end)
        return events

    async def _was_handled(self, event_id: EventID, room_id: RoomID) -> bool:
        if event_id in self._arrived or event_id in self._reported:
            return True
        messages = self.bridge.tables.messages
        return await messages.get_by_mxid(event_id, room_id) is not None

    async def _bridge_user(self, sender: UserID) -> User | None:
        if sender == self.bridge.az.bot_mxid or self.bridge.is_bridge_ghost(sender):
            return None
        return await self.bridge.get_user(sender, create=False)


def _report_job(portal: Portal, user: User, event_id: EventID) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        from .portal.status import report_failure  # the portal package imports us

        await report_failure(portal, user, event_id, NeverDelivered())

    return job


def _remember(seen: OrderedDict[Any, None], key: Any, limit: int) -> None:
    seen[key] = None
    seen.move_to_end(key)
    while len(seen) > limit:
        seen.popitem(last=False)
