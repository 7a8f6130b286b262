"""``kill -9`` of the bridge at a seeded random moment of two-way traffic, then a restart.

The seed is printed; ``FAULTS_SEED`` replays one."""

from __future__ import annotations

import os
import random

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.faults.traffic import (
    MX_MESSAGES,
    WA_MESSAGES,
    Progress,
    Traffic,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

DEFAULT_SEED = 13


@pytest.mark.parametrize(
    "bridge_database",
    ["sqlite", "postgres"],
    indirect=True,
)
async def test_kill_9_under_two_way_traffic(traffic: Traffic, bridge: BridgeProcess) -> None:
    seed = int(os.environ.get("FAULTS_SEED", DEFAULT_SEED))
    rng = random.Random(seed)
    kill_at_wa = rng.randint(WA_MESSAGES // 10, WA_MESSAGES * 8 // 10)
    traffic.report(f"faults: seed {seed}, SIGKILL once Alice has sent {kill_at_wa} messages")

    async def kill_and_restart(progress: Progress) -> None:
        await progress.wait(lambda p: p.wa_sent >= kill_at_wa)
        code = bridge.kill()
        traffic.report(
            f"faults: killed the bridge (exit {code}) at {progress.wa_sent} WhatsApp and "
            f"{progress.mx_sent}/{MX_MESSAGES} Matrix messages sent"
        )
        bridge.start()

    await traffic.run(kill_and_restart)
