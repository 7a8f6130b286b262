"""The client side of WhatsApp's Noise_XX_25519_AESGCM_SHA256 handshake.

Three messages: our ephemeral key; the server's ephemeral key, its encrypted static key and its
encrypted certificate chain; our encrypted long-term Noise key and ClientPayload. The handshake
never hangs: it runs under one deadline, and a connection that drops meanwhile ends it at once.
"""

from __future__ import annotations

import asyncio

from google.protobuf.message import DecodeError

from ..crypto import KeyPair
from ..crypto.keys import strip_key_type
from ..proto.wa_handshake_pb2 import HandshakeMessage
from .cert import WA_CERT_PUB_KEY, verify_server_cert
from .errors import (
    HandshakeClosedError,
    HandshakeError,
    HandshakeTimeoutError,
    NoiseDecryptError,
    SocketClosedError,
)
from .framesocket import ABORT_CLOSE_TIMEOUT, FrameSocket
from .noise_handshake import NoiseHandshakeState
from .noise_socket import NoiseSocket

NOISE_HANDSHAKE_RESPONSE_TIMEOUT = 20.0
"""whatsmeow's wait for the server hello, in seconds; here it bounds the whole handshake."""
KEY_SIZE = 32


def _dh(own: KeyPair, their_public: bytes, what: str) -> bytes:
    try:
        return own.dh(their_public)
    except ValueError as e:  # a low-order point yields an all-zero secret, which X25519 refuses
        raise HandshakeError(f"unusable {what} key from the server") from e


def _decrypt(state: NoiseHandshakeState, ciphertext: bytes, what: str) -> bytes:
    try:
        return state.decrypt(ciphertext)
    except NoiseDecryptError as e:
        raise HandshakeError(f"failed to decrypt the server's {what}") from e


async def do_handshake(
    frame_socket: FrameSocket,
    noise_key: KeyPair,
    client_payload: bytes,
    root_public_key: bytes = WA_CERT_PUB_KEY,
    timeout: float = NOISE_HANDSHAKE_RESPONSE_TIMEOUT,
    *,
    ephemeral: KeyPair | None = None,
    now: float | None = None,
) -> NoiseSocket:
    """Run the handshake on a connected frame socket and return the encrypted transport.

    ``client_payload`` is a serialized ``ClientPayload``. ``root_public_key`` (32 bytes, or 33
    with the 05 prefix) must have signed the server's intermediate certificate. On any failure
    the frame socket is closed and a :class:`HandshakeError` (or, for an oversized frame,
    :class:`FrameTooLargeError`) is raised.
    """
    try:
        root = strip_key_type(root_public_key)
        async with asyncio.timeout(timeout):
            return await _handshake(
                frame_socket, noise_key, client_payload, root, ephemeral or KeyPair.generate(), now
            )
    except TimeoutError as e:
        await frame_socket.close(ABORT_CLOSE_TIMEOUT)
        raise HandshakeTimeoutError(f"no handshake response within {timeout} seconds") from e
    except BaseException:
        await frame_socket.close(ABORT_CLOSE_TIMEOUT)
        raise


async def _handshake(
    frame_socket: FrameSocket,
    noise_key: KeyPair,
    client_payload: bytes,
    root_public_key: bytes,
    ephemeral: KeyPair,
    now: float | None,
) -> NoiseSocket:
    state = NoiseHandshakeState()
    state.mix_hash(ephemeral.public)
    hello = HandshakeMessage(clientHello=HandshakeMessage.ClientHello(ephemeral=ephemeral.public))
    try:
        await frame_socket.send_frame(hello.SerializeToString())
        response_frame = await frame_socket.receive_frame()
    except SocketClosedError as e:  # an oversized frame is not one: it propagates as itself
        raise HandshakeClosedError("connection closed during the handshake") from e

    response = HandshakeMessage()
    try:
        response.ParseFromString(response_frame)
    except DecodeError as e:
        raise HandshakeError("the server hello is not a HandshakeMessage") from e
    server_hello = response.serverHello
    if not (
        response.HasField("serverHello")
        and len(server_hello.ephemeral) == KEY_SIZE
        and server_hello.HasField("static")
        and server_hello.HasField("payload")
    ):
        raise HandshakeError("missing parts of the server hello")

    state.mix_hash(server_hello.ephemeral)
    state.mix_key(_dh(ephemeral, server_hello.ephemeral, "ephemeral"))
    server_static = _decrypt(state, server_hello.static, "static key")
    if len(server_static) != KEY_SIZE:
        raise HandshakeError(f"server static key is {len(server_static)} bytes, expected 32")
    state.mix_key(_dh(ephemeral, server_static, "static"))
    cert_chain = _decrypt(state, server_hello.payload, "certificate chain")
    verify_server_cert(cert_chain, server_static, root_public_key, now=now)

    encrypted_static = state.encrypt(noise_key.public)
    state.mix_key(_dh(noise_key, server_hello.ephemeral, "ephemeral"))
    encrypted_payload = state.encrypt(client_payload)
    finish = HandshakeMessage(
        clientFinish=HandshakeMessage.ClientFinish(
            static=encrypted_static, payload=encrypted_payload
        )
    )
    try:
        await frame_socket.send_frame(finish.SerializeToString())
    except SocketClosedError as e:
        raise HandshakeClosedError("connection closed during the handshake") from e
    return NoiseSocket(frame_socket, state.transport_ciphers(initiator=True))
