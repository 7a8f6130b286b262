"""Our socket layer and codec against the simulator, run as a real subprocess."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import zlib
from pathlib import Path

import pytest

from mautrix_whatsapp.whatsapp.binary import Node, marshal
from mautrix_whatsapp.whatsapp.crypto import KeyPair
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload
from mautrix_whatsapp.whatsapp.socket.errors import DialError, SocketClosedError
from tests.simulator_fixture import (
    AdminStatusError,
    RegistrationKeys,
    SimulatorClient,
    SimulatorInfo,
    admin,
    run_simulator,
    simulator,
    simulator_tls,
)

__all__ = ["simulator", "simulator_tls"]  # fixtures used by name below

QR_PREFIX = "https://wa.me/settings/linked_devices#"


async def register(
    info: SimulatorInfo, routing_info: bytes | None = None
) -> tuple[SimulatorClient, RegistrationKeys, list[str]]:
    """Handshake with a registration payload; check and acknowledge the pair-device IQ."""
    keys = RegistrationKeys.generate()
    client = await SimulatorClient.connect(
        info, keys.noise, keys.registration_payload(), routing_info=routing_info
    )
    iq = await client.receive()
    assert iq.tag == "iq"
    assert iq.attrs["type"] == "set"
    assert str(iq.attrs["from"]) == "s.whatsapp.net"
    assert iq.attrs["id"]
    [pair_device] = iq.children
    assert pair_device.tag == "pair-device"
    assert [ref.tag for ref in pair_device.children] == ["ref"] * 6
    refs = [ref.content for ref in pair_device.children]
    assert all(isinstance(ref, bytes) and ref.startswith(b"2@") for ref in refs)
    assert len(set(refs)) == 6
    await client.send(Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": iq.attrs["id"]}))
    return client, keys, [ref.decode() for ref in refs if isinstance(ref, bytes)]


def qr_text(keys: RegistrationKeys, ref: str, adv: bytes | None = None) -> str:
    fields = [keys.noise.public, keys.identity.public, adv or os.urandom(32)]
    return ",".join([ref, *(base64.b64encode(f).decode() for f in fields)])


async def test_registration_over_ws(simulator: SimulatorInfo) -> None:
    client, keys, refs = await register(simulator)
    try:
        status, registrations = await admin(simulator, "GET", "/registrations")
        assert status == 200
        [registration] = registrations
        assert registration["refs"] == refs
        assert registration["noise_public"] == keys.noise.public.hex()
        assert registration["identity_public"] == keys.identity.public.hex()
        assert registration["registration_id"] == keys.registration_id
        assert registration["connected"] is True
    finally:
        await client.close()
    for _ in range(100):  # the refs die with the connection
        if (await admin(simulator, "GET", "/registrations"))[1] == []:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("registration still pending after the companion disconnected")
    assert (await admin(simulator, "GET", "/status"))[1]["protocol_errors"] == []


async def test_registration_over_wss(simulator_tls: SimulatorInfo) -> None:
    assert simulator_tls.websocket_url.startswith("wss://127.0.0.1:")
    assert simulator_tls.ca_file is not None and simulator_tls.ca_file.exists()
    client, _, refs = await register(simulator_tls)
    await client.close()
    assert len(refs) == 6
    status, info = await admin(simulator_tls, "GET", "/info")
    assert status == 200
    assert info["root_public_key"] == simulator_tls.root_public_key.hex()


async def test_wss_needs_the_simulator_ca(simulator_tls: SimulatorInfo) -> None:
    """The certificate really is checked: without the CA file the TLS handshake fails."""
    from mautrix_whatsapp.whatsapp.socket.framesocket import FrameSocket

    with pytest.raises(DialError):
        await FrameSocket(simulator_tls.websocket_url).connect()


@pytest.mark.parametrize("with_child", [True, False])
async def test_ping(simulator: SimulatorInfo, with_child: bool) -> None:
    client, _, _ = await register(simulator)
    try:
        ping = Node(
            "iq",
            {"id": "ping-1", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"},
            [Node("ping")] if with_child else None,
        )
        response = await client.request(ping)
        assert response.attrs["type"] == "result"
        assert not response.children
    finally:
        await client.close()


async def test_unknown_iq_gets_501(simulator: SimulatorInfo) -> None:
    client, _, _ = await register(simulator)
    try:
        request = Node(
            "iq",
            {"id": "x-1", "to": "s.whatsapp.net", "type": "get", "xmlns": "no:such:feature"},
            [Node("anything", {"a": "b"})],
        )
        response = await client.request(request)
        assert response.attrs["type"] == "error"
        [error] = response.children
        assert error.tag == "error"
        assert error.attrs == {"code": "501", "text": "feature-not-implemented"}
        # The connection stays usable after an unanswerable request.
        ping = Node("iq", {"id": "p", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"})
        assert (await client.request(ping)).attrs["type"] == "result"
    finally:
        await client.close()


async def test_ed_routing_prefix_tolerated(simulator: SimulatorInfo) -> None:
    routing = b"\x08\x03\x12\x07edge-42"
    client, _, refs = await register(simulator, routing_info=routing)
    try:
        assert len(refs) == 6
        status = (await admin(simulator, "GET", "/status"))[1]
        [connection] = status["connections"]
        assert connection["routing_info"] == routing.hex()
        assert status["protocol_errors"] == []
    finally:
        await client.close()


async def test_scan_qr_validation(simulator: SimulatorInfo) -> None:
    client, keys, refs = await register(simulator)
    try:
        for text in (qr_text(keys, refs[0]), QR_PREFIX + qr_text(keys, refs[2]) + ",1"):
            status, body = await admin(simulator, "POST", "/mock-phone/scan-qr?check_only=1", text)
            assert (status, body["valid"]) == (200, True)

        status, body = await admin(
            simulator, "POST", "/mock-phone/scan-qr", "garbage", expect={400}
        )
        assert status == 400 and "error" in body
        status, _ = await admin(
            simulator, "POST", "/mock-phone/scan-qr", qr_text(keys, "2@unknownref"), expect={404}
        )
        assert status == 404
        other = RegistrationKeys.generate()
        status, body = await admin(
            simulator, "POST", "/mock-phone/scan-qr", qr_text(other, refs[1]), expect={400}
        )
        assert status == 400 and "do not match" in body["error"]

        # A real scan (without check_only) is tested with Baileys, which can answer the phone.
        status, _ = await admin(simulator, "GET", "/mock-phone/scan-qr", expect={405})
        assert status == 405
        status, _ = await admin(simulator, "GET", "/no/such/endpoint", expect={404})
        assert status == 404
        # Unless the caller expects an error status, one fails the call.
        with pytest.raises(AdminStatusError, match="status 404"):
            await admin(simulator, "GET", "/no/such/endpoint")
        with pytest.raises(AdminStatusError, match="status 200"):
            await admin(simulator, "GET", "/status", expect={404})
    finally:
        await client.close()


async def test_unknown_device_login_gets_401(simulator: SimulatorInfo) -> None:
    payload = ClientPayload(username=15550009999, device=7, passive=True, pull=True)
    client = await SimulatorClient.connect(
        simulator, KeyPair.generate(), payload.SerializeToString()
    )
    try:
        failure = await client.receive()
        assert failure.tag == "failure"
        assert failure.attrs["reason"] == "401"
        with pytest.raises(SocketClosedError):
            await client.receive(timeout=5)
    finally:
        await client.close()


async def _register_with_a_short_identity_key(info: SimulatorInfo) -> None:
    keys = RegistrationKeys.generate()
    payload = ClientPayload.FromString(keys.registration_payload())
    payload.devicePairingData.eIdent = b"\x01" * 31
    client = await SimulatorClient.connect(info, keys.noise, payload.SerializeToString())
    try:
        failure = await client.receive()
        assert (failure.tag, failure.attrs["reason"]) == ("failure", "400")
    finally:
        await client.close()


@pytest.mark.simulator_protocol_errors("identity key is 31 bytes")
async def test_malformed_registration_refused(simulator: SimulatorInfo) -> None:
    await _register_with_a_short_identity_key(simulator)
    errors = (await admin(simulator, "GET", "/status"))[1]["protocol_errors"]
    assert any("identity key is 31 bytes" in error for error in errors)


@pytest.mark.parametrize(
    ("expected", "fails"), [((), True), (("something else",), True), (("identity key",), False)]
)
async def test_teardown_fails_on_unexpected_protocol_errors(
    tmp_path: Path, expected: tuple[str, ...], fails: bool
) -> None:
    """A client's fault fails the test at the simulator's teardown, unless the test expects it."""
    outcome = (
        pytest.raises(AssertionError, match=r"(?s)protocol error.*identity key is 31 bytes")
        if fails
        else contextlib.nullcontext()
    )
    with outcome, run_simulator(tmp_path / "sim", expected_protocol_errors=expected) as info:
        await _register_with_a_short_identity_key(info)


async def test_zlib_compressed_node_accepted(simulator: SimulatorInfo) -> None:
    """A frame whose flags byte says zlib (0x02) is inflated before decoding."""
    client, _, _ = await register(simulator)
    try:
        ping = Node("iq", {"id": "z-1", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"})
        await client.noise.send_frame(b"\x02" + zlib.compress(marshal(ping)[1:]))
        response = await client.receive()
        assert (response.attrs["id"], response.attrs["type"]) == ("z-1", "result")
    finally:
        await client.close()
