"""What each history sync holds, in-process: the plan per ``historySyncConfig`` (recent and
full windows, size limits, ``requireFullSync``), chunking, on-demand anchors, and chunks through
the media store (the wire is in ``test_simulator_history.py``)."""

from __future__ import annotations

import hashlib
import time
import zlib

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.proto.wa_companion_reg_pb2 import DeviceProps
from tests.simulator import history_encode as encode
from tests.simulator.accounts import Account, LinkedDevice
from tests.simulator.admin_history import Importer
from tests.simulator.history_sync import first_syncs, notification_message, older_messages
from tests.simulator.media_crypto import decrypt_media
from tests.simulator.media_store import get_media_store
from tests.simulator.phone import get_world
from tests.simulator.phone_memory import Chat, PhoneMemory, StoredMessage
from tests.simulator.server import Simulator
from tests.simulator.state import ServerState

HistorySync = wa_history_sync_pb2.HistorySync
HistorySyncConfig = encode.HistorySyncConfig
DAY = 86400


def _memory(now: int) -> PhoneMemory:
    """One DM with a message a day for 400 days (oldest first), ids ``m0``…``m399``."""
    memory = PhoneMemory()
    for day in range(400):
        memory.add_message(
            StoredMessage(
                id=f"m{day}",
                chat="15550009999@s.whatsapp.net",
                sender="15550009999@s.whatsapp.net",
                from_me=False,
                timestamp=now - (399 - day) * DAY - 60,
                message=wa_e2e_pb2.Message(conversation="x" * 200),
            )
        )
    return memory


def _ids(part: list[tuple[Chat, list[StoredMessage]]]) -> list[str]:
    return [m.id for _, messages in part for m in messages]


def test_plan_follows_the_companions_history_sync_config() -> None:
    now = int(time.time())
    memory = _memory(now)
    default = encode.plan(memory, HistorySyncConfig(), full=False, now=now)
    assert _ids(default.bootstrap) == [f"m{d}" for d in range(380, 400)]
    assert _ids(default.recent) == [f"m{d}" for d in range(310, 380)]  # 90 days in all
    assert default.full == []
    full = encode.plan(memory, HistorySyncConfig(), full=True, now=now)
    assert _ids(full.full) == [f"m{d}" for d in range(35, 310)]  # a year back
    limited = encode.plan(
        memory,
        HistorySyncConfig(
            recentSyncDaysLimit=30, fullSyncDaysLimit=100, initialSyncMaxMessagesPerChat=5
        ),
        full=True,
        now=now,
    )
    assert _ids(limited.bootstrap) == [f"m{d}" for d in range(395, 400)]
    assert _ids(limited.recent) == [f"m{d}" for d in range(370, 395)]
    assert _ids(limited.full) == [f"m{d}" for d in range(300, 370)]
    # The size limits keep the newest older messages that fit in the smallest of them.
    for stored in memory.chats["15550009999@s.whatsapp.net"].messages:
        stored.message = wa_e2e_pb2.Message(conversation="y" * 10_000)
    size = encode.web_message(memory.chats["15550009999@s.whatsapp.net"].messages[0]).ByteSize()
    fits = 1024 * 1024 // size
    for config in (
        HistorySyncConfig(fullSyncSizeMbLimit=1, storageQuotaMb=10),
        HistorySyncConfig(fullSyncSizeMbLimit=10, storageQuotaMb=1),
    ):
        sized = encode.plan(memory, config, full=True, now=now)
        assert _ids(sized.full) == [f"m{d}" for d in range(310 - fits, 310)]
    assert fits < 275  # the limit did cut: a year back would be 275 messages


def test_chunks_split_big_syncs_in_order() -> None:
    now = int(time.time())
    memory = _memory(now)
    [(chat, messages)] = [(c, c.messages) for c in memory.chats.values()]
    conv = encode.conversation(chat, messages, "15550000000@s.whatsapp.net")
    syncs = encode.chunks(HistorySync.RECENT, [conv], limit=20_000)
    assert len(syncs) > 3
    assert [s.chunkOrder for s in syncs] == list(range(len(syncs)))
    assert syncs[-1].progress == 100 and syncs[0].progress < syncs[1].progress
    assert all(s.ByteSize() <= 20_000 + 400 for s in syncs)
    ids = [m.message.key.ID for s in syncs for c in s.conversations for m in c.messages]
    assert ids == [f"m{d}" for d in range(399, -1, -1)]


