"""``kill -9`` of the bridge in the middle of a burst loses nothing and duplicates nothing.

Baileys (Alice) sends 300 messages to the bridge user; the bridge process is SIGKILLed once a
seeded random number of them is in Matrix (the seed and the number are printed; set
``CRASH_SAFETY_SEED`` to replay one), and started again on the same database. WhatsApp (the
simulator) redelivers what the bridge did not acknowledge and queues what came meanwhile; the
bridge re-runs what it had kept but not bridged. The room must then hold every message exactly
once, in the order sent.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import dm_world
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

ALICE = "15550002101"
MESSAGES = 300
TIMEOUT = 120.0
DEFAULT_SEED = 10

pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


World = tuple[BaileysPeer, MatrixTestUser, str, str]


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[World]:
    async for w in dm_world(synapse, simulator, matrix_user, tmp_path, alice_phone=ALICE):
        yield w.alice, w.user, w.management, w.phone


def _body(event: Event) -> str | None:
    if event.get("type") != "m.room.message":
        return None
    body = event.get("content", {}).get("body")
    return body if isinstance(body, str) else None


def _number(event: Event) -> int:
    """``n`` of a "burst n" message, -1 for anything else."""
    body = _body(event) or ""
    prefix, _, number = body.partition(" ")
    return int(number) if prefix == "burst" and number.isdigit() else -1


async def _all_bodies(user: MatrixTestUser, room: str) -> list[str]:
    """Every message body of the room, oldest first, from the server (``/messages``, not the
    client's sync, whose timeline may be cut short by a burst)."""
    bodies: list[str] = []
    params: dict[str, Any] = {"dir": "f", "limit": "500"}
    path = f"/_matrix/client/v3/rooms/{room}/messages"
    while True:
        page = await user.request("GET", path, params=params)
        bodies.extend(b for e in page.get("chunk", []) if (b := _body(e)) is not None)
        end = page.get("end")
        if not end or not page.get("chunk"):
            return bodies
        params["from"] = end


async def test_kill_9_mid_burst_loses_and_duplicates_nothing(
    world: World, bridge: BridgeProcess
) -> None:
    alice, user, management, our_phone = world
    seed = int(os.environ.get("CRASH_SAFETY_SEED", DEFAULT_SEED))
    kill_after = random.Random(seed).randint(20, MESSAGES - 40)
    print(f"crash safety: seed {seed}, SIGKILL once {kill_after} messages are in Matrix")
    chat = f"{our_phone}@s.whatsapp.net"

    await alice.send_text(chat, "before the burst")
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert room != management
    await user.join(room)
    await user.wait_for_event(room, lambda e: _body(e) == "before the burst", TIMEOUT)

    sent = [f"burst {n}" for n in range(MESSAGES)]

    async def send_all() -> None:
        for body in sent:
            await alice.send_text(chat, body)

    sender = asyncio.create_task(send_all())
    try:
        await user.wait_for_event(room, lambda e: _number(e) >= kill_after - 1, TIMEOUT)
        code = bridge.kill()
        print(f"crash safety: killed the bridge (exit {code})")
        bridge.start()
        await asyncio.wait_for(sender, TIMEOUT)
    finally:
        if not sender.done():
            sender.cancel()
    # Everything before a marker sent last is bridged once the marker is (one ordered queue).
    await alice.send_text(chat, "after the burst")
    await user.wait_for_event(room, lambda e: _body(e) == "after the burst", TIMEOUT)

    bodies = await _all_bodies(user, room)
    assert bodies == ["before the burst", *sent, "after the burst"]
