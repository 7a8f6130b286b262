"""Shared helpers of the client tests against the simulator (no tests of its own)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from typing import Any, TypeVar

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.client import Client, ConnectionTiming
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.keepalive import KeepAliveTiming
from mautrix_whatsapp.whatsapp.store import MemoryDeviceStore
from tests.simulator_fixture import SimulatorInfo
from tests.simulator_fixture import admin as simulator_admin

E = TypeVar("E")

FAST = ConnectionTiming(
    keepalive=KeepAliveTiming(interval_min=5, interval_max=6, response_deadline=2),
    reconnect_step=0.05,
    reconnect_max=0.2,
    iq_timeout=10,
)


class EventLog:
    """Collects a client's events; tests wait for the ones they expect."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event: object) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type[E], timeout: float = 15.0, count: int = 1) -> E:
        """The ``count``-th event of ``kind`` (waiting for it if needed)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.of(kind)) >= count)
        return self.of(kind)[count - 1]

    async def assert_none_within(self, window: float, *kinds: type) -> None:
        """Fail as soon as an event of ``kinds`` arrives, else return after ``window`` seconds.

        How a test says "this does not happen": e.g. no second ``Connected`` within the longest
        reconnect delay plus the time a reconnect takes."""

        def count() -> int:
            return sum(isinstance(e, kinds) for e in self.events)

        before = count()
        try:
            async with asyncio.timeout(window), self._changed:
                await self._changed.wait_for(lambda: count() > before)
        except TimeoutError:
            return
        arrived = [e for e in self.events if isinstance(e, kinds)][before:]
        raise AssertionError(f"unexpected events: {arrived}")


def make_client(
    info: SimulatorInfo,
    device: DeviceIdentity | None = None,
    store: MemoryDeviceStore | None = None,
    timing: ConnectionTiming = FAST,
    **kwargs: Any,
) -> tuple[Client, MemoryDeviceStore, EventLog]:
    device = device or DeviceIdentity.generate()
    store = store or MemoryDeviceStore()
    client = Client(
        device,
        store,
        root_public_key=info.root_public_key,
        timing=timing,
        **{"url": info.websocket_url, **kwargs},
    )
    log = EventLog()
    client.add_event_handler(log)
    return client, store, log


def offline_client(
    device: DeviceIdentity | None = None,
) -> tuple[Client, MemoryDeviceStore, EventLog, list[Node]]:
    """A client with no socket, for stanzas fed straight to it: what it sends is collected."""
    store = MemoryDeviceStore()
    client = Client(device or DeviceIdentity.generate(), store)
    log = EventLog()
    client.add_event_handler(log)
    sent: list[Node] = []

    async def send_node(node: Node) -> None:
        sent.append(node)

    client.send_node = send_node  # type: ignore[method-assign]
    return client, store, log, sent


async def admin(
    info: SimulatorInfo,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: str | None = None,
    expect: Collection[int] | None = None,
) -> tuple[int, Any]:
    """:func:`tests.simulator_fixture.admin` with a JSON ``body`` (or the ``raw`` text)."""
    data = raw if raw is not None else json.dumps(body) if body else None
    return await simulator_admin(info, method, path, data, expect=expect)


async def link_by_qr(info: SimulatorInfo, client: Client, log: EventLog) -> dict[str, Any]:
    """Connect an unpaired client, scan its first QR, and wait until it is logged in."""
    from mautrix_whatsapp.whatsapp.events import Connected, QRCode

    await client.connect()
    qr = await log.wait_for(QRCode)
    status, result = await admin(info, "POST", "/mock-phone/scan-qr", raw=qr.code)
    assert status == 200, result
    await log.wait_for(Connected)
    return dict(result)


async def no_leaked_tasks(before: set[asyncio.Task[Any]], timeout: float = 5.0) -> None:
    """Wait until only the tasks of ``before`` (and the current one) are left; else fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        extra = asyncio.all_tasks() - before - {asyncio.current_task()}
        if not extra:
            return
        if loop.time() > deadline:
            raise AssertionError(f"leaked tasks: {[t.get_coro() for t in extra]}")
        await asyncio.sleep(0.02)
