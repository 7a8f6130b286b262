"""Linking our Client to the simulator (a real subprocess) by QR and by pairing code."""

from __future__ import annotations

import asyncio

import pytest

from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import (
    Connected,
    Disconnected,
    PairError,
    PairingCode,
    PairSuccess,
    QRCode,
    QRTimeout,
)
from mautrix_whatsapp.whatsapp.pair_code import InvalidPhoneNumberError
from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2
from mautrix_whatsapp.whatsapp.qrchan import LoginChannel, QRTiming
from mautrix_whatsapp.whatsapp.request import IQError
from tests.simulator_fixture import SimulatorInfo, simulator, simulator_tls  # noqa: F401
from tests.whatsapp.test_client_helpers import FAST, admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(60)


async def test_qr_link_then_515_then_login_then_relogin(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, store, log = make_client(simulator)
    result = await link_by_qr(simulator, client, log)
    success = log.of(PairSuccess)[0]
    assert str(success.jid) == result["jid"]
    assert client.is_logged_in
    assert not log.of(Disconnected)  # the 515 restart is silent
    stored = await store.load_device()
    assert stored is not None and str(stored.jid) == result["jid"]
    assert stored.account is not None and stored.lid is not None
    # The simulator saw the countersignature, active mode and the first pre-key batch.
    _, account = await admin(simulator, "GET", f"/accounts/{result['phone']}")
    device = next(d for d in account["devices"] if d["jid"] == result["jid"])
    assert device["confirmed"] and device["connected"] and device["active"]
    assert await client.get_server_pre_key_count() == 812
    await client.disconnect()
    assert not client.is_connected

    # A new Client from the stored identity logs in without pairing.
    again, _, log2 = make_client(simulator, stored, store)
    await again.connect()
    await log2.wait_for(Connected)
    assert not log2.of(QRCode) and again.is_logged_in
    assert await again.get_server_pre_key_count() == 812  # no second upload needed
    await again.disconnect()


async def test_qr_codes_rotate_and_time_out(simulator: SimulatorInfo) -> None:  # noqa: F811
    await admin(simulator, "POST", "/mock-phone/ref-lifetime", {"first": 0.3, "next": 0.1})
    timing = FAST.__class__(**{**FAST.__dict__, "qr": QRTiming(first=0.3, next=0.1)})
    client, store, log = make_client(simulator, timing=timing)
    await client.connect()
    await log.wait_for(QRTimeout)
    codes = log.of(QRCode)
    assert [c.timeout for c in codes] == [0.3, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert len({c.code for c in codes}) == 6
    assert all(c.code.startswith("https://wa.me/settings/linked_devices#") for c in codes)
    assert not client.is_connected
    status, body = await admin(
        simulator, "POST", "/mock-phone/scan-qr", raw=codes[-1].code, expect={404, 410}
    )
    assert status in (404, 410), body  # expired (or dropped with the connection)
    assert await store.load_device() is None
    await client.disconnect()


@pytest.mark.parametrize(
    ("tamper", "error_text"),
    [
        ({"bad_hmac": True}, "hmac-mismatch"),
        ({"bad_account_signature": True}, "signature-mismatch"),
    ],
)
async def test_tampered_pair_success_is_refused(
    simulator: SimulatorInfo,  # noqa: F811
    tamper: dict[str, bool],
    error_text: str,
) -> None:
    await admin(simulator, "POST", "/mock-phone/tamper", tamper)
    client, store, log = make_client(simulator)
    await client.connect()
    qr = await log.wait_for(QRCode)
    status, result = await admin(simulator, "POST", "/mock-phone/scan-qr", raw=qr.code)
    assert status == 200 and result["linked"] is False
    assert result["error"] == {"code": "401", "text": error_text}
    error = await log.wait_for(PairError)
    assert getattr(error.error, "text", None) == error_text
    assert not client.device.is_paired and await store.load_device() is None
    assert not log.of(PairSuccess)
    await client.disconnect()
    # Not corrupted: the same identity links fine afterwards.
    client2, _store2, log2 = make_client(simulator, client.device, store)
    await link_by_qr(simulator, client2, log2)
    assert client2.device.is_paired
    await client2.disconnect()


@pytest.mark.parametrize("by", ["qr", "code"])
async def test_hosted_account_links(simulator: SimulatorInfo, by: str) -> None:  # noqa: F811
    """A hosted (Cloud API) account's phone signs with 06 05 and puts 06 05 before the HMAC
    input; we accept that and countersign with 06 01, which the phone checks."""
    phone = "15550102040"
    _, account = await admin(
        simulator, "POST", "/accounts", {"phone": phone, "hosted": True, "default": True}
    )
    assert account["hosted"] is True
    client, store, log = make_client(simulator)
    if by == "qr":
        await link_by_qr(simulator, client, log)
    else:
        await client.connect()
        await log.wait_for(QRCode)
        code = await client.pair_phone(phone)
        _, result = await admin(
            simulator, "POST", "/mock-phone/enter-code", {"phone": phone, "code": code}
        )
        assert result["linked"], result
        await log.wait_for(Connected)
    assert not log.of(PairError)
    stored = await store.load_device()
    assert stored is not None and stored.account is not None
    signed = wa_adv_pb2.ADVSignedDeviceIdentity.FromString(stored.account)
    details = wa_adv_pb2.ADVDeviceIdentity.FromString(signed.details)
    assert details.deviceType == details.accountType == wa_adv_pb2.HOSTED
    _, account = await admin(simulator, "GET", f"/accounts/{phone}")
    [device] = account["devices"]
    assert device["jid"] == str(stored.jid) and device["confirmed"]  # the 06 01 countersignature
    await client.disconnect()


async def test_pairing_code_links(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _store, log = make_client(simulator)
    await client.connect()
    await log.wait_for(QRCode)
    code = await client.pair_phone("+1 555 010 2030")
    assert len(code) == 9 and code[4] == "-"
    assert log.of(PairingCode)[0].code == code
    status, result = await admin(
        simulator, "POST", "/mock-phone/enter-code", {"phone": "15550102030", "code": code}
    )
    assert status == 200 and result["linked"], result
    await log.wait_for(Connected)
    assert str(client.device.jid).startswith("15550102030:")
    await client.disconnect()


async def test_wrong_pairing_code_is_an_error_not_a_hang(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _store, log = make_client(simulator)
    await client.connect()
    await log.wait_for(QRCode)
    code = await client.pair_phone("+15550102031")
    wrong = "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY"
    status, result = await admin(
        simulator,
        "POST",
        "/mock-phone/enter-code",
        {"phone": "15550102031", "code": wrong},
        expect={409},
    )
    assert status == 409 and result["error"]["text"] == "incorrect-code"
    error = await log.wait_for(PairError)
    assert isinstance(error.error, IQError) and error.error.text == "incorrect-code"
    assert not client.device.is_paired
    # Still linkable by QR: the codes on show carry the ADV secret they were made with.
    qr = log.of(QRCode)[-1]
    status, result = await admin(simulator, "POST", "/mock-phone/scan-qr", raw=qr.code)
    assert status == 200 and result["linked"], result
    await log.wait_for(Connected)
    await client.disconnect()


async def test_invalid_phone_number_is_refused_before_sending(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _, _log = make_client(simulator)
    with pytest.raises(InvalidPhoneNumberError):
        await client.pair_phone("0123 4567")  # national format
    assert not client.is_connected  # nothing was even dialled
    assert isinstance(client, Client)


async def test_login_channel(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _, log = make_client(simulator)
    channel = LoginChannel(client)
    await client.connect()
    seen: list[object] = []
    async with asyncio.timeout(20):
        async for item in channel:
            seen.append(item)
            if isinstance(item, QRCode):
                status, _ = await admin(simulator, "POST", "/mock-phone/scan-qr", raw=item.code)
                assert status == 200
    assert isinstance(seen[0], QRCode) and isinstance(seen[-1], PairSuccess)
    await log.wait_for(Connected)
    # Closed after the final event: later events do not reach it.
    assert channel._done
    await client.disconnect()


async def test_qr_link_over_wss(simulator_tls: SimulatorInfo) -> None:  # noqa: F811
    assert simulator_tls.websocket_url.startswith("wss://")
    client, _, log = make_client(simulator_tls, ca_file=simulator_tls.ca_file)
    result = await link_by_qr(simulator_tls, client, log)
    assert client.is_logged_in and str(client.device.jid) == result["jid"]
    await client.disconnect()
