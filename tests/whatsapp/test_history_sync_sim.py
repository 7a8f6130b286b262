"""History sync end to end: our client linked to the simulator's phone, which sends its history
syncs as encrypted peer messages; the chunks our client reports and the receipts the phone gets."""

from __future__ import annotations

import asyncio
import base64
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.client_payload import ClientConfig
from mautrix_whatsapp.whatsapp.events import (
    HistoryConversation,
    HistorySyncChunk,
    HistorySyncFailed,
    HistorySyncType,
)
from mautrix_whatsapp.whatsapp.history_sync import (
    HistoryDownloadError,
    HistoryInflateError,
    HistoryParseError,
)
from mautrix_whatsapp.whatsapp.media.download import download_media
from mautrix_whatsapp.whatsapp.media.errors import (
    EncHashMismatchError,
    FileHashMismatchError,
    MACMismatchError,
    MediaExpiredError,
)
from mautrix_whatsapp.whatsapp.media.types import MediaType
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2
from tests.simulator_fixture import SimulatorInfo, run_simulator, simulator_tls  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(180)

ME = "15550100000"


async def phone_receipts(info: SimulatorInfo, kind: str) -> list[dict[str, Any]]:
    status, body = await admin(info, "GET", f"/accounts/{ME}/received")
    assert status == 200, body
    return [r for r in body["receipts"] if r["type"] == kind]


DAY = 86400
CONTACTS = [f"1555300{n:04d}" for n in range(35)]
GROUPS = 15
FULL_DAYS = 200
"""Our client's ``fullSyncDaysLimit``: messages older than this stay on the phone."""
RECENT_AGES = [d * DAY for d in range(12, 0, -1)]
FULL_AGES = [150 * DAY, 135 * DAY, 120 * DAY]
BEYOND_AGES = [303 * DAY, 302 * DAY, 301 * DAY, 300 * DAY]
IMAGE = bytes(range(256)) * 9


def pn(phone: str) -> JID:
    return JID(phone, "s.whatsapp.net")


def chat_spec(index: int, now: int) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """One imported chat (DMs first, then groups) and its messages' (id, t), oldest first."""
    if index < len(CONTACTS):
        others = [CONTACTS[index]]
        spec: dict[str, Any] = {"with": CONTACTS[index]}
    else:
        n = index - len(CONTACTS)
        others = [CONTACTS[(n * 3 + k) % len(CONTACTS)] for k in range(3)]
        spec = {"group": {"subject": f"Group {n}", "members": others}}
    messages: list[dict[str, Any]] = []
    for m, age in enumerate(BEYOND_AGES + FULL_AGES + RECENT_AGES):
        sender = "me" if m % 3 == 0 else others[m % len(others)]
        messages.append(
            {
                "id": f"H{index:02d}M{m:02d}",
                "from": sender,
                "t": now - age - index * 60,
                "text": f"message {m} of chat {index}",
            }
        )
    if index == 0:
        messages[-3] = {
            **messages[-3],
            "text": None,
            "media": {
                "type": "image",
                "data": base64.b64encode(IMAGE).decode(),
                "mimetype": "image/png",
            },
        }
        del messages[-3]["text"]
    if index == 1:
        messages[-2]["reactions"] = [{"from": CONTACTS[1], "emoji": "👍"}]
    if index == 2:
        messages[-1]["edits"] = ["edited text"]
    if index == 3:
        spec.update(pinned=True, archived=True, muted_until=now + 3600, unread=2)
    spec["messages"] = messages
    return spec, [(msg["id"], msg["t"]) for msg in messages]


async def wait_synced(log: EventLog, types: set[HistorySyncType]) -> list[HistorySyncChunk]:
    """Every chunk up to the last (progress 100) of each of ``types``: chunks are emitted in
    the phone's order, so nothing of those syncs is still to come."""
    done: set[HistorySyncType] = set()
    count = 0
    while not types <= done:
        count += 1
        chunk = await log.wait_for(HistorySyncChunk, timeout=120, count=count)
        if chunk.progress == 100:
            done.add(chunk.sync_type)
    return log.of(HistorySyncChunk)


async def wait_acks(info: SimulatorInfo, expected: set[str]) -> set[str]:
    """The ids the phone got ``hist_sync`` receipts for, once they include ``expected`` (our
    receipts cross the websocket while this asks over HTTP)."""
    async with asyncio.timeout(60):
        while True:
            acked = {i for r in await phone_receipts(info, "hist_sync") for i in r["ids"]}
            if expected <= acked:
                return acked
            await asyncio.sleep(0.2)


