"""Module-scoped fixtures for tests with Baileys peers: one simulator and named accounts per
test module, linked once (a link takes a second or two; CI runs many such tests).

Import the fixtures a module needs (``from tests.baileys_fixtures import alice, bob, sim``) and
mark its tests ``pytest.mark.asyncio(loop_scope="module")`` so they share the peers' event loop.
Tests sharing peers must not depend on events of another test: wait for what you caused (by
message id or text), as :meth:`BaileysPeer.wait_for` allows.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from tests.baileys_peer import BaileysPeer
from tests.simulator_fixture import SimulatorInfo, run_simulator

ALICE = "15550001001"
BOB = "15550001002"
CAROL = "15550001003"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    """One simulator for the module; at the end, no stanza of a client may have been refused
    as malformed (Baileys is the reference: a refusal is the simulator's mistake or ours)."""
    with run_simulator(tmp_path_factory.mktemp("simulator")) as info:
        yield info
        status = simulator_status(info)
        assert status["protocol_errors"] == [], status["protocol_errors"]


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
