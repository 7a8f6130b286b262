"""History sync in the client: notifications from our phone, encrypted by a Signal peer made of
our library and fed to an offline client's ``<message>`` handler; the chunk events, what is
stored, the ``hist_sync`` receipts, bad blobs, and on-demand requests."""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.client_payload import ClientConfig, device_props
from mautrix_whatsapp.whatsapp.events import (
    HistorySyncChunk,
    HistorySyncFailed,
    HistorySyncType,
    Message,
)
from mautrix_whatsapp.whatsapp.history_request import HistoryRequestTimeout
from mautrix_whatsapp.whatsapp.history_sync import (
    HistoryDownloadError,
    HistoryInflateError,
    HistoryParseError,
    HistorySyncError,
    HistoryTooLargeError,
    build_chunk,
    decode_blob,
    inflate,
)
from mautrix_whatsapp.whatsapp.proto import wa_common_pb2, wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.proto import wa_web_pb2 as web

from .message_peer import OWN, Peer, client_bundle, paired_client, text
from .test_client_helpers import EventLog

PHONE = JID(OWN.user, OWN.server, 0)
BOB = JID("15552223333", "s.whatsapp.net")
BOB_LID = JID("80000000000002", "lid")
CAROL = JID("15554445555", "s.whatsapp.net")
GROUP = JID("120363000000000001", "g.us")
HS = wa_history_sync_pb2


async def with_phone() -> tuple[Client, EventLog, list[Node], Peer]:
    client, log, sent = await paired_client()
    phone = Peer(PHONE)
    await phone.start(await client_bundle(client))
    return client, log, sent, phone


def web_message(
    chat: JID, msg_id: str, body: str, t: int, *, from_me: bool = False, participant: str = ""
) -> web.WebMessageInfo:
    return web.WebMessageInfo(
        key=wa_common_pb2.MessageKey(
            remoteJID=str(chat), fromMe=from_me, ID=msg_id, participant=participant
        ),
        message=wa_e2e_pb2.Message(conversation=body),
        messageTimestamp=t,
    )


def sample_sync(sync_type: int = HS.HistorySync.INITIAL_BOOTSTRAP) -> HS.HistorySync:
    dm = HS.Conversation(
        ID=str(BOB),
        name="Bob",
        unreadCount=2,
        archived=True,
        pinned=1_700_000_000,
        muteEndTime=1_800_000_000,
        ephemeralExpiration=604800,
        ephemeralSettingTimestamp=1_690_000_000,
        lidJID=str(BOB_LID),
        messages=[
            HS.HistorySyncMsg(message=web_message(BOB, "A1", "old", 1_700_000_100), msgOrderID=1),
            HS.HistorySyncMsg(
                message=web_message(BOB, "A2", "mine", 1_700_000_200, from_me=True), msgOrderID=2
            ),
        ],
    )
    poll = web_message(GROUP, "G1", "", 1_700_000_300, participant=str(CAROL))
    poll.message.messageContextInfo.messageSecret = b"\x07" * 32
    group = HS.Conversation(ID=str(GROUP), name="Team", messages=[HS.HistorySyncMsg(message=poll)])
    return HS.HistorySync(
        syncType=sync_type,  # type: ignore[arg-type]
        conversations=[dm, group],
        chunkOrder=1,
        progress=40,
        pushnames=[HS.Pushname(ID=str(BOB), pushname="Bobby"), HS.Pushname(ID="bad jid:x@")],
        phoneNumberToLidMappings=[
            HS.PhoneNumberToLIDMapping(pnJID=str(CAROL), lidJID="80000000000003@lid"),
            HS.PhoneNumberToLIDMapping(pnJID="garbage", lidJID="80000000000004@lid"),
        ],
        globalSettings=HS.GlobalSettings(showIndividualNotificationsPreview=True),
    )


