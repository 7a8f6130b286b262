"""The Noise handshake end to end: our client against the simulator's responder core.

A small aiohttp websocket server in each test plays WhatsApp's edge, built from
``tests/simulator/noise.py`` and ``tests/simulator/certs.py``; the test decides what it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mautrix_whatsapp.whatsapp.crypto import KeyPair
from mautrix_whatsapp.whatsapp.proto.wa_handshake_pb2 import HandshakeMessage
from mautrix_whatsapp.whatsapp.socket import (
    WA_CONN_HEADER,
    CertificateError,
    CertificateErrorReason,
    DialError,
    FrameDecoder,
    FrameSocket,
    FrameTooLargeError,
    HandshakeClosedError,
    HandshakeError,
    HandshakeTimeoutError,
    NoiseDecryptError,
    NoiseSocket,
    SocketClosedError,
    do_handshake,
    encode_frame,
)
from tests.simulator.certs import ServerCredentials, issue_chain, make_server_credentials
from tests.simulator.noise import HandshakeResult, NoiseResponder

pytestmark = pytest.mark.timeout(20)

CLIENT_PAYLOAD = b"\x08\x01\x18\x00 serialized ClientPayload stand-in"


class ServerConn:
    """One accepted websocket, with the server half of the framing."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.decoder = FrameDecoder()
        self.frames: list[bytes] = []
        self.first_message: bytes | None = None

    async def next_frame(self) -> bytes:
        while not self.frames:
            message = await self.ws.receive()
            if message.type != WSMsgType.BINARY:
                raise ConnectionError(f"client sent {message.type}")
            data: bytes = message.data
            if self.first_message is None:
                self.first_message = data
                assert data.startswith(WA_CONN_HEADER)
                data = data[len(WA_CONN_HEADER) :]
            self.frames += self.decoder.feed(data)
        return self.frames.pop(0)

    async def send_frame(self, payload: bytes) -> None:
        await self.ws.send_bytes(encode_frame(payload))

    async def respond(self, credentials: ServerCredentials) -> HandshakeResult:
        responder = NoiseResponder(credentials.static, credentials.cert_chain)
        await self.send_frame(responder.server_hello(await self.next_frame()))
        return responder.finish(await self.next_frame())


Script = Callable[[ServerConn], Awaitable[object]]


class ServerHarness:
    def __init__(self) -> None:
        self.runners: list[web.AppRunner] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.errors: list[BaseException] = []
        self.done = asyncio.Event()

    async def start(self, script: Script, ssl_context: ssl.SSLContext | None = None) -> str:
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            self.sockets.append(ws)
            try:
                await script(ServerConn(ws, request))
            except BaseException as e:
                self.errors.append(e)
                raise
            finally:
                self.done.set()
                await ws.close()
            return ws

        app = web.Application()
        app.router.add_get("/ws/chat", handler)
        runner = web.AppRunner(app, shutdown_timeout=1)
        await runner.setup()
        self.runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = runner.addresses[0][1]
        return f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{port}/ws/chat"

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for runner in self.runners:
            await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[ServerHarness]:
    srv = ServerHarness()
    yield srv
    await srv.stop()


@pytest.fixture(scope="module")
def credentials() -> ServerCredentials:
    return make_server_credentials()


async def _connect(url: str, **kwargs: Any) -> FrameSocket:
    fs = FrameSocket(url, connect_timeout=5, **kwargs)
    await fs.connect()
    return fs


async def echo_server(conn: ServerConn, credentials: ServerCredentials) -> HandshakeResult:
    """Complete the handshake, greet, then echo every frame until the client leaves."""
    result = await conn.respond(credentials)
    await conn.send_frame(result.ciphers.write.encrypt(b"hello from server"))
    while True:
        try:
            frame = await conn.next_frame()
        except ConnectionError:
            return result
        await conn.send_frame(
            result.ciphers.write.encrypt(b"echo:" + result.ciphers.read.decrypt(frame))
        )


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simulator test CA")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


async def _exchange(noise: NoiseSocket) -> None:
    assert await noise.receive_frame(timeout=5) == b"hello from server"
    for i in range(3):
        await noise.send_frame(f"frame {i}".encode())
    for i in range(3):
        assert await noise.receive_frame(timeout=5) == f"echo:frame {i}".encode()