def test_on_demand_anchor_by_id_or_by_timestamp_in_seconds_or_milliseconds() -> None:
    now = int(time.time())
    memory = _memory(now)
    chat = "15550009999@s.whatsapp.net"
    anchor = memory.find(chat, "m100")
    assert anchor is not None
    by_id = older_messages(memory, chat, "m100", 0, 3)
    assert [m.id for m in by_id] == ["m97", "m98", "m99"]
    # whatsmeow puts seconds in oldestMsgTimestampMS, Baileys milliseconds: both find m100.
    assert older_messages(memory, chat, "unknown", anchor.timestamp, 2) == by_id[1:]
    assert older_messages(memory, chat, "unknown", anchor.timestamp * 1000, 2) == by_id[1:]
    assert [m.id for m in older_messages(memory, chat, "m1", 0, 50)] == ["m0"]
    assert older_messages(memory, "nobody@s.whatsapp.net", "m1", 0, 5) == []


def _account_with_past(state: ServerState, props: DeviceProps) -> tuple[Account, LinkedDevice]:
    world = get_world(state)
    account = world.accounts.create("15550009000", push_name="Ivy")
    device_id, key_index = account.allocate_device()
    device = LinkedDevice(device_id, b"", b"", 1, key_index, "test", confirmed=True)
    device.device_props = props.SerializeToString()
    account.devices[device_id] = device
    now = int(time.time())
    importer = Importer(state, account)
    importer.add_chat(
        {
            "with": "15550009001",
            "messages": [
                {"id": f"n{d}", "from": "15550009001", "t": now - d * DAY - 60, "text": f"{d}"}
                for d in range(200, -1, -1)
            ],
        }
    )
    return account, device


def test_full_sync_only_for_companions_that_require_it() -> None:
    for required in (False, True):
        state = Simulator().state
        props = DeviceProps(requireFullSync=required)
        props.historySyncConfig.fullSyncDaysLimit = 150
        account, device = _account_with_past(state, props)
        syncs = first_syncs(state, account, device)
        types = [s.syncType for s in syncs]
        expected = [HistorySync.INITIAL_BOOTSTRAP, HistorySync.PUSH_NAME]
        expected += [HistorySync.NON_BLOCKING_DATA, HistorySync.RECENT]
        assert types == expected + ([HistorySync.FULL] if required else [])
        ids = {m.message.key.ID for s in syncs for c in s.conversations for m in c.messages}
        kept = 150 if required else 90  # a message a day (a minute older than whole days)
        assert ids == {f"n{d}" for d in range(kept)}
        own = syncs[0].phoneNumberToLidMappings[0]
        assert (own.pnJID, own.lidJID) == (account.jid, account.lid_jid)


def test_chunks_go_through_the_media_store_once_a_media_server_exists() -> None:
    state = Simulator().state
    props = DeviceProps()
    props.historySyncConfig.inlineInitialPayloadInE2EeMsg = True
    account, device = _account_with_past(state, props)
    [bootstrap, push_names, *_] = first_syncs(state, account, device)

    media_server = state.media_handler
    assert media_server is not None
    state.media_handler = None  # a simulator without a media server: every chunk inline
    inline = notification_message(push_names, encode.compress(push_names), state, False)
    assert inline.protocolMessage.historySyncNotification.initialHistBootstrapInlinePayload
    state.media_handler = media_server
    first = notification_message(bootstrap, encode.compress(bootstrap), state, True)
    assert first.protocolMessage.historySyncNotification.initialHistBootstrapInlinePayload
    note = notification_message(
        push_names, encode.compress(push_names), state, False
    ).protocolMessage.historySyncNotification
    assert not note.HasField("initialHistBootstrapInlinePayload")
    stored = get_media_store(state).get(note.directPath)
    assert stored is not None and stored.media_type == "md-msg-hist"
    assert hashlib.sha256(stored.blob).digest() == note.fileEncSHA256
    plaintext = decrypt_media(stored.blob, "md-msg-hist", note.mediaKey)
    assert hashlib.sha256(plaintext).digest() == note.fileSHA256
    assert len(plaintext) == note.fileLength
    decoded = HistorySync()
    decoded.ParseFromString(zlib.decompress(plaintext))
    assert decoded == push_names
