"""50 seeded random drops of the bridge's WhatsApp connection (a silent socket close, or a
``<stream:error>`` 515/503) during two-way traffic: nothing lost, doubled or reordered, and the
bridge holds no more file descriptors, sockets or asyncio tasks afterwards than before.

``FAULTS_SEED`` replays a run."""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.helpers import sim_admin
from tests.faults.leaks import assert_settles_back, holdings
from tests.faults.traffic import WA_MESSAGES, Progress, Traffic
from tests.simulator_fixture import SimulatorInfo

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

DROPS = 50
DEFAULT_SEED = 13
LEAK_SLACK = 4
RECONNECT_TIMEOUT = 60.0


async def _wait_device_connected(simulator: SimulatorInfo, traffic: Traffic) -> None:
    phone = traffic.our_chat.split("@")[0]
    deadline = time.monotonic() + RECONNECT_TIMEOUT
    while True:
        account = await sim_admin(simulator, "GET", f"/accounts/{phone}")
        if any(d["jid"] == traffic.device_jid and d["connected"] for d in account["devices"]):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the bridge never reconnected: {account['devices']}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    "bridge_database",
    ["sqlite", "postgres"],
    indirect=True,
)
async def test_50_whatsapp_drops_under_two_way_traffic(
    traffic: Traffic, bridge: BridgeProcess, simulator: SimulatorInfo, metrics_port: int
) -> None:
    seed = int(os.environ.get("FAULTS_SEED", DEFAULT_SEED))
    rng = random.Random(seed)
    # Where in Alice's stream each drop comes, and how: sorted, spread over the stream.
    points = sorted(rng.randrange(WA_MESSAGES * 9 // 10) for _ in range(DROPS))
    kinds = [rng.choice(["drop", "515", "503"]) for _ in range(DROPS)]
    traffic.report(f"faults: seed {seed}, {DROPS} drops at WhatsApp messages {points}")
    assert bridge.process is not None
    pid = bridge.process.pid
    before = await holdings(pid, metrics_port)

    async def drops(progress: Progress) -> None:
        for point, kind in zip(points, kinds, strict=True):
            await progress.wait_wa_sent(point)
            await _wait_device_connected(simulator, traffic)
            if kind == "drop":
                await sim_admin(
                    simulator, "POST", "/devices/drop", json={"jid": traffic.device_jid}
                )
            else:
                body = {"jid": traffic.device_jid, "code": kind}
                await sim_admin(simulator, "POST", "/devices/stream-error", json=body)

    async def reconnected() -> None:
        await _wait_device_connected(simulator, traffic)

    await traffic.run(drops, before_markers=reconnected)
    after = await assert_settles_back(pid, metrics_port, before, LEAK_SLACK, f"{DROPS} drops")
    traffic.report(f"faults: bridge held {before} before the drops, {after} after")
