"""The bridge's config reaches the phone: DeviceProps as the simulator received them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import command, sim_admin, start_qr_login, user_with_management_room
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, run_simulator

pytestmark = pytest.mark.synapse


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorInfo]:
    """The simulator with the plugin that shows the DeviceProps companions sent."""
    with run_simulator(
        tmp_path / "simulator", extra_args=["--plugin", "tests.e2e.sim_device_props"]
    ) as info:
        yield info


async def _device_props_sent_at_login(
    synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> dict[str, Any]:
    """Start a QR login, read the DeviceProps the simulator received, cancel the login."""
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    await start_qr_login(alice, room, bot)
    [registration] = (await sim_admin(simulator, "GET", "/test/device-props"))["registrations"]
    await command(alice, room, bot, "cancel", "Login cancelled.")
    props: dict[str, Any] = registration["device_props"]
    return props


@pytest.mark.parametrize(
    "bridge_overrides",
    [
        {
            "whatsapp.os_name": "Alice's test bridge",
            "whatsapp.browser_name": "chrome",
            "bridge.history_sync.request_full_sync": True,
            "bridge.history_sync.full_sync_config.days_limit": 400,
            "bridge.history_sync.full_sync_config.size_mb_limit": 2048,
            "bridge.history_sync.full_sync_config.storage_quota_mb": 8192,
        }
    ],
)
async def test_history_sync_settings_reach_the_phone(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    props = await _device_props_sent_at_login(synapse, simulator, matrix_user)
    assert props["os"] == "Alice's test bridge"
    assert props["platformType"] == "CHROME"
    assert props["requireFullSync"] is True
    sync = props["historySyncConfig"]
    assert sync["fullSyncDaysLimit"] == 400
    assert sync["fullSyncSizeMbLimit"] == 2048
    assert sync["storageQuotaMb"] == 8192


async def test_default_history_sync_settings_reach_the_phone(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    props = await _device_props_sent_at_login(synapse, simulator, matrix_user)
    assert props["os"] == "Mautrix-WhatsApp bridge"
    assert props["platformType"] == "UNKNOWN"
    assert props["requireFullSync"] is False
    sync = props["historySyncConfig"]
    assert "fullSyncDaysLimit" not in sync and "fullSyncSizeMbLimit" not in sync
    assert sync["storageQuotaMb"] == 10240
