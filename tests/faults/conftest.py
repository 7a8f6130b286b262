"""The end-to-end fixtures (Synapse, bridge, users, simulator), plus a linked, bridged DM.

Every test module here is bounded by ``pytest.mark.timeout`` and marked ``faults``
(``-m faults`` selects them)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import (
    MakeUser,
    bridge,
    bridge_database,
    bridge_permissions,
    matrix_user,
    postgres_database,
)
from tests.e2e.helpers import linked_user
from tests.e2e.synapse import SynapseInfo, synapse
from tests.faults.traffic import TIMEOUT, Traffic
from tests.processes import free_port
from tests.simulator_fixture import SimulatorInfo, run_simulator

__all__ = [
    "bridge",
    "bridge_database",
    "bridge_permissions",
    "matrix_user",
    "postgres_database",
    "synapse",
    "traffic",
]

ALICE = "15550013101"


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def bridge_overrides(metrics_port: int) -> dict[str, Any]:
    """Metrics on (the task count), failures marked with status events too, and INFO logs:
    DEBUG logs every node, which would make the stream the logger's benchmark."""
    overrides: dict[str, Any] = {
        "metrics.enabled": True,
        "metrics.listen": f"127.0.0.1:{metrics_port}",
        "bridge.message_status_events": True,
    }
    if not os.environ.get("FAULTS_DEBUG"):  # FAULTS_DEBUG=1 keeps the DEBUG logs
        overrides["logging.root.level"] = "INFO"
        overrides["logging.loggers.mau.level"] = "INFO"
    return overrides


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorInfo]:
    """A simulator logging at INFO (it logs every node at DEBUG)."""
    with run_simulator(tmp_path / "simulator", log_level="INFO") as info:
        yield info


FAULTS_REPORT = "faults"
"""The ``user_properties`` name of a fault run's report lines."""


def _reporter(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """A line on the terminal (past output capture), or print without a terminal; also kept in
    the test's report, which the session summary prints (``tests/conftest.py``) — the only way
    out of a pytest-xdist worker, whose terminal nobody sees."""
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def report(line: str) -> None:
        request.node.user_properties.append((FAULTS_REPORT, f"[{request.node.name}] {line}"))
        if terminal is None or capture is None:
            print(line)
            return
        with capture.global_and_fixture_disabled():  # past output capture, even on success
            terminal.write_line(f"[{request.node.name}] {line}")

    return report


@pytest.fixture
async def traffic(
    request: pytest.FixtureRequest,
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[Traffic]:
    """Alice (Baileys) and a linked Matrix user with their DM portal bridged both ways."""
    async with BaileysPeer.start(
        simulator, push_name="Alice", auth_dir=tmp_path / "alice", phone=ALICE
    ) as alice:
        user, _, scan = await linked_user(matrix_user, synapse, simulator, silent_phone=True)
        our_chat = f"{scan['phone']}@s.whatsapp.net"
        await alice.send_text(our_chat, "hello")
        room = await user.wait_for_invite(timeout=TIMEOUT)
        await user.join(room)
        await user.wait_for_event(
            room, lambda e: e.get("content", {}).get("body") == "hello", TIMEOUT
        )
        world = Traffic(
            alice=alice,
            user=user,
            room=room,
            our_chat=our_chat,
            device_jid=scan["jid"],
            homeserver_db=synapse.data_dir / "homeserver.db",
            report=_reporter(request),
        )
        await world.send_matrix("hello back")
        await alice.wait_message(lambda e: text_of(e) == "hello back", timeout=TIMEOUT)
        yield world
