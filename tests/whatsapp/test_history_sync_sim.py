"""History sync end to end: our client linked to the simulator's phone, which sends its history
syncs as encrypted peer messages; the chunks our client reports and the receipts the phone gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.client_payload import ClientConfig
from mautrix_whatsapp.whatsapp.events import HistorySyncChunk, HistorySyncType
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(180)

ME = "15550100000"


async def phone_receipts(info: SimulatorInfo, kind: str) -> list[dict[str, Any]]:
    status, body = await admin(info, "GET", f"/accounts/{ME}/received")
    assert status == 200, body
    return [r for r in body["receipts"] if r["type"] == kind]


@pytest.fixture
async def linked(simulator: SimulatorInfo) -> AsyncIterator[tuple[Client, EventLog]]:  # noqa: F811
    status, body = await admin(
        simulator, "POST", "/accounts", {"phone": ME, "push_name": "Me", "default": True}
    )
    assert status == 200, body
    client, _, log = make_client(simulator, config=ClientConfig(require_full_sync=True))
    await link_by_qr(simulator, client, log)
    yield client, log
    await client.disconnect()


async def test_bootstrap_chunk_is_taken_in_and_acknowledged(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],
) -> None:
    client, log = linked
    chunk = await log.wait_for(HistorySyncChunk, timeout=60)
    assert chunk.sync_type is HistorySyncType.INITIAL_BOOTSTRAP
    assert client.device.lid is not None
    own_pn = JID(ME, "s.whatsapp.net")
    assert (client.device.lid.to_non_ad(), own_pn) in chunk.lid_mappings
    await client.history.idle()
    acks = await phone_receipts(simulator, "hist_sync")
    assert [a["ids"] for a in acks] == [[chunk.message_id]]
