"""Prometheus metrics: what the bridge counts, and the HTTP endpoint that serves them.

Every metric lives in the process-wide ``prometheus_client`` registry (where mautrix's own
``bridge_*`` metrics are too), behind a small typed API, so callers never build label values
by hand. No metric has a per-user label: the label values are small fixed sets (a login method,
a direction, a WhatsApp error code), whatever the number of users.

Served by :class:`MetricsServer` on its own port (``metrics.listen``) from the bridge's event
loop, when ``metrics.enabled`` is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

Direction = Literal["whatsapp_to_matrix", "matrix_to_whatsapp"]
MessageKind = Literal[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "poll",
    "reaction",
    "edit",
    "redaction",
    "other",
]
LoginMethod = Literal["qr", "phone"]
LoginResult = Literal["success", "timeout", "failed", "cancelled"]
RequestOutcome = Literal["ok", "error", "timeout", "disconnected"]
LagProbe = Callable[[], Coroutine[Any, Any, None]]

# Latency buckets (seconds) shared by both request histograms: LAN round trips to minutes.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

CONNECTED_USERS = Gauge(
    "whatsapp_connected_users", "Users whose WhatsApp connection is up (logged in and connected)"
)
LOGINS = Counter(
    "whatsapp_logins", "Login attempts by method and how they ended", ("method", "result")
)
MESSAGES_BRIDGED = Counter(
    "whatsapp_messages_bridged",
    "Messages bridged, by direction and kind",
    ("direction", "kind"),
)
WHATSAPP_EVENTS = Counter(
    "whatsapp_client_events",
    "Events the WhatsApp connections delivered to the bridge, by event type",
    ("type",),
)
FAILURES = Counter(
    "whatsapp_failures",
    "Failures by reason (bridge-state error codes such as wa-logged-out, login failures)",
    ("reason",),
)
WHATSAPP_REQUESTS = Histogram(
    "whatsapp_request_seconds",
    "WhatsApp IQ round trips, by namespace and outcome",
    ("xmlns", "outcome"),
    buckets=_LATENCY_BUCKETS,
)
MATRIX_REQUESTS = Histogram(
    "matrix_request_seconds",
    "Matrix homeserver requests, by API method and outcome",
    ("method", "outcome"),
    buckets=_LATENCY_BUCKETS,
)
BACKFILL_PENDING = Gauge(
    "whatsapp_backfill_pending_conversations",
    "Conversations queued for backfill and not yet done (all users)",
)
BACKFILL_DONE = Counter(
    "whatsapp_backfill_conversations_done", "Conversations whose backfill has finished"
)
EVENT_LOOP_LAG = Gauge(
    "bridge_event_loop_lag_seconds",
    "How late the last periodic probe task was scheduled (asyncio event loop lag)",
)

# ---- the typed API -----------------------------------------------------------------------


def message_bridged(direction: Direction, kind: MessageKind) -> None:
    """One message went across (the portal code calls this once it is delivered)."""
    MESSAGES_BRIDGED.labels(direction=direction, kind=kind).inc()


def login_finished(method: LoginMethod, result: LoginResult) -> None:
    LOGINS.labels(method=method, result=result).inc()
    if result in ("timeout", "failed"):
        failure(f"login-{result}")


def failure(reason: str) -> None:
    """Something went wrong; ``reason`` is a code from a small fixed set, never free text."""
    FAILURES.labels(reason=reason).inc()


def client_event(event_type: str) -> None:
    """The WhatsApp client delivered an event (``event_type`` is its class name)."""
    WHATSAPP_EVENTS.labels(type=event_type).inc()


def whatsapp_request(xmlns: str, outcome: RequestOutcome, seconds: float) -> None:
    WHATSAPP_REQUESTS.labels(xmlns=xmlns or "none", outcome=outcome).observe(seconds)


def matrix_request(method: str, outcome: Literal["ok", "error"], seconds: float) -> None:
    MATRIX_REQUESTS.labels(method=method, outcome=outcome).observe(seconds)


def backfill_queued(conversations: int = 1) -> None:
    BACKFILL_PENDING.inc(conversations)


def backfill_done(conversations: int = 1) -> None:
    BACKFILL_PENDING.dec(conversations)
    BACKFILL_DONE.inc(conversations)


class ConnectionTracker:
    """One user's contribution to ``whatsapp_connected_users`` (0 or 1, set idempotently)."""

    def __init__(self) -> None:
        self._connected = False

    def set(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            if connected:
                CONNECTED_USERS.inc()
            else:
                CONNECTED_USERS.dec()


# ---- Matrix request timing --------------------------------------------------------------


def install_matrix_request_timing() -> None:
    """Time every Matrix request (``HTTPAPI.request``; mautrix has no request hook of its own).

    The label is mautrix's ``metrics_method`` name (``sendMessageEvent``…), else the HTTP method:
    never the path, which holds room and user IDs. Installed once per process.
    """
    from mautrix.api import HTTPAPI

    original = HTTPAPI.request
    if getattr(original, "timed_by_bridge", False):
        return

    signature = inspect.signature(original)

    async def timed_request(self: HTTPAPI, method: Any, path: Any, *args: Any, **kw: Any) -> Any:
        # The appservice API passes metrics_method on positionally.
        given = signature.bind_partial(self, method, path, *args, **kw).arguments
        label = str(given.get("metrics_method") or getattr(method, "value", method))
        start = time.monotonic()
        try:
            result = await original(self, method, path, *args, **kw)
        except Exception:
            matrix_request(label, "error", time.monotonic() - start)
            raise
        matrix_request(label, "ok", time.monotonic() - start)
        return result

    timed_request.timed_by_bridge = True  # type: ignore[attr-defined]
    HTTPAPI.request = timed_request  # type: ignore[method-assign]


# ---- event loop lag ---------------------------------------------------------------------


async def measure_loop_lag(interval: float = 1.0) -> None:
    """Forever: sleep ``interval`` and record how much later than asked the loop woke us."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        EVENT_LOOP_LAG.set(max(0.0, loop.time() - start - interval))


# ---- the endpoint -----------------------------------------------------------------------


class MetricsServer:
    """``GET /metrics`` in the Prometheus text format, plus the event-loop lag probe task."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry = REGISTRY,
        log: logging.Logger | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.registry = registry
        self.log = log or logging.getLogger("mau.metrics")
        self._runner: web.AppRunner | None = None
        self._lag_task: asyncio.Task[None] | None = None

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self, lag_probe: LagProbe = measure_loop_lag) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self._lag_task = asyncio.create_task(lag_probe())
        self.log.info("Serving metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        task, self._lag_task = self._lag_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


# ---- faults ----

ASYNCIO_TASKS = Gauge(
    "bridge_asyncio_tasks",
    "asyncio tasks alive in the bridge's event loop (a steady count shows no task leaks)",
)


def _count_tasks() -> float:
    """Read at scrape time, on the loop's thread (the endpoint runs in the loop)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # scraped outside the loop (e.g. a test's own registry dump)
        return 0.0


ASYNCIO_TASKS.set_function(_count_tasks)