async def test_fifty_chats_arrive_as_the_config_allows_and_older_ones_on_demand(
    simulator_tls: SimulatorInfo,  # noqa: F811
) -> None:
    info = simulator_tls
    lids: dict[str, str] = {}
    for n, phone in enumerate(CONTACTS):
        status, body = await admin(
            info, "POST", "/accounts", {"phone": phone, "push_name": f"Contact {n}"}
        )
        assert status == 200, body
        lids[phone] = body["lid_jid"]
    status, body = await admin(
        info, "POST", "/accounts", {"phone": ME, "push_name": "Me", "default": True}
    )
    assert status == 200, body
    now = int(time.time())
    specs = [chat_spec(i, now) for i in range(len(CONTACTS) + GROUPS)]
    status, body = await admin(
        info, "POST", f"/accounts/{ME}/history", {"chats": [s for s, _ in specs]}
    )
    assert status == 200, body
    chat_jids = [JID.parse(c["jid"]) for c in body["chats"]]
    assert len(chat_jids) == 50 and sum(j.is_group for j in chat_jids) == GROUPS

    config = ClientConfig(require_full_sync=True, history_days=FULL_DAYS)
    client, _, log = make_client(info, ca_file=info.ca_file, config=config)
    downloads: list[str] = []
    download = client.history.downloader

    async def counting(notification: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        downloads.append(notification.directPath)
        return await download(notification)

    client.history.downloader = counting
    await link_by_qr(info, client, log)
    try:
        chunks = await wait_synced(
            log,
            {
                HistorySyncType.INITIAL_BOOTSTRAP,
                HistorySyncType.PUSH_NAME,
                HistorySyncType.NON_BLOCKING_DATA,
                HistorySyncType.RECENT,
                HistorySyncType.FULL,
            },
        )
        assert not log.of(HistorySyncFailed)
        # Only the first bootstrap chunk came inline; the others were real downloads.
        assert len(chunks) >= 5 and len(downloads) == len(chunks) - 1

        received: dict[JID, dict[str, Any]] = {}
        convs: dict[JID, HistoryConversation] = {}
        for chunk in chunks:
            for conv in chunk.conversations:
                convs.setdefault(conv.chat, conv)
                received.setdefault(conv.chat, {}).update({m.key.ID: m for m in conv.messages})
        assert set(received) == set(chat_jids)
        for jid, (_spec, messages) in zip(chat_jids, specs, strict=True):
            allowed = {i for i, t in messages if t >= now - FULL_DAYS * DAY}
            assert set(received[jid]) == allowed, jid
            assert len(allowed) == len(RECENT_AGES) + len(FULL_AGES)

        # What the messages carry: senders, media, reactions, edits; what the chats carry.
        group = chat_jids[len(CONTACTS)]
        assert convs[group].name == "Group 0"
        first = received[group]["H35M07"]
        assert not first.key.fromMe and JID.parse(first.key.participant) == pn(CONTACTS[1])
        assert first.pushName == "Contact 1"
        assert received[group]["H35M09"].key.fromMe
        image = received[chat_jids[0]]["H00M16"].message.imageMessage
        assert image.mimetype == "image/png" and image.directPath
        downloaded = await download_media(
            client,
            direct_path=image.directPath,
            media_key=image.mediaKey,
            file_enc_sha256=image.fileEncSHA256,
            file_sha256=image.fileSHA256,
            media_type=MediaType.IMAGE,
        )
        assert downloaded == IMAGE
        (reaction,) = received[chat_jids[1]]["H01M17"].reactions
        assert reaction.text == "👍"
        # An edited message is kept as its last edit, under the original's key.
        edit = received[chat_jids[2]]["H02M18"].message.editedMessage.message.protocolMessage
        assert edit.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT and edit.key.ID == "H02M18"
        assert edit.editedMessage.conversation == "edited text"
        settings = convs[chat_jids[3]]
        assert settings.archived and settings.pinned_at is not None and settings.unread_count == 2
        assert settings.mute_end == datetime.fromtimestamp(now + 3600, UTC)

        # Push names and LID mappings, also fed into client.lids.
        names = dict(p for c in chunks for p in c.push_names)
        assert {pn(c): f"Contact {n}" for n, c in enumerate(CONTACTS)}.items() <= names.items()
        for phone, lid in lids.items():
            assert await client.lids.get_lid(pn(phone)) == JID.parse(lid)
        assert client.history.progress[HistorySyncType.FULL] == 100

        # Every chunk was acknowledged to the phone.
        await client.history.idle()
        ids = {c.message_id for c in chunks}
        assert await wait_acks(info, ids) == ids

        # On demand: the next older messages of one chat, exactly N, then the rest.
        chat = chat_jids[4]
        messages = specs[4][1]
        oldest = min(received[chat].values(), key=lambda m: m.messageTimestamp)
        answer = await client.history.request_older(
            chat, oldest.key.ID, oldest.key.fromMe, int(oldest.messageTimestamp), 3, timeout=60
        )
        (conv,) = answer.conversations
        got = sorted(conv.messages, key=lambda m: m.messageTimestamp)
        assert [m.key.ID for m in got] == [i for i, _ in messages[1:4]]
        assert answer.request_id is not None and answer in log.of(HistorySyncChunk)
        answer = await client.history.request_older(
            chat, got[0].key.ID, got[0].key.fromMe, int(got[0].messageTimestamp), 3, timeout=60
        )
        assert [m.key.ID for c in answer.conversations for m in c.messages] == [messages[0][0]]
        await client.history.idle()
        await wait_acks(info, {c.message_id for c in log.of(HistorySyncChunk)})
    finally:
        await client.disconnect()


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
