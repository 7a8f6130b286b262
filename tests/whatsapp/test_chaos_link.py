"""Chaos: the connection drops at a random point (handshake, pairing, login, after success), 50
times; the client must end linked and logged in every time, leaving no asyncio task behind.

A websocket relay sits between the client and the simulator and cuts both sides after the k-th
websocket message of the attempt (k random, counted over every connection of the attempt); when
k is never reached, it cuts right after the client reports Connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mautrix_whatsapp.whatsapp.client import Client, ConnectionTiming
from mautrix_whatsapp.whatsapp.events import (
    Connected,
    Disconnected,
    KeepAliveTimeout,
    QRCode,
)
from mautrix_whatsapp.whatsapp.keepalive import KeepAliveTiming
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, make_client, no_leaked_tasks

pytestmark = pytest.mark.timeout(300)
ROUNDS = 50
MAX_DROP_AT = 30
"""A full link takes about this many websocket messages (both connections, both ways)."""


@dataclass
class Relay:
    """Forwards websocket messages to the simulator; cuts the connection on the k-th one."""

    upstream: str
    drop_at: int = 0
    count: int = 0
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    on_drop: Callable[[], None] = lambda: None
    live: set[web.WebSocketResponse] = field(default_factory=set)
    stalled: set[web.WebSocketResponse] = field(default_factory=set)
    """Connections whose messages are swallowed (a connection that silently died)."""

    def stall(self) -> None:
        self.stalled |= self.live

    def reset(self, drop_at: int, on_drop: Callable[[], None]) -> None:
        self.drop_at, self.count, self.on_drop = drop_at, 0, on_drop
        self.dropped = asyncio.Event()

    async def cut(self) -> None:
        if not self.dropped.is_set():
            self.dropped.set()
            self.on_drop()
        for ws in list(self.live):
            await ws.close()

    async def _tick(self) -> bool:
        """Count a message; True if the relay must cut now."""
        self.count += 1
        return not self.dropped.is_set() and self.count >= self.drop_at

    async def handle(self, request: web.Request) -> web.StreamResponse:
        client_ws = web.WebSocketResponse(max_msg_size=0)
        await client_ws.prepare(request)
        self.live.add(client_ws)
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(self.upstream, origin="https://web.whatsapp.com") as server_ws,
            ):

                async def pump(source: Any, sink: Any, stop: asyncio.Event) -> None:
                    async for message in source:
                        if message.type != aiohttp.WSMsgType.BINARY:
                            break
                        if client_ws in self.stalled:
                            continue
                        if await self._tick():
                            await self.cut()
                            break
                        await sink.send_bytes(message.data)
                    stop.set()

                stop = asyncio.Event()
                tasks = [
                    asyncio.create_task(pump(client_ws, server_ws, stop)),
                    asyncio.create_task(pump(server_ws, client_ws, stop)),
                ]
                await stop.wait()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await server_ws.close()
        finally:
            self.live.discard(client_ws)
            await client_ws.close()
        return client_ws


@contextlib.asynccontextmanager
async def run_relay(info: SimulatorInfo) -> AsyncIterator[tuple[Relay, str]]:
    relay = Relay(info.websocket_url)
    app = web.Application()
    app.router.add_get("/ws/chat", relay.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield relay, f"ws://127.0.0.1:{port}/ws/chat"
    finally:
        await runner.cleanup()


async def test_chaos_link(simulator: SimulatorInfo) -> None:  # noqa: F811
    rng = random.Random(4242)
    async with run_relay(simulator) as (relay, url):
        before = asyncio.all_tasks()
        phases: list[str] = []
        for round_no in range(ROUNDS):
            client, store, log = make_client(simulator, url=url, initial_auto_reconnect=True)
            connected_at_drop: list[int] = []
            relay.reset(
                rng.randint(1, MAX_DROP_AT),
                DropRecorder(client, log, relay, connected_at_drop, phases),
            )

            scans: set[asyncio.Task[Any]] = set()

            async def scan(event: object, scans: set[asyncio.Task[Any]] = scans) -> None:
                if isinstance(event, QRCode) and event.index == 0:
                    # Best effort: the ref may die with a cut connection; a new one follows.
                    scans.add(
                        asyncio.get_running_loop().create_task(
                            admin(simulator, "POST", "/mock-phone/scan-qr", raw=event.code)
                        )
                    )

            client.add_event_handler(scan)
            await client.connect()
            async with asyncio.timeout(30):
                while not relay.dropped.is_set():
                    if client.is_logged_in and log.of(Connected):
                        await relay.cut()  # k was never reached: cut after success
                        break
                    await asyncio.sleep(0.01)
                await log.wait_for(Connected, count=connected_at_drop[0] + 1)
            assert client.is_logged_in, f"round {round_no}: not logged in"
            stored = await store.load_device()
            assert stored is not None and stored.jid == client.device.jid
            await client.disconnect()
            assert not client._conn_tasks and not client._other_tasks, round_no
            # The test's own scan requests end by themselves (answered, or refused as stale).
            await asyncio.gather(*scans, return_exceptions=True)
            await no_leaked_tasks(before)
        await no_leaked_tasks(before)
    # The random cuts hit every phase of the connection's life.
    assert len(phases) == ROUNDS
    assert {"handshake", "pairing", "paired", "logged-in"} <= set(phases), phases


@dataclass
class DropRecorder:
    """Notes, at the cut, how far the client had got."""

    client: Client
    log: EventLog
    relay: Relay
    connected_at_drop: list[int]
    phases: list[str]

    def __call__(self) -> None:
        self.connected_at_drop.append(len(self.log.of(Connected)))
        if self.relay.count <= 3:
            phase = "handshake"
        elif self.client.is_logged_in:
            phase = "logged-in"
        elif self.client.device.is_paired:
            phase = "paired"
        else:
            phase = "pairing"
        self.phases.append(phase)


async def test_keepalive_failure_reconnects(simulator: SimulatorInfo) -> None:  # noqa: F811
    """Pings into a silent connection time out; after max_fail_time the client reconnects."""
    timing = ConnectionTiming(
        keepalive=KeepAliveTiming(
            interval_min=0.05, interval_max=0.1, response_deadline=0.1, max_fail_time=0.4
        ),
        reconnect_step=0.05,
    )
    async with run_relay(simulator) as (relay, url):
        client, _, log = make_client(simulator, url=url, timing=timing)
        relay.reset(10**9, lambda: None)
        await client.connect()
        qr = await log.wait_for(QRCode)
        await admin(simulator, "POST", "/mock-phone/scan-qr", raw=qr.code)
        await log.wait_for(Connected)
        assert await client._ping(5.0)  # the simulator answers pings (no timing race)
        relay.stall()
        first = await log.wait_for(KeepAliveTimeout)
        assert first.error_count == 1
        await log.wait_for(Connected, count=2, timeout=10)
        assert log.of(Disconnected) and len(log.of(KeepAliveTimeout)) >= 2
        await client.disconnect()