def notification(
    blob: bytes | None = None,
    *,
    direct_path: str = "",
    sync_type: wa_e2e_pb2.HistorySyncType = wa_e2e_pb2.INITIAL_BOOTSTRAP,
    progress: int | None = None,
    session: str = "",
) -> wa_e2e_pb2.Message:
    notif = wa_e2e_pb2.HistorySyncNotification(syncType=sync_type, chunkOrder=1)
    if progress is not None:
        notif.progress = progress
    if session:
        notif.peerDataRequestSessionID = session
    if blob is not None:
        notif.initialHistBootstrapInlinePayload = blob
    if direct_path:
        notif.directPath = direct_path
        notif.mediaKey = b"\x01" * 32
        notif.fileEncSHA256 = b"\x02" * 32
        notif.fileSHA256 = b"\x03" * 32
        notif.fileLength = 1234
    return wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
            historySyncNotification=notif,
        )
    )


async def send_from(client: Client, peer: Peer, message: wa_e2e_pb2.Message) -> str:
    node = await peer.dm(message, category="peer", push_priority="high_force")
    await client._handle_node(node)
    return node.attr_str("id")


def hist_receipts(sent: list[Node]) -> list[Node]:
    return [n for n in sent if n.tag == "receipt" and n.attrs.get("type") == "hist_sync"]


# --- decoding -----------------------------------------------------------------------------


def test_inflate_bounds_and_errors() -> None:
    raw = sample_sync().SerializeToString()
    assert decode_blob(zlib.compress(raw)) == sample_sync()
    with pytest.raises(HistoryInflateError, match="bad zlib"):
        inflate(b"definitely not zlib")
    with pytest.raises(HistoryInflateError, match="truncated"):
        inflate(zlib.compress(raw)[:-6])
    bomb = zlib.compress(b"\x00" * (8 * 1024 * 1024), 9)
    assert len(bomb) < 20_000
    with pytest.raises(HistoryTooLargeError):
        inflate(bomb, limit=4 * 1024 * 1024)
    assert len(inflate(bomb, limit=8 * 1024 * 1024)) == 8 * 1024 * 1024
    with pytest.raises(HistoryParseError):
        decode_blob(zlib.compress(b"\x12\x05ab"))  # conversations: 5 bytes promised, 2 given


def test_mute_ends_and_timestamps_in_every_form() -> None:
    sync = HS.HistorySync(syncType=HS.HistorySync.RECENT)
    for n, mute in enumerate((2**64 - 1, 2**63 - 1, 1_800_000_000_000, 1_800_000_000, 0)):
        sync.conversations.add(
            ID=f"1555000000{n}@s.whatsapp.net", muteEndTime=mute, pinned=2**32 - 1
        )
    sync.conversations.add(ID="not a jid@@")
    notif = wa_e2e_pb2.HistorySyncNotification(syncType=wa_e2e_pb2.RECENT)
    chunk = build_chunk(sync, notif, "X")
    always = datetime.max.replace(tzinfo=UTC)
    at = datetime.fromtimestamp(1_800_000_000, UTC)
    assert [c.mute_end for c in chunk.conversations] == [always, always, at, at, None]
    assert {c.pinned_at for c in chunk.conversations} == {datetime.fromtimestamp(2**32 - 1, UTC)}


# --- chunks through the message handler ----------------------------------------------------


