"""Unit tests of the client's pure parts: verdicts, payloads, identity storage, IQ matching,
keepalive and QR timing (no sockets)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import timedelta

import pytest

from mautrix_whatsapp.whatsapp import pair_code
from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client_payload import (
    WA_VERSION,
    ClientConfig,
    login_payload,
    registration_payload,
)
from mautrix_whatsapp.whatsapp.connection_events import (
    Action,
    classify_failure,
    classify_stream_error,
    parse_ib,
)
from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.device import DeviceDataError, DeviceIdentity
from mautrix_whatsapp.whatsapp.events import (
    ClientOutdated,
    ConnectFailure,
    ConnectFailureReason,
    Disconnected,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    OfflineSyncCompleted,
    OfflineSyncPreview,
    PairingCode,
    QRCode,
    StreamError,
    StreamReplaced,
    TemporaryBan,
)
from mautrix_whatsapp.whatsapp.keepalive import KeepAliveTiming, keepalive_loop
from mautrix_whatsapp.whatsapp.prekeys import generate_pre_keys, parse_count, upload_content
from mautrix_whatsapp.whatsapp.proto import wa_companion_reg_pb2
from mautrix_whatsapp.whatsapp.qrchan import QRTiming, rotate_qr_codes
from mautrix_whatsapp.whatsapp.request import (
    IQDisconnectedError,
    IQError,
    IQTimeoutError,
    RequestTracker,
)
from mautrix_whatsapp.whatsapp.store import DeviceStore, MemoryDeviceStore


def _wire(node: Node) -> Node:
    """Through the codec and back, as the client sees it."""
    return unmarshal(marshal(node))


@pytest.mark.parametrize(
    ("node", "event", "action"),
    [
        (Node("stream:error", {"code": "515"}), None, Action.RECONNECT_NOW),
        (
            Node("stream:error", {"code": "401"}, [Node("conflict", {"type": "device_removed"})]),
            LoggedOut(False, ConnectFailureReason.LOGGED_OUT),
            Action.LOGOUT,
        ),
        (
            Node("stream:error", {}, [Node("conflict", {"type": "replaced"})]),
            StreamReplaced(),
            Action.STOP,
        ),
        (Node("stream:error", {"code": "503"}), Disconnected(503), Action.RECONNECT),
        (Node("stream:error", {"code": "516"}), StreamError("516"), Action.RECONNECT),
        (
            Node("failure", {"reason": "401"}),
            LoggedOut(True, ConnectFailureReason.LOGGED_OUT),
            Action.LOGOUT,
        ),
        (
            Node("failure", {"reason": "402", "code": "103", "expire": "86400"}),
            TemporaryBan(103, timedelta(days=1)),
            Action.STOP,
        ),
        (
            Node("failure", {"reason": "403"}),
            LoggedOut(True, ConnectFailureReason.MAIN_DEVICE_GONE),
            Action.LOGOUT,
        ),
        (Node("failure", {"reason": "405"}), ClientOutdated(), Action.STOP),
        (
            Node("failure", {"reason": "406"}),
            LoggedOut(True, ConnectFailureReason.UNKNOWN_LOGOUT),
            Action.LOGOUT,
        ),
        (Node("failure", {"reason": "409"}), ConnectFailure(409), Action.STOP),
        (Node("failure", {"reason": "500"}), Disconnected(500), Action.RECONNECT),
        (Node("failure", {"reason": "503"}), Disconnected(503), Action.RECONNECT),
        (
            Node("failure", {"reason": "499", "message": "x"}),
            ConnectFailure(499, "x"),
            Action.STOP,
        ),
        (Node("failure", {"reason": "nonsense"}), ConnectFailure(400), Action.STOP),
    ],
)
def test_verdicts(node: Node, event: object, action: Action) -> None:
    node = _wire(node)
    verdict = classify_stream_error(node) if node.tag == "stream:error" else classify_failure(node)
    assert (verdict.event, verdict.action) == (event, action)


def test_temp_ban_text() -> None:
    ban = TemporaryBan(102, timedelta(hours=2))
    assert ban.describe() == (
        "You've been temporarily banned: 102: too many people blocked you. "
        "The ban expires in 2:00:00"
    )
    assert "unknown error" in TemporaryBan(999, timedelta()).reason_text


def test_parse_ib() -> None:
    node = _wire(
        Node(
            "ib",
            {},
            [
                Node(
                    "offline_preview",
                    {"count": "7", "message": "3", "notification": "2", "receipt": "2"},
                ),
                Node("offline", {"count": "7"}),
                Node("dirty", {"type": "account_sync"}),
            ],
        )
    )
    assert parse_ib(node) == [OfflineSyncPreview(7, 3, 2, 2, 0), OfflineSyncCompleted(7)]


def test_registration_payload() -> None:
    device = DeviceIdentity.generate()
    payload = registration_payload(device, ClientConfig())
    data = payload.devicePairingData
    assert not payload.HasField("username") and payload.passive is False and payload.pull is False
    assert data.eRegid == device.registration_id.to_bytes(4, "big")
    assert data.eKeytype == b"\x05" and data.eIdent == device.identity_key.public
    assert data.eSkeyID == b"\x00\x00\x01"
    assert xeddsa.verify(device.identity_key.public, b"\x05" + data.eSkeyVal, data.eSkeySig)
    version = ".".join(map(str, WA_VERSION))
    assert data.buildHash == hashlib.md5(version.encode()).digest()
    props = wa_companion_reg_pb2.DeviceProps.FromString(data.deviceProps)
    assert props.os == "mautrix-whatsapp" and props.historySyncConfig.storageQuotaMb == 10240
    assert not props.historySyncConfig.HasField("fullSyncDaysLimit")
    assert not props.historySyncConfig.HasField("fullSyncSizeMbLimit")
    assert payload.userAgent.platform == payload.userAgent.WEB
    assert payload.userAgent.appVersion.tertiary == WA_VERSION[2]


def test_history_sync_limits_in_device_props() -> None:
    config = ClientConfig(history_days=400, history_size_mb=2048, storage_quota_mb=8192)
    payload = registration_payload(DeviceIdentity.generate(), config)
    sync = wa_companion_reg_pb2.DeviceProps.FromString(
        payload.devicePairingData.deviceProps
    ).historySyncConfig
    assert (sync.fullSyncDaysLimit, sync.fullSyncSizeMbLimit, sync.storageQuotaMb) == (
        400,
        2048,
        8192,
    )
    # The capability flags stay when the limits are set.
    assert sync.inlineInitialPayloadInE2EeMsg and sync.supportMessageAssociation


def test_login_payload() -> None:
    device = DeviceIdentity.generate()
    with pytest.raises(ValueError):
        login_payload(device, ClientConfig())
    device.jid = JID.parse("15551234567:12@s.whatsapp.net")
    payload = login_payload(device, ClientConfig())
    assert (payload.username, payload.device) == (15551234567, 12)
    assert payload.passive and payload.pull and payload.lidDbMigrated
    assert not payload.HasField("devicePairingData")


async def test_device_identity_round_trip_through_store() -> None:
    device = DeviceIdentity.generate()
    device.jid = JID.parse("15551234567:3@s.whatsapp.net")
    device.lid = JID.parse("100000000000001:3@lid")
    device.account = b"\x0a\x01x"
    device.next_pre_key_id = 813
    store = MemoryDeviceStore()
    assert isinstance(store, DeviceStore)
    assert await store.load_device() is None
    await store.save_device(device)
    loaded = await store.load_device()
    assert loaded is not None and loaded is not device
    assert loaded.to_dict() == device.to_dict()
    assert loaded.noise_key.private == device.noise_key.private
    assert loaded.signed_pre_key.signature == device.signed_pre_key.signature
    assert "private" not in repr(loaded) and device.noise_key.private.hex() not in repr(loaded)
    await store.delete_device()
    assert await store.load_device() is None


def _secret_forms(secret: bytes) -> list[str]:
    return [secret.hex(), base64.b64encode(secret).decode(), repr(secret)[2:-1]]


def test_reprs_never_show_secrets() -> None:
    """Identity, codes and QR texts end up in logs via %r/%s; none may carry a secret."""
    device = DeviceIdentity.generate()
    device.jid = JID.parse("15551234567:3@s.whatsapp.net")
    device.account = b"\x0a\x01x"
    secrets = [
        device.noise_key.private,
        device.identity_key.private,
        device.signed_pre_key.key_pair.private,
        device.adv_secret,
    ]
    hello = pair_code.CompanionHello.start("+15551234567", "ABCDEFGH")
    shown = [
        repr(device),
        str(device),
        f"{device!r} {[device]}",
        repr(device.noise_key),
        repr(device.signed_pre_key),
        repr(hello),
        repr(QRCode(code="https://wa.me/settings/linked_devices#SECRETQR", timeout=60, index=0)),
        repr(PairingCode(code="ABCD-EFGH", phone="15551234567")),
    ]
    text = "\n".join(shown)
    for secret in secrets:
        for form in _secret_forms(secret):
            assert form not in text
    assert "SECRETQR" not in text and "ABCD" not in text and "EFGH" not in text
    assert "15551234567:3@s.whatsapp.net" in repr(device)  # still useful in a log


def test_corrupt_device_identity() -> None:
    data = DeviceIdentity.generate().to_dict()
    data["noise_private"] = "AAAA"
    with pytest.raises(DeviceDataError):
        DeviceIdentity.from_dict(data)
    with pytest.raises(DeviceDataError):
        DeviceIdentity.from_dict({})


def test_pre_key_upload_content() -> None:
    device = DeviceIdentity.generate()
    device.next_pre_key_id = 0xFFFFFE
    records = generate_pre_keys(device, 4)
    assert [r.key_id for r in records] == [0xFFFFFE, 0xFFFFFF, 1, 2]
    content = [_wire(n) for n in upload_content(device, records)]
    tags = [n.tag for n in content]
    assert tags == ["registration", "type", "identity", "list", "skey"]
    keys = content[3].children
    assert keys[2].get_child_by_tag("id").content_bytes() == b"\x00\x00\x01"
    assert keys[0].get_child_by_tag("value").content_bytes() == records[0].key_pair.public
    skey = content[4]
    assert skey.get_child_by_tag("signature").content_bytes() == device.signed_pre_key.signature
    assert parse_count(_wire(Node("iq", {}, [Node("count", {"value": "17"})]))) == 17


async def test_request_tracker() -> None:
    tracker = RequestTracker()
    first, second = tracker.next_id(), tracker.next_id()
    assert first != second
    future = tracker.expect(first)
    assert tracker.resolve(Node("iq", {"id": first, "type": "result"}))
    assert (await tracker.wait(first, future, 1)).attrs["type"] == "result"
    assert not tracker.resolve(Node("iq", {"id": "unknown", "type": "result"}))

    future = tracker.expect(second)
    error = Node(
        "iq", {"id": second, "type": "error"}, [Node("error", {"code": "404", "text": "x"})]
    )
    tracker.resolve(error)
    with pytest.raises(IQError) as e:
        await tracker.wait(second, future, 1)
    assert (e.value.code, e.value.text) == (404, "x")

    third = tracker.next_id()
    future = tracker.expect(third)
    with pytest.raises(IQTimeoutError):
        await tracker.wait(third, future, 0.01)
    assert tracker.pending == 0

    fourth = tracker.next_id()
    future = tracker.expect(fourth)
    tracker.fail_all()
    with pytest.raises(IQDisconnectedError):
        await tracker.wait(fourth, future, 1)


async def test_keepalive_times_out_then_reconnects() -> None:
    """Each ping takes 0.02 s of a fake clock, so the outcome never depends on machine load."""
    timing = KeepAliveTiming(
        interval_min=0, interval_max=0, response_deadline=0.01, max_fail_time=0.05
    )
    answers = iter([True, False, True, False, False, False, False, False])
    events: list[object] = []
    reconnected = asyncio.Event()
    now = 0.0

    async def ping(deadline: float) -> bool:
        nonlocal now
        assert deadline == 0.01
        now += 0.02
        return next(answers)

    async def emit(event: object) -> None:
        events.append(event)

    async def force() -> None:
        reconnected.set()

    async with asyncio.timeout(5):
        await keepalive_loop(timing, ping, emit, force, clock=lambda: now)
    assert reconnected.is_set()
    assert isinstance(events[0], KeepAliveTimeout) and events[0].error_count == 1
    assert isinstance(events[1], KeepAliveRestored)
    # Restored at 0.06; failures at 0.08, 0.10, 0.12: the third is past max_fail_time.
    counts = [e.error_count for e in events[2:] if isinstance(e, KeepAliveTimeout)]
    assert counts == [1, 2, 3]
    assert next(answers) is False  # it stopped pinging once it gave up


def test_whatsmeow_keepalive_defaults() -> None:
    timing = KeepAliveTiming()
    assert (timing.interval_min, timing.interval_max, timing.response_deadline) == (20, 30, 10)
    assert timing.max_fail_time == 180
    assert all(20 <= timing.next_interval() <= 30 for _ in range(50))


async def test_qr_rotation() -> None:
    emitted: list[tuple[QRCode, float]] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def emit(code: QRCode) -> None:
        emitted.append((code, loop.time() - start))

    async def exhausted() -> None:
        done.set()

    await rotate_qr_codes(["a", "b", "c"], QRTiming(first=0.06, next=0.02), emit, exhausted)
    assert done.is_set()
    assert [(c.code, c.index, c.timeout) for c, _ in emitted] == [
        ("a", 0, 0.06),
        ("b", 1, 0.02),
        ("c", 2, 0.02),
    ]
    assert emitted[1][1] >= 0.055 and emitted[2][1] >= 0.075
