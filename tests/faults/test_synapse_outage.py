"""Synapse stopped for 60 s during two-way traffic, then started again: nothing lost, doubled
or reordered either way. The homeserver is this module's own (never the session's shared one).

The outage starts at a seeded moment (``FAULTS_SEED`` replays one); meanwhile the bridge keeps
receiving from WhatsApp and retries its Matrix sends, the Matrix user's client retries its
sends (same transaction ids), and Synapse delivers its pending transactions when it is back.

Synapse itself drops the events it accepted for the appservice just before it stops (queued in
memory, its stream position already past them); the bridge's sweep after the outage finds such a
message in the room and marks it failed, which the check waits for."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator

import pytest

from tests.e2e.synapse import SynapseInfo
from tests.faults.private_synapse import RestartableSynapse, restartable_synapse
from tests.faults.traffic import WA_MESSAGES, Progress, Traffic

pytestmark = [pytest.mark.faults, pytest.mark.timeout(480)]

OUTAGE = 60.0
DEFAULT_SEED = 13


@pytest.fixture(scope="module")
def private_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableSynapse]:
    with restartable_synapse(tmp_path_factory.mktemp("private-synapse")) as server:
        yield server


@pytest.fixture(scope="module")
def synapse(private_synapse: RestartableSynapse) -> SynapseInfo:
    """Every fixture of this module (bridge, users) uses the private server."""
    return private_synapse.info


@pytest.mark.parametrize(
    "bridge_database",
    [
        "sqlite",
        "postgres",
    ],
    indirect=True,
)
async def test_synapse_down_60s_under_two_way_traffic(
    traffic: Traffic, private_synapse: RestartableSynapse
) -> None:
    seed = int(os.environ.get("FAULTS_SEED", DEFAULT_SEED))
    stop_at = random.Random(seed).randint(WA_MESSAGES // 10, WA_MESSAGES * 3 // 10)
    traffic.report(
        f"faults: seed {seed}, Synapse stops for {OUTAGE:.0f} s once Alice sent {stop_at}"
    )

    async def outage(progress: Progress) -> None:
        await progress.wait_wa_sent(stop_at)
        await asyncio.to_thread(private_synapse.stop)
        traffic.report(
            f"faults: Synapse stopped at {progress.wa_sent} WhatsApp, {progress.mx_sent} Matrix"
        )
        await asyncio.sleep(OUTAGE)  # the outage itself, not a wait for something
        await asyncio.to_thread(private_synapse.start)
        traffic.report("faults: Synapse is back")

    await traffic.run(outage)