async def test_inline_chunk_is_emitted_stored_and_acknowledged() -> None:
    client, log, sent, phone = await with_phone()
    blob = zlib.compress(sample_sync().SerializeToString())
    announced = notification(blob, progress=40)
    announced.protocolMessage.historySyncNotification.originalMessageID = "ORIG1"
    msg_id = await send_from(client, phone, announced)
    chunk = await log.wait_for(HistorySyncChunk)
    await client.history.idle()

    assert chunk.sync_type is HistorySyncType.INITIAL_BOOTSTRAP
    assert (chunk.chunk_order, chunk.progress, chunk.message_id) == (1, 40, msg_id)
    assert chunk.request_id is None and chunk.original_message_id == "ORIG1"
    dm, group = chunk.conversations
    assert (dm.chat, dm.name, dm.unread_count, dm.archived, dm.alt_jid) == (
        BOB,
        "Bob",
        2,
        True,
        BOB_LID,
    )
    assert dm.pinned_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert dm.mute_end == datetime.fromtimestamp(1_800_000_000, UTC)
    assert dm.ephemeral_expiration == 604800
    assert [(m.key.ID, m.message.conversation, m.key.fromMe) for m in dm.messages] == [
        ("A1", "old", False),
        ("A2", "mine", True),
    ]
    assert (group.chat, group.name, group.pinned_at, group.mute_end) == (GROUP, "Team", None, None)
    assert chunk.push_names == ((BOB, "Bobby"),)
    assert chunk.lid_mappings == ((JID("80000000000003", "lid"), CAROL),)
    assert chunk.global_settings is not None
    assert chunk.global_settings.showIndividualNotificationsPreview
    assert client.history.progress == {HistorySyncType.INITIAL_BOOTSTRAP: 40}

    # Stored: the LID mapping, and the poll's secret under its sender (the participant).
    assert await client.lids.get_lid(CAROL) == JID("80000000000003", "lid")
    assert await client.secrets.get(GROUP, CAROL, "G1") == b"\x07" * 32
    # The peer message got its peer_msg receipt, the chunk its hist_sync receipt (whatsmeow's
    # attributes: id, type, own non-AD JID; no category).
    assert any(n.tag == "receipt" and n.attrs.get("type") == "peer_msg" for n in sent)
    (ack,) = hist_receipts(sent)
    assert ack.attrs == {"id": msg_id, "type": "hist_sync", "to": OWN.to_non_ad()}


