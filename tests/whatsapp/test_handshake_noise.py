"""The Noise machinery without a network: cipher state, responder contract, and fuzzing.

``do_handshake`` is driven through an in-memory stand-in for the frame socket, so hypothesis can
throw thousands of mutated server hellos at it quickly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.crypto import KeyPair
from mautrix_whatsapp.whatsapp.proto.wa_handshake_pb2 import HandshakeMessage
from mautrix_whatsapp.whatsapp.socket import (
    CertificateError,
    FrameSocket,
    HandshakeError,
    NoiseDecryptError,
    NoiseHandshakeState,
    SocketClosedError,
    SocketError,
    TransportCipher,
    do_handshake,
    verify_server_cert,
)
from mautrix_whatsapp.whatsapp.socket.noise_handshake import gcm_iv
from tests.simulator.certs import ServerCredentials, make_server_credentials
from tests.simulator.noise import NoiseResponder, ResponderHandshakeError

CREDENTIALS = make_server_credentials()


class MemoryFrameSocket:
    """Just enough of FrameSocket for do_handshake: the server side is a function."""

    def __init__(self, reply: list[bytes]) -> None:
        self.sent: list[bytes] = []
        self.replies = reply
        self.closed = False
        self.max_frame_size = 2**24 - 1

    async def send_frame(self, data: bytes) -> None:
        if self.closed:
            raise SocketClosedError("closed")
        self.sent.append(data)

    async def receive_frame(self, timeout: float | None = None) -> bytes:
        if not self.replies:
            raise SocketClosedError("closed")
        return self.replies.pop(0)

    async def close(self, timeout: float | None = None) -> None:
        self.closed = True


class RespondingSocket(MemoryFrameSocket):
    """Answers the client hello with the responder's server hello, optionally mangled."""

    def __init__(
        self, credentials: ServerCredentials, mangle: Callable[[bytes], bytes] | None = None
    ) -> None:
        super().__init__([])
        self.responder = NoiseResponder(credentials.static, credentials.cert_chain)
        self.mangle = mangle

    async def send_frame(self, data: bytes) -> None:
        await super().send_frame(data)
        if len(self.sent) == 1:
            hello = self.responder.server_hello(data)
            self.replies.append(hello if self.mangle is None else self.mangle(hello))


def test_gcm_iv_layout() -> None:
    assert gcm_iv(0) == bytes(12)
    assert gcm_iv(0x01020304) == bytes(8) + b"\x01\x02\x03\x04"


def test_transport_cipher_counters_and_failures() -> None:
    key = os.urandom(32)
    sender, receiver = TransportCipher(key), TransportCipher(key)
    frames = [sender.encrypt(f"frame {i}".encode()) for i in range(3)]
    assert len(frames[0]) == len(b"frame 0") + 16
    assert receiver.decrypt(frames[0]) == b"frame 0"
    with pytest.raises(NoiseDecryptError):
        receiver.decrypt(frames[2])  # out of order: wrong nonce
    # The failed attempt used counter 1, so frame 2 now lines up again.
    assert receiver.decrypt(frames[2]) == b"frame 2"
    with pytest.raises(NoiseDecryptError):
        receiver.decrypt(b"")
    exhausted = TransportCipher(key)
    exhausted.counter = 2**32
    with pytest.raises(SocketError):
        exhausted.encrypt(b"x")


def test_split_directions() -> None:
    state = NoiseHandshakeState()
    to_responder, to_initiator = state.split()
    assert to_responder != to_initiator
    client = state.transport_ciphers(initiator=True)
    server = state.transport_ciphers(initiator=False)
    assert server.read.decrypt(client.write.encrypt(b"up")) == b"up"
    assert client.read.decrypt(server.write.encrypt(b"down")) == b"down"