async def test_handshake_and_encrypted_frames_over_ws(
    server: ServerHarness, credentials: ServerCredentials
) -> None:
    results: list[HandshakeResult] = []
    origins: list[str | None] = []

    async def script(conn: ServerConn) -> None:
        origins.append(conn.request.headers.get("Origin"))
        results.append(await echo_server(conn, credentials))

    url = await server.start(script)
    noise_key = KeyPair.generate()
    fs = await _connect(url)
    noise = await do_handshake(fs, noise_key, CLIENT_PAYLOAD, credentials.root_public_key)
    await _exchange(noise)
    await noise.close()
    await asyncio.wait_for(server.done.wait(), 5)
    assert not server.errors
    assert origins == ["https://web.whatsapp.com"]
    [result] = results
    assert result.client_static == noise_key.public
    assert result.client_payload == CLIENT_PAYLOAD
    # Counters advanced in step on both sides: 1 greeting + 3 echoes, 3 frames received.
    assert result.ciphers.write.counter == 4 and result.ciphers.read.counter == 3


async def test_handshake_over_wss_with_extra_ca(
    server: ServerHarness, credentials: ServerCredentials, tmp_path: Path
) -> None:
    context, ca_file = _self_signed(tmp_path)
    url = await server.start(lambda conn: echo_server(conn, credentials), ssl_context=context)
    assert url.startswith("wss://")
    fs = await _connect(url, ca_file=ca_file)
    noise = await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, credentials.root_public_key)
    await _exchange(noise)
    await noise.close()


async def test_wss_without_the_ca_is_refused(
    server: ServerHarness, credentials: ServerCredentials, tmp_path: Path
) -> None:
    context, _ = _self_signed(tmp_path)
    url = await server.start(lambda conn: echo_server(conn, credentials), ssl_context=context)
    with pytest.raises(DialError):
        await _connect(url)


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        pytest.param(
            {"intermediate_signer": KeyPair.generate()},
            CertificateErrorReason.BAD_ROOT_SIGNATURE,
            id="other root",
        ),
        pytest.param(
            {"intermediate_issuer_serial": 1},
            CertificateErrorReason.BAD_INTERMEDIATE_ISSUER,
            id="issuer serial 1",
        ),
        pytest.param(
            {"leaf_key": KeyPair.generate().public},
            CertificateErrorReason.LEAF_KEY_MISMATCH,
            id="leaf key mismatch",
        ),
        pytest.param({"leaf_not_after": 1_000_000}, CertificateErrorReason.EXPIRED, id="expired"),
    ],
)
async def test_bad_certificate_chain_is_rejected(
    server: ServerHarness,
    credentials: ServerCredentials,
    variant: dict[str, Any],
    reason: CertificateErrorReason,
) -> None:
    chain = issue_chain(credentials.root, credentials.static.public, **variant)
    bad = ServerCredentials(root=credentials.root, static=credentials.static, cert_chain=chain)
    disconnects: list[bool] = []
    url = await server.start(lambda conn: echo_server(conn, bad))
    fs = await _connect(url)
    fs.add_disconnect_handler(disconnects.append)
    with pytest.raises(CertificateError) as info:
        await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, credentials.root_public_key)
    assert info.value.reason is reason
    assert not fs.is_connected and disconnects == [False]


async def _reject_with_hello(server: ServerHarness, hello: bytes) -> HandshakeError:
    async def script(conn: ServerConn) -> None:
        await conn.next_frame()
        await conn.send_frame(hello)
        await conn.next_frame()  # waits until the client hangs up

    url = await server.start(script)
    fs = await _connect(url)
    with pytest.raises(HandshakeError) as info:
        await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, os.urandom(32), timeout=10)
    assert not fs.is_connected
    return info.value


async def test_random_server_hello(server: ServerHarness) -> None:
    await _reject_with_hello(server, os.urandom(80))


async def test_non_protobuf_server_hello(server: ServerHarness) -> None:
    error = await _reject_with_hello(server, b"\xff\xff\xff\xff\xff")
    assert "not a HandshakeMessage" in str(error)


async def test_server_hello_missing_parts(server: ServerHarness) -> None:
    hello = HandshakeMessage(serverHello=HandshakeMessage.ServerHello(ephemeral=os.urandom(32)))
    error = await _reject_with_hello(server, hello.SerializeToString())
    assert "missing parts" in str(error)


