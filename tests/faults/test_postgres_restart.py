"""PostgreSQL restarted under two-way traffic: the bridge (on that server) recovers by itself.

A private server (see :mod:`tests.faults.private_postgres`), never the machine's shared one;
the restart comes at a seeded moment (``FAULTS_SEED`` replays one). The bridge process must be
the same one at the end: no restart of the bridge is allowed to paper over the outage."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.faults.private_postgres import PrivatePostgres, private_postgres
from tests.faults.traffic import WA_MESSAGES, Progress, Traffic

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

DEFAULT_SEED = 13


@pytest.fixture
def postgres_server() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def bridge_database(postgres_server: PrivatePostgres) -> str:
    return postgres_server.url


async def test_postgres_restart_under_two_way_traffic(
    traffic: Traffic, bridge: BridgeProcess, postgres_server: PrivatePostgres
) -> None:
    seed = int(os.environ.get("FAULTS_SEED", DEFAULT_SEED))
    restart_at = random.Random(seed).randint(WA_MESSAGES // 10, WA_MESSAGES * 8 // 10)
    traffic.report(
        f"faults: seed {seed}, PostgreSQL restarts once Alice has sent {restart_at} messages"
    )
    assert bridge.process is not None
    pid = bridge.process.pid

    async def restart_postgres(progress: Progress) -> None:
        await progress.wait_wa_sent(restart_at)
        down = await asyncio.to_thread(postgres_server.restart)
        traffic.report(f"faults: PostgreSQL was down {down:.2f} s")

    await traffic.run(restart_postgres)
    assert bridge.process is not None and bridge.process.pid == pid
    assert bridge.starts == 1 and bridge.is_running()
