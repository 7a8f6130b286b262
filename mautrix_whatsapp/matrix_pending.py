"""Crash safety of Matrix events: kept in the database before the homeserver hears "200".

mautrix answers an appservice transaction at once and handles its events in background
tasks, so a crash used to lose every Matrix message still queued behind a portal's work,
although the homeserver considered it delivered and would never send it again. Now the
message events of portal rooms (from real users, not the bridge's own puppets) are written to
``pending_matrix_event`` first; a failure there answers the transaction with 503, and the
homeserver retries it (mautrix itself answers 200 whatever its handler raises). An event's
row goes once its handler returns; at start, what is left is handled again.

Exactly once towards WhatsApp: a re-run event already in the ``message`` table is dropped, and
one whose send had started (``attempted``) is reported as possibly not sent instead of being
sent again (see :mod:`.portal.send_once`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from mautrix.types import Event, EventID, MessageEvent, RoomID, UserID
from mautrix.util import background_task

from .matrix_catchup import MissedEventSweep
from .transaction_ids import NeverSeen, TransactionMemory
from .transient import retry_transient

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge

log = logging.getLogger("mau.matrix.pending")

KEPT_TYPES = frozenset({"m.room.message", "m.sticker"})
KEEP_RETRY_SECONDS = 30.0


@dataclass
class _Reply:
    """Whether the transaction being answered may be acknowledged."""

    unkept: bool = False


_reply: ContextVar[_Reply | None] = ContextVar("matrix_pending_reply", default=None)


@web.middleware
async def fail_unkept_transactions(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer 503 to a transaction whose events could not be kept, so it is sent again."""
    if request.method != "PUT" or "/transactions/" not in request.path:
        return await handler(request)
    reply = _Reply()
    token = _reply.set(reply)
    try:
        response = await handler(request)
    finally:
        _reply.reset(token)
    if reply.unkept:
        return web.json_response(
            {"errcode": "M_UNKNOWN", "error": "The bridge could not store the events"},
            status=503,
        )
    return response


class MatrixEventKeeper:
    """Keeps a transaction's message events until they are handled (one per bridge)."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        self.bridge = bridge
        self._pending: set[str] = set()
        self._resubmitted = asyncio.Event()
        self.missed = MissedEventSweep(bridge)
        """Finds the messages the homeserver accepted but never pushed."""

    def install(self) -> None:
        """Wrap the appservice's transaction handler (mautrix has no hook before the reply)."""
        az = self.bridge.az
        handle_transaction = az.handle_transaction
        az.transactions = NeverSeen()
        az.app.middlewares.append(fail_unkept_transactions)
        memory = TransactionMemory()

        async def keep_then_handle(txn_id: str, *, events: list[Any], **kwargs: Any) -> Any:
            digest = memory.digest(events, kwargs)
            if memory.is_repeat(txn_id, digest):
                return {}
            events = self.missed.arrived(events)
            try:
                await self._keep(events)
            except Exception:
                log.exception("Could not keep the events of transaction %s; refusing it", txn_id)
                reply = _reply.get()
                if reply is None:  # not called through the HTTP route: let the caller see it
                    raise
                reply.unkept = True
                return {}
            memory.remember(txn_id, digest)
            if not self._resubmitted.is_set():
                # What a previous run left goes first (a retried transaction may hold newer
                # ones). The reply does not wait for that: these events are kept, and Synapse
                # answers the bridge's start-up ping with 502 while its recoverer waits on a
                # transaction (it cancels a call that already ran), and mautrix gives up.
                background_task.create(
                    self._handle_later(handle_transaction, txn_id, events, kwargs)
                )
                return {}
            return await handle_transaction(txn_id, events=events, **kwargs)

        az.handle_transaction = keep_then_handle  # type: ignore[method-assign]

    async def _handle_later(
        self,
        handle_transaction: Callable[..., Awaitable[Any]],
        txn_id: str,
        events: list[Any],
        kwargs: dict[str, Any],
    ) -> None:
        await self._resubmitted.wait()  # waiters wake in arrival order: transactions keep theirs
        try:
            await handle_transaction(txn_id, events=events, **kwargs)
        except Exception:
            log.exception("Handling transaction %s after the start-up failed", txn_id)

    async def _keep(self, events: list[Any]) -> None:
        # A database restart: hold the reply a moment rather than fail the transaction (the
        # homeserver would retry, but after a backoff of its own).
        await retry_transient(
            lambda: self._keep_once(events), log, "Keeping Matrix events", KEEP_RETRY_SECONDS
        )

    async def _keep_once(self, events: list[Any]) -> None:
        kept = [event for event in events if await self._worth_keeping(event)]
        if kept:
            await self.bridge.tables.pending_matrix.insert_many(kept)
            self._pending.update(event["event_id"] for event in kept)

    async def _worth_keeping(self, event: Any) -> bool:
        if not isinstance(event, dict) or event.get("type") not in KEPT_TYPES:
            return False
        sender, room_id = event.get("sender"), event.get("room_id")
        if not isinstance(sender, str) or not isinstance(room_id, str):
            return False
        if not isinstance(event.get("event_id"), str):
            return False
        if sender == self.bridge.az.bot_mxid or self.bridge.is_bridge_ghost(UserID(sender)):
            return False
        return await self.bridge.get_portal(RoomID(room_id)) is not None

    async def done(self, event_id: EventID) -> None:
        """The event's handler returned (whatever the outcome): forget it."""
        if event_id in self._pending:
            self._pending.discard(event_id)
            await self.bridge.tables.pending_matrix.delete(event_id)

    async def resubmit_all(self) -> int:
        """Queue again, in their order, the events a previous run kept but did not finish.

        Straight into their portals' queues (each job sends, then forgets the row), not through
        mautrix's dispatch, whose background tasks could let a newer event overtake; new
        transactions are dispatched only once these are queued."""
        try:
            rows = await self.bridge.tables.pending_matrix.all()
            for raw in rows:
                await self._resubmit(raw)
            if rows:
                log.info("Re-queued %d Matrix events received before the last stop", len(rows))
            return len(rows)
        finally:
            self._resubmitted.set()

    async def _resubmit(self, raw: dict[str, Any]) -> None:
        event_id = EventID(str(raw.get("event_id", "")))
        try:
            event = Event.deserialize(raw)
            user = await self.bridge.get_user(UserID(raw["sender"]), create=False)
            portal = await self.bridge.get_portal(RoomID(raw["room_id"]))
        except Exception:
            log.exception("Dropping unreadable pending Matrix event %s", event_id)
            user = portal = None
        if user is None or portal is None or not isinstance(event, MessageEvent):
            await self.bridge.tables.pending_matrix.delete(event_id)
            return
        from .portal.from_matrix import handle_message as send_to_whatsapp  # imports us

        self._pending.add(event_id)
        content = event.content

        async def job() -> None:
            try:
                await send_to_whatsapp(portal, user, content, event_id)
            finally:
                await self.done(event_id)

        portal.queue.submit(job)