async def test_downloaded_chunk_uses_the_notification_fields() -> None:
    client, log, sent, phone = await with_phone()
    asked: list[wa_e2e_pb2.HistorySyncNotification] = []
    blob = zlib.compress(sample_sync(HS.HistorySync.RECENT).SerializeToString())

    async def downloader(notif: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        asked.append(notif)
        return blob

    client.history.downloader = downloader
    msg_id = await send_from(
        client, phone, notification(direct_path="/v/t62/hist?x=1", sync_type=wa_e2e_pb2.RECENT)
    )
    chunk = await log.wait_for(HistorySyncChunk)
    await client.history.idle()
    assert chunk.sync_type is HistorySyncType.RECENT and len(chunk.conversations) == 2
    (notif,) = asked
    assert (notif.directPath, notif.mediaKey, notif.fileLength) == (
        "/v/t62/hist?x=1",
        b"\x01" * 32,
        1234,
    )
    assert [n.attrs["id"] for n in hist_receipts(sent)] == [msg_id]


class FakeMediaError(Exception):
    """Stands for the media layer's typed errors (hash or MAC mismatch, 404)."""


async def failing_download(notif: wa_e2e_pb2.HistorySyncNotification) -> bytes:
    raise FakeMediaError("enc hash mismatch")


BAD_BLOBS: dict[str, tuple[bytes | None, type[HistorySyncError]]] = {
    "bad zlib": (b"\x78\x9c not really", HistoryInflateError),
    "truncated zlib": (zlib.compress(sample_sync().SerializeToString())[:-8], HistoryInflateError),
    "bad protobuf": (zlib.compress(b"\x12\x05ab"), HistoryParseError),
    "zip bomb": (zlib.compress(b"\x00" * (3 * 1024 * 1024), 9), HistoryTooLargeError),
    "failed download": (None, HistoryDownloadError),
}


@pytest.mark.parametrize("case", sorted(BAD_BLOBS))
async def test_bad_chunk_is_a_typed_error_and_the_next_one_still_works(case: str) -> None:
    client, log, sent, phone = await with_phone()
    client.history.max_inflated = 2 * 1024 * 1024
    client.history.downloader = failing_download
    blob, error = BAD_BLOBS[case]
    bad = notification(blob) if blob is not None else notification(direct_path="/v/hist")
    with pytest.raises(error) as caught:
        await client.history.process("X1", bad.protocolMessage.historySyncNotification)
    if case == "failed download":
        assert isinstance(caught.value.__cause__, FakeMediaError)

    # Through the handler: logged, no event, no hist_sync receipt; the next chunk is taken in.
    bad_id = await send_from(client, phone, bad)
    failed = await log.wait_for(HistorySyncFailed)
    assert failed.message_id == bad_id and isinstance(failed.error, error)
    assert failed.sync_type is HistorySyncType.INITIAL_BOOTSTRAP
    await client.history.idle()
    assert not log.of(HistorySyncChunk) and not hist_receipts(sent)
    good = zlib.compress(sample_sync().SerializeToString())
    good_id = await send_from(client, phone, notification(good))
    await log.wait_for(HistorySyncChunk)
    await client.history.idle()
    assert [n.attrs["id"] for n in hist_receipts(sent)] == [good_id]
    # And ordinary messages still flow.
    await send_from(client, phone, text("still here"))
    assert log.of(Message)[-1].message.conversation == "still here"


async def test_notification_from_someone_else_is_ignored() -> None:
    client, log, sent, _phone = await with_phone()
    bob = Peer(BOB)
    await bob.start(await client_bundle(client, 2))
    blob = zlib.compress(sample_sync().SerializeToString())
    await client._handle_node(await bob.dm(notification(blob)))
    await client.history.idle()
    assert not log.of(HistorySyncChunk) and not hist_receipts(sent)


async def test_slow_download_does_not_block_messages_and_chunks_stay_in_order() -> None:
    client, log, sent, phone = await with_phone()
    release = asyncio.Event()
    first = sample_sync(HS.HistorySync.RECENT)
    first.chunkOrder = 1

    async def slow(notif: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        await release.wait()
        return zlib.compress(first.SerializeToString())

    client.history.downloader = slow
    await send_from(client, phone, notification(direct_path="/v/slow"))
    second = sample_sync(HS.HistorySync.RECENT)
    second.chunkOrder = 2
    await send_from(client, phone, notification(zlib.compress(second.SerializeToString())))
    # The handler returned with the download still pending: messages keep coming.
    await send_from(client, phone, text("meanwhile"))
    assert [e.message.conversation for e in log.of(Message) if e.message.conversation] == [
        "meanwhile"
    ]
    assert not log.of(HistorySyncChunk)
    release.set()
    await log.wait_for(HistorySyncChunk, count=2)
    assert [c.chunk_order for c in log.of(HistorySyncChunk)] == [1, 2]
    await client.history.idle()
    assert len(hist_receipts(sent)) == 2


async def test_a_disconnect_mid_chunk_resumes_with_that_chunk_at_the_next_login() -> None:
    client, log, sent, phone = await with_phone()
    started = asyncio.Event()
    blob = zlib.compress(sample_sync(HS.HistorySync.RECENT).SerializeToString())

    async def stuck(notif: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client.history.downloader = stuck
    msg_id = await send_from(client, phone, notification(direct_path="/v/stuck"))
    await asyncio.wait_for(started.wait(), 30)
    await client._teardown_socket()  # the connection drops: its tasks are cancelled
    assert not client._conn_tasks and not log.of(HistorySyncChunk) and not hist_receipts(sent)

    async def fine(notif: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        return blob

    client.history.downloader = fine
    client.history.resume()  # what the next <success> does
    chunk = await log.wait_for(HistorySyncChunk)
    await client.history.idle()
    assert chunk.message_id == msg_id and len(log.of(HistorySyncChunk)) == 1
    assert [n.attrs["id"] for n in hist_receipts(sent)] == [msg_id]


# --- on-demand requests ---------------------------------------------------------------------


def on_demand(request_id: str, chat: JID, *ids: str) -> wa_e2e_pb2.Message:
    sync = HS.HistorySync(
        syncType=HS.HistorySync.ON_DEMAND,
        conversations=[
            HS.Conversation(
                ID=str(chat),
                messages=[
                    HS.HistorySyncMsg(message=web_message(chat, i, i, 1_600_000_000 + n))
                    for n, i in enumerate(ids)
                ],
            )
        ],
    )
    blob = zlib.compress(sync.SerializeToString())
    return notification(blob, sync_type=wa_e2e_pb2.ON_DEMAND, session=request_id)


async def capture_sends(client: Client) -> list[tuple[JID, wa_e2e_pb2.Message, dict[str, object]]]:
    sends: list[tuple[JID, wa_e2e_pb2.Message, dict[str, object]]] = []

    async def send_message(to: JID, message: wa_e2e_pb2.Message, **kwargs: object) -> None:
        sends.append((to, message, kwargs))

    client.send_message = send_message  # type: ignore[method-assign,assignment]
    return sends


async def test_request_older_sends_the_request_and_returns_its_answer() -> None:
    client, log, _sent, phone = await with_phone()
    sends = await capture_sends(client)
    oldest = datetime.fromtimestamp(1_650_000_000, UTC)
    task = asyncio.create_task(client.history.request_older(BOB, "OLD1", True, oldest, 25))
    while not sends:
        await asyncio.sleep(0)
    to, message, kwargs = sends[0]
    assert to == OWN.to_non_ad() and kwargs["peer"] is True
    proto = message.protocolMessage
    assert proto.type == wa_e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_MESSAGE
    pdo = proto.peerDataOperationRequestMessage
    assert pdo.peerDataOperationRequestType == wa_e2e_pb2.HISTORY_SYNC_ON_DEMAND
    req = pdo.historySyncOnDemandRequest
    assert (req.chatJID, req.oldestMsgID, req.oldestMsgFromMe, req.onDemandMsgCount) == (
        str(BOB),
        "OLD1",
        True,
        25,
    )
    assert req.oldestMsgTimestampMS == 1_650_000_000  # seconds, as whatsmeow sends
    request_id = kwargs["message_id"]
    assert isinstance(request_id, str)

    # An answer to another request is not ours; ours is matched by its session id.
    await send_from(client, phone, on_demand("someone-else", BOB, "Z"))
    await send_from(client, phone, on_demand(request_id, BOB, "B1", "B2"))
    chunk = await asyncio.wait_for(task, 30)
    assert chunk.request_id == request_id and chunk.sync_type is HistorySyncType.ON_DEMAND
    assert [m.key.ID for m in chunk.conversations[0].messages] == ["B1", "B2"]
    assert len(log.of(HistorySyncChunk)) == 2  # both emitted as events


async def test_answer_without_session_id_goes_to_the_request_for_its_chat() -> None:
    client, _log, _sent, phone = await with_phone()
    await capture_sends(client)
    for_bob = asyncio.create_task(client.history.request_older(BOB, "O", False, 1, 5))
    for_group = asyncio.create_task(client.history.request_older(GROUP, "O", False, 1, 5))
    while len(client.history.requests._pending) < 2:
        await asyncio.sleep(0)
    await send_from(client, phone, on_demand("", GROUP, "G9"))
    chunk = await asyncio.wait_for(for_group, 30)
    assert chunk.conversations[0].chat == GROUP and not for_bob.done()
    for_bob.cancel()


async def test_request_older_times_out_with_a_typed_error() -> None:
    client, _log, _sent, _phone = await with_phone()
    await capture_sends(client)
    with pytest.raises(HistoryRequestTimeout):
        await client.history.request_older(BOB, "O", False, 1, 5, timeout=0.2)
    assert not client.history.requests._pending


# --- what we tell the phone at linking -------------------------------------------------------


def test_device_props_history_config_defaults_are_whatsmeows() -> None:
    props = device_props(ClientConfig())
    sync = props.historySyncConfig
    assert props.requireFullSync is False
    assert sync.storageQuotaMb == 10240 and sync.inlineInitialPayloadInE2EeMsg
    assert sync.thumbnailSyncDaysLimit == 60
    for unset in ("fullSyncDaysLimit", "fullSyncSizeMbLimit", "recentSyncDaysLimit"):
        assert not sync.HasField(unset)
    custom = device_props(
        ClientConfig(
            require_full_sync=True,
            history_days=30,
            history_size_mb=100,
            storage_quota_mb=500,
            recent_sync_days=7,
            inline_initial_payload=False,
        )
    )
    sync = custom.historySyncConfig
    assert custom.requireFullSync
    assert (sync.fullSyncDaysLimit, sync.fullSyncSizeMbLimit, sync.storageQuotaMb) == (
        30,
        100,
        500,
    )
    assert sync.recentSyncDaysLimit == 7 and not sync.inlineInitialPayloadInE2EeMsg
