"""Every stream error and login failure the simulator can inject gives the client's typed event;
transient ones reconnect; removal and logout unlink the device."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import DeviceDeletedError, NotConnectedError
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.events import (
    ClientOutdated,
    Connected,
    ConnectFailure,
    ConnectFailureReason,
    Disconnected,
    LoggedOut,
    QRCode,
    StreamError,
    StreamReplaced,
    TemporaryBan,
)
from mautrix_whatsapp.whatsapp.store import MemoryDeviceStore
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import FAST, EventLog, admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(60)

RECONNECT_TIME = 1.0
"""Ample for a reconnect to loopback: dial, handshake and login take tens of milliseconds."""
STAYS_DOWN = FAST.reconnect_max + RECONNECT_TIME
"""How long a client that must not reconnect is watched: a reconnect, had it been scheduled,
would have started after at most ``reconnect_max`` and been seen within this window."""


async def _assert_stays_down(info: SimulatorInfo, log: EventLog, failure: type) -> None:
    """Past any reconnect delay: exactly one ``failure``, one ``Connected``, no open connection."""
    await log.assert_none_within(STAYS_DOWN, Connected, failure)
    assert len(log.of(failure)) == 1
    assert len(log.of(Connected)) == 1
    status, body = await admin(info, "GET", "/status")
    assert status == 200 and body["connections"] == [], body


async def _linked(info: SimulatorInfo) -> tuple[Any, MemoryDeviceStore, EventLog, str]:
    client, store, log = make_client(info)
    result = await link_by_qr(info, client, log)
    return client, store, log, result["jid"]


@pytest.mark.parametrize(
    ("body", "expected", "reconnects"),
    [
        ({"code": "503"}, Disconnected(code=503), True),
        ({"code": "500"}, StreamError(code="500"), True),
        (
            {"code": "401", "conflict": "device_removed"},
            LoggedOut(False, ConnectFailureReason.LOGGED_OUT),
            False,
        ),
        ({"conflict": "replaced"}, StreamReplaced(), False),
    ],
)
async def test_stream_errors(
    simulator: SimulatorInfo,  # noqa: F811
    body: dict[str, str],
    expected: object,
    reconnects: bool,
) -> None:
    client, store, log, jid = await _linked(simulator)
    status, _ = await admin(simulator, "POST", "/devices/stream-error", {"jid": jid, **body})
    assert status == 200
    event = await log.wait_for(type(expected))
    assert event == expected
    if reconnects:
        await log.wait_for(Connected, count=2)
        assert client.is_logged_in
    else:
        await _assert_stays_down(simulator, log, type(expected))
        assert not client.is_connected
    if isinstance(expected, LoggedOut):
        assert await store.load_device() is None
        with pytest.raises(DeviceDeletedError):
            await client.connect()
    await client.disconnect()


async def test_515_reconnects_without_disconnected_event(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _, log, jid = await _linked(simulator)
    await admin(simulator, "POST", "/devices/stream-error", {"jid": jid, "code": "515"})
    await log.wait_for(Connected, count=2)
    assert not log.of(Disconnected)
    await client.disconnect()


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ({"reason": 401}, LoggedOut(True, ConnectFailureReason.LOGGED_OUT)),
        (
            {"reason": 402, "code": 101, "expire": 3600},
            TemporaryBan(code=101, expire=timedelta(hours=1)),
        ),
        ({"reason": 403}, LoggedOut(True, ConnectFailureReason.MAIN_DEVICE_GONE)),
        ({"reason": 405}, ClientOutdated()),
        ({"reason": 406}, LoggedOut(True, ConnectFailureReason.UNKNOWN_LOGOUT)),
        ({"reason": 409}, ConnectFailure(reason=409)),
        # The rest of WhatsApp's reasons: reported as they are, no reconnect, device kept.
        ({"reason": 400}, ConnectFailure(reason=400)),
        ({"reason": 413}, ConnectFailure(reason=413)),
        ({"reason": 414}, ConnectFailure(reason=414)),
        ({"reason": 415}, ConnectFailure(reason=415)),
        ({"reason": 418}, ConnectFailure(reason=418)),
        ({"reason": 501}, ConnectFailure(reason=501)),
        ({"reason": 499, "message": "odd"}, ConnectFailure(reason=499, message="odd")),
    ],
)
async def test_permanent_login_failures(
    simulator: SimulatorInfo,  # noqa: F811
    failure: dict[str, int | str],
    expected: object,
) -> None:
    client, store, log, jid = await _linked(simulator)
    await admin(simulator, "POST", "/devices/login-failure", {"jid": jid, **failure})
    await admin(simulator, "POST", "/devices/drop", {"jid": jid})
    event = await log.wait_for(type(expected))
    assert event == expected
    assert log.of(Disconnected)  # the drop itself
    await _assert_stays_down(simulator, log, type(expected))
    assert not client.is_connected
    if isinstance(expected, TemporaryBan):
        assert "101" in expected.describe() and "1:00:00" in expected.describe()
    deleted = await store.load_device() is None
    assert deleted == isinstance(expected, LoggedOut)
    await client.disconnect()


@pytest.mark.parametrize("reason", [500, 503])
async def test_transient_login_failures_reconnect(simulator: SimulatorInfo, reason: int) -> None:  # noqa: F811
    client, _, log, jid = await _linked(simulator)
    await admin(simulator, "POST", "/devices/login-failure", {"jid": jid, "reason": reason})
    await admin(simulator, "POST", "/devices/drop", {"jid": jid})
    await log.wait_for(Connected, count=2)
    assert Disconnected(code=reason) in log.of(Disconnected)
    await client.disconnect()


async def test_phone_removes_device(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, store, log, jid = await _linked(simulator)
    saved = DeviceIdentity.from_dict(client.device.to_dict())
    await admin(simulator, "POST", "/mock-phone/remove-device", {"jid": jid})
    event = await log.wait_for(LoggedOut)
    assert event.device_removed and not event.on_connect
    assert await store.load_device() is None
    # The next connect with the old identity is refused too.
    again, _, log2 = make_client(simulator, saved)
    await again.connect()
    event2 = await log2.wait_for(LoggedOut)
    assert event2 == LoggedOut(True, ConnectFailureReason.LOGGED_OUT)
    await again.disconnect()
    await client.disconnect()


async def test_logout_removes_device_at_simulator(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, store, log, jid = await _linked(simulator)
    saved = DeviceIdentity.from_dict(client.device.to_dict())
    phone = jid.split(":")[0]
    await client.logout()
    assert not client.is_connected and await store.load_device() is None
    _, account = await admin(simulator, "GET", f"/accounts/{phone}")
    assert jid not in [d["jid"] for d in account["devices"]]
    assert not log.of(LoggedOut)  # our own logout is not an external one
    again, _, log2 = make_client(simulator, saved)
    await again.connect()
    assert (await log2.wait_for(LoggedOut)).reason == ConnectFailureReason.LOGGED_OUT
    await again.disconnect()


async def test_logout_needs_the_server_unless_forced(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, store, _, _ = await _linked(simulator)
    await client.disconnect()
    with pytest.raises(NotConnectedError):
        await client.logout()
    assert await store.load_device() is not None  # nothing deleted
    await client.logout(force=True)
    assert await store.load_device() is None
    with pytest.raises(DeviceDeletedError):
        await client.connect()


async def test_disconnect_then_connect_again(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _, log, _ = await _linked(simulator)
    await client.disconnect()
    assert not client.is_connected and not log.of(Disconnected)  # a clean disconnect is silent
    await client.connect()
    await log.wait_for(Connected, count=2)
    assert client.is_logged_in and len(log.of(QRCode)) == 1  # only the one it linked with
    await client.disconnect()


async def test_unknown_device_is_refused_at_login(simulator: SimulatorInfo) -> None:  # noqa: F811
    """A paired-looking identity the server never linked: <failure reason=401>, identity gone."""
    device = DeviceIdentity.generate()
    device.jid = JID.parse("15550007777:5@s.whatsapp.net")
    store = MemoryDeviceStore(device)
    client, _, log = make_client(simulator, device, store)
    await client.connect()
    event = await log.wait_for(LoggedOut)
    assert event == LoggedOut(True, ConnectFailureReason.LOGGED_OUT)
    assert not log.of(Connected) and not client.is_connected
    assert await store.load_device() is None
    await client.disconnect()