async def test_server_hello_with_garbage_ciphertext(server: ServerHarness) -> None:
    hello = HandshakeMessage(
        serverHello=HandshakeMessage.ServerHello(
            ephemeral=os.urandom(32), static=os.urandom(48), payload=os.urandom(100)
        )
    )
    error = await _reject_with_hello(server, hello.SerializeToString())
    assert isinstance(error.__cause__, NoiseDecryptError)


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_connection_closed_mid_handshake(server: ServerHarness, how: str) -> None:
    async def script(conn: ServerConn) -> None:
        await conn.next_frame()
        if how == "close":
            await conn.ws.close()
        else:
            assert conn.request.transport is not None
            conn.request.transport.abort()

    url = await server.start(script)
    fs = await _connect(url)
    with pytest.raises(HandshakeClosedError) as info:
        await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, os.urandom(32), timeout=60)
    assert isinstance(info.value, SocketClosedError)


async def test_silent_server_times_out(server: ServerHarness) -> None:
    async def script(conn: ServerConn) -> None:
        await conn.next_frame()
        with contextlib.suppress(ConnectionError):
            await conn.next_frame()  # silent until the client hangs up

    url = await server.start(script)
    fs = await _connect(url)
    with pytest.raises(HandshakeTimeoutError):
        await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, os.urandom(32), timeout=0.3)
    assert not fs.is_connected


async def test_oversized_incoming_frame_during_handshake(server: ServerHarness) -> None:
    async def script(conn: ServerConn) -> None:
        await conn.next_frame()
        await conn.ws.send_bytes((1025).to_bytes(3, "big") + b"x" * 100)
        await conn.next_frame()

    url = await server.start(script)
    fs = await _connect(url, max_frame_size=1024)
    with pytest.raises(FrameTooLargeError) as info:
        await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, os.urandom(32), timeout=60)
    assert info.value.incoming and info.value.size == 1025
    assert not fs.is_connected


async def test_oversized_outgoing_frames(
    server: ServerHarness, credentials: ServerCredentials
) -> None:
    url = await server.start(lambda conn: echo_server(conn, credentials))
    fs = await _connect(url, max_frame_size=1024)
    with pytest.raises(FrameTooLargeError):
        # The ClientPayload no longer fits in the client finish frame.
        await do_handshake(fs, KeyPair.generate(), b"p" * 1024, credentials.root_public_key)
    assert not fs.is_connected

    fs = await _connect(url, max_frame_size=1024)
    noise = await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, credentials.root_public_key)
    with pytest.raises(FrameTooLargeError) as info:
        await noise.send_frame(b"x" * (1024 - 15))  # plus the 16-byte tag: one byte too many
    assert not info.value.incoming
    # The refused frame did not use up a nonce: the exchange still works.
    await _exchange(noise)
    await noise.close()


async def test_bad_transport_frame_is_a_typed_error_and_not_fatal(
    server: ServerHarness, credentials: ServerCredentials
) -> None:
    async def script(conn: ServerConn) -> None:
        result = await conn.respond(credentials)
        good = result.ciphers.write.encrypt(b"first")
        await conn.send_frame(good[:-1] + bytes([good[-1] ^ 1]))
        await conn.send_frame(result.ciphers.write.encrypt(b"second"))
        await conn.send_frame(result.ciphers.write.encrypt(b"third")[:5])  # shorter than a tag
        await conn.send_frame(result.ciphers.write.encrypt(b"fourth"))
        await conn.send_frame(result.ciphers.write.encrypt(b"fifth"))

    url = await server.start(script)
    fs = await _connect(url)
    noise = await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, credentials.root_public_key)
    with pytest.raises(NoiseDecryptError):
        await noise.receive_frame(timeout=5)
    assert await noise.receive_frame(timeout=5) == b"second"
    # The iterator drops undecryptable frames and ends when the server closes.
    assert [frame async for frame in noise] == [b"fourth", b"fifth"]


async def test_disconnect_is_observed(
    server: ServerHarness, credentials: ServerCredentials
) -> None:
    async def script(conn: ServerConn) -> None:
        result = await conn.respond(credentials)
        await conn.send_frame(result.ciphers.write.encrypt(b"bye"))

    url = await server.start(script)
    fs = await _connect(url)
    disconnects: list[bool] = []
    noise = await do_handshake(fs, KeyPair.generate(), CLIENT_PAYLOAD, credentials.root_public_key)
    noise.add_disconnect_handler(disconnects.append)
    assert await noise.receive_frame(timeout=5) == b"bye"
    await asyncio.wait_for(noise.wait_closed(), 5)
    assert disconnects == [True]
    assert not noise.is_connected
    with pytest.raises(SocketClosedError):
        await noise.receive_frame(timeout=5)
    with pytest.raises(SocketClosedError):
        await noise.send_frame(b"too late")
