"""Module-scoped fixtures for tests with Baileys peers: one simulator and named accounts per
test module, linked once (a link takes a second or two; CI runs many such tests).

Import the fixtures a module needs (``from tests.baileys_fixtures import alice, bob, sim``) and
mark its tests ``pytest.mark.asyncio(loop_scope="module")`` so they share the peers' event loop.
Tests sharing peers must not depend on events of another test: wait for what you caused (by
message id or text), as :meth:`BaileysPeer.wait_for` allows.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp.client import Client
from tests.baileys_peer import BaileysPeer
from tests.simulator_fixture import SimulatorInfo, run_simulator
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

ALICE = "15550001001"
BOB = "15550001002"
CAROL = "15550001003"


def _module_simulator(factory: pytest.TempPathFactory, *, tls: bool) -> Iterator[SimulatorInfo]:
    with run_simulator(factory.mktemp("simulator"), tls=tls) as info:
        yield info
        status = simulator_status(info)
        assert status["protocol_errors"] == [], status["protocol_errors"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    """One simulator for the module; at the end, no stanza of a client may have been refused
    as malformed (Baileys is the reference: a refusal is the simulator's mistake or ours)."""
    yield from _module_simulator(tmp_path_factory, tls=False)


@pytest.fixture(scope="module")
def sim_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    """The same over ``wss``/``https``, as Baileys needs for media: it always uploads and
    downloads at ``https://{media_conn hostname}`` (peers trust the CA through
    ``NODE_EXTRA_CA_CERTS``; our client through ``ca_file=sim_tls.ca_file``)."""
    yield from _module_simulator(tmp_path_factory, tls=True)


def simulator_status(info: SimulatorInfo) -> dict[str, Any]:
    """``GET /admin/status``, synchronously (module teardown may run outside the event loop)."""
    url = info.admin_url + "/status"
    with urllib.request.urlopen(url, timeout=5, context=info.ssl_context()) as reply:
        status: dict[str, Any] = json.load(reply)
    return status


async def _peer(
    sim: SimulatorInfo, factory: pytest.TempPathFactory, name: str, phone: str
) -> AsyncIterator[BaileysPeer]:
    auth = factory.mktemp(name.lower())
    async with BaileysPeer.start(sim, push_name=name, auth_dir=auth, phone=phone) as peer:
        yield peer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def alice(
    sim: SimulatorInfo, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys as Alice (+15550001001)."""
    async for peer in _peer(sim, tmp_path_factory, "Alice", ALICE):
        yield peer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bob(
    sim: SimulatorInfo, alice: BaileysPeer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys as Bob (+15550001002); linked after Alice (a scan links the latest default)."""
    async for peer in _peer(sim, tmp_path_factory, "Bob", BOB):
        yield peer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def carol(
    sim: SimulatorInfo, bob: BaileysPeer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys as Carol (+15550001003); linked after Bob."""
    async for peer in _peer(sim, tmp_path_factory, "Carol", CAROL):
        yield peer


async def linked_client(
    sim: SimulatorInfo,
    phone: str,
    push_name: str,
    *,
    before_link: Callable[[Client], None] | None = None,
) -> AsyncIterator[tuple[Client, EventLog]]:
    """Our client, linked by QR to a new account ``phone`` (made the default, so link it after
    the Baileys peers it talks to); disconnected at the end. ``before_link`` sees the client
    first (to tap events or stanzas from the very first one)."""
    status, body = await admin(
        sim, "POST", "/accounts", {"phone": phone, "push_name": push_name, "default": True}
    )
    assert status == 200, body
    client, _store, log = make_client(sim, ca_file=sim.ca_file)
    if before_link is not None:
        before_link(client)
    await link_by_qr(sim, client, log)
    try:
        yield client, log
    finally:
        await client.disconnect()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def peers_tls(
    sim_tls: SimulatorInfo, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[BaileysPeer, BaileysPeer]]:
    """Baileys as Alice (+15550001001) and Bob (+15550001002) on :func:`sim_tls`, linked in
    that order."""
    async with contextlib.AsyncExitStack() as stack:
        linked = [
            await stack.enter_async_context(
                BaileysPeer.start(
                    sim_tls, push_name=name, auth_dir=tmp_path_factory.mktemp(name), phone=phone
                )
            )
            for name, phone in (("Alice", ALICE), ("Bob", BOB))
        ]
        yield linked[0], linked[1]