async def test_in_memory_handshake_matches_responder() -> None:
    fs = RespondingSocket(CREDENTIALS)
    noise_key = KeyPair.generate()
    noise = await do_handshake(
        cast(FrameSocket, fs), noise_key, b"payload", CREDENTIALS.root_public_key
    )
    result = fs.responder.finish(fs.sent[1])
    assert result.client_static == noise_key.public and result.client_payload == b"payload"
    # The client hello is exactly HandshakeMessage{clientHello{ephemeral}} (Baileys' layout).
    hello = HandshakeMessage.FromString(fs.sent[0])
    assert fs.sent[0] == b"\x12\x22\x0a\x20" + hello.clientHello.ephemeral
    await noise.send_frame(b"node")
    assert result.ciphers.read.decrypt(fs.sent[2]) == b"node"


def test_responder_rejects_bad_client_messages() -> None:
    responder = NoiseResponder(CREDENTIALS.static, CREDENTIALS.cert_chain)
    with pytest.raises(ResponderHandshakeError):
        responder.finish(b"")  # out of order
    with pytest.raises(ResponderHandshakeError):
        NoiseResponder(CREDENTIALS.static, CREDENTIALS.cert_chain).server_hello(b"\xff\xff")
    with pytest.raises(ResponderHandshakeError):
        NoiseResponder(CREDENTIALS.static, CREDENTIALS.cert_chain).server_hello(
            HandshakeMessage(
                clientHello=HandshakeMessage.ClientHello(ephemeral=b"short")
            ).SerializeToString()
        )
    with pytest.raises(ResponderHandshakeError):  # a low-order point
        NoiseResponder(CREDENTIALS.static, CREDENTIALS.cert_chain).server_hello(
            HandshakeMessage(
                clientHello=HandshakeMessage.ClientHello(ephemeral=bytes(32))
            ).SerializeToString()
        )
    responder = NoiseResponder(CREDENTIALS.static, CREDENTIALS.cert_chain)
    responder.server_hello(
        HandshakeMessage(
            clientHello=HandshakeMessage.ClientHello(ephemeral=KeyPair.generate().public)
        ).SerializeToString()
    )
    with pytest.raises(ResponderHandshakeError):
        responder.finish(
            HandshakeMessage(
                clientFinish=HandshakeMessage.ClientFinish(static=os.urandom(48), payload=b"x")
            ).SerializeToString()
        )


def _run_handshake(fs: MemoryFrameSocket) -> None:
    asyncio.run(
        do_handshake(
            cast(FrameSocket, fs), KeyPair.generate(), b"payload", CREDENTIALS.root_public_key
        )
    )


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    buf = bytearray(data)
    for position, value in flips:
        buf[position % len(buf)] ^= value
    return bytes(buf if cut is None else buf[: cut % (len(buf) + 1)])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 400),
)
def test_fuzz_mutated_server_hello(flips: list[tuple[int, int]], cut: int | None) -> None:
    """Mangled server hellos fail with the handshake's own errors, never anything else."""

    def mangle(hello: bytes) -> bytes:
        mutated = _mutate(hello, flips, cut)
        return hello[:-1] if mutated == hello else mutated  # flips may cancel out

    fs = RespondingSocket(CREDENTIALS, mangle)
    with pytest.raises(HandshakeError):
        _run_handshake(fs)
    assert fs.closed and len(fs.sent) == 1


@settings(max_examples=100, deadline=None)
@given(hello=st.binary(max_size=200))
def test_fuzz_random_server_hello(hello: bytes) -> None:
    fs = MemoryFrameSocket([hello])
    with pytest.raises(HandshakeError):
        _run_handshake(fs)
    assert fs.closed


@settings(max_examples=150, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 255)), max_size=3),
    cut=st.none() | st.integers(0, 1000),
)
def test_fuzz_certificate_chain(flips: list[tuple[int, int]], cut: int | None) -> None:
    chain = _mutate(CREDENTIALS.cert_chain, flips, cut)
    try:
        verify_server_cert(chain, CREDENTIALS.static.public, CREDENTIALS.root_public_key)
    except CertificateError:
        return
    # Only the untouched chain may pass.
    assert chain == CREDENTIALS.cert_chain
