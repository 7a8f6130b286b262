"""History sync end to end: our client linked to the simulator's phone, which sends its history
syncs as encrypted peer messages; the chunks our client reports and the receipts the phone gets."""

from __future__ import annotations

import base64
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.client_payload import ClientConfig
from mautrix_whatsapp.whatsapp.events import HistorySyncChunk, HistorySyncFailed, HistorySyncType
from mautrix_whatsapp.whatsapp.history_sync import (
    HistoryDownloadError,
    HistoryInflateError,
    HistoryParseError,
)
from mautrix_whatsapp.whatsapp.media.errors import (
    EncHashMismatchError,
    FileHashMismatchError,
    MACMismatchError,
    MediaExpiredError,
)
from mautrix_whatsapp.whatsapp.proto import wa_history_sync_pb2
from tests.simulator_fixture import SimulatorInfo, run_simulator, simulator  # noqa: F401
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


# --- broken blobs from a real download (the test plugin's phone) -----------------------------


@pytest.fixture
async def blob_sim(tmp_path: Path) -> AsyncIterator[SimulatorInfo]:
    with run_simulator(
        tmp_path / "simulator",
        tls=True,
        extra_args=["--plugin", "tests.whatsapp.simulator_history_blob_plugin"],
    ) as info:
        yield info


async def send_blob(info: SimulatorInfo, client: Client, payload: bytes, **extra: Any) -> str:
    assert client.device.jid is not None
    body = {"jid": str(client.device.jid), "payload": base64.b64encode(payload).decode(), **extra}
    status, answer = await admin(info, "POST", "/test-history-blob", body)
    assert status == 200, answer
    return str(answer["id"])


SPOILED: dict[str, type[Exception]] = {
    "enc_sha256": EncHashMismatchError,
    "mac": MACMismatchError,
    "file_sha256": FileHashMismatchError,
    "expired": MediaExpiredError,
}


async def test_broken_history_blobs_are_typed_errors_and_not_acknowledged(
    blob_sim: SimulatorInfo,
) -> None:
    status, body = await admin(blob_sim, "POST", "/accounts", {"phone": ME, "default": True})
    assert status == 200, body
    # Only the plugin's chunks: the phone's own first-login syncs would be taken in too.
    status, body = await admin(
        blob_sim, "POST", f"/accounts/{ME}/history-silent", {"silent": True}
    )
    assert status == 200, body
    client, _, log = make_client(blob_sim, ca_file=blob_sim.ca_file)
    await link_by_qr(blob_sim, client, log)
    try:
        sync = wa_history_sync_pb2.HistorySync(
            syncType=wa_history_sync_pb2.HistorySync.RECENT, chunkOrder=1, progress=50
        )
        sync.conversations.add(ID="15552223333@s.whatsapp.net", name="Bob")
        good = zlib.compress(sync.SerializeToString())
        cases: list[tuple[str, type[Exception], bytes, dict[str, Any]]] = [
            (spoil, cause, good, {"spoil": spoil}) for spoil, cause in SPOILED.items()
        ]
        cases += [
            ("bad zlib", HistoryInflateError, b"x\x9cnot zlib at all", {}),
            ("bad protobuf", HistoryParseError, zlib.compress(b"\x12\x05ab"), {}),
            ("bad inline zlib", HistoryInflateError, b"\x00\x01", {"inline": True}),
        ]
        for n, (case, expected, payload, extra) in enumerate(cases, 1):
            message_id = await send_blob(blob_sim, client, payload, **extra)
            failed = await log.wait_for(HistorySyncFailed, timeout=60, count=n)
            assert failed.message_id == message_id, case
            error = failed.error
            if isinstance(error, HistoryDownloadError):
                assert isinstance(error.__cause__, expected), (case, repr(error.__cause__))
            else:
                assert isinstance(error, expected), (case, repr(error))
        assert not log.of(HistorySyncChunk)

        # The connection and the queue survived: a good downloaded chunk is taken in and acked.
        message_id = await send_blob(blob_sim, client, good)
        chunk = await log.wait_for(HistorySyncChunk, timeout=60)
        assert chunk.message_id == message_id and chunk.sync_type is HistorySyncType.RECENT
        assert [c.name for c in chunk.conversations] == ["Bob"]
        await client.history.idle()
        acks = await phone_receipts(blob_sim, "hist_sync")
        assert [a["ids"] for a in acks] == [[message_id]]
    finally:
        await client.disconnect()
