"""The responder side of WhatsApp's Noise XX handshake, sans-IO.

The simulator's websocket handler strips the connection header (``WA 06 03``, possibly behind an
``ED`` routing prefix) and the 3-byte frame lengths, then drives one :class:`NoiseResponder` per
connection::

    responder = NoiseResponder(credentials.static, credentials.cert_chain)
    send(responder.server_hello(first_frame))
    result = responder.finish(second_frame)      # -> client key, ClientPayload bytes, ciphers
    send(result.ciphers.write.encrypt(node_bytes))
    node_bytes = result.ciphers.read.decrypt(frame)

The message order mirrors the initiator (``mautrix_whatsapp.whatsapp.socket.handshake``); the DH
order on this side is (se, ce), (ss, ce), (se, cs).
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.crypto import KeyPair
from mautrix_whatsapp.whatsapp.proto.wa_handshake_pb2 import HandshakeMessage
from mautrix_whatsapp.whatsapp.socket.errors import NoiseDecryptError
from mautrix_whatsapp.whatsapp.socket.noise_handshake import (
    WA_CONN_HEADER,
    CipherPair,
    NoiseHandshakeState,
)

KEY_SIZE = 32


class ResponderHandshakeError(Exception):
    """The client's handshake message is malformed or out of order; drop the connection."""


@dataclass(frozen=True, repr=False)
class HandshakeResult:
    """What the server learns from a completed handshake."""

    client_static: bytes
    """The client's 32-byte long-term Noise public key (the device's ``noiseKey``)."""
    client_payload: bytes
    """The decrypted, still serialized ``ClientPayload``."""
    ciphers: CipherPair
    """Transport ciphers: ``read`` uses the first split key, ``write`` the second."""

    def __repr__(self) -> str:
        return f"HandshakeResult(client_static={self.client_static.hex()})"


def _parse(frame: bytes, what: str) -> HandshakeMessage:
    message = HandshakeMessage()
    try:
        message.ParseFromString(frame)
    except DecodeError as e:
        raise ResponderHandshakeError(f"{what} is not a HandshakeMessage") from e
    return message


def _dh(own: KeyPair, their_public: bytes) -> bytes:
    try:
        return own.dh(their_public)
    except ValueError as e:  # a low-order point gives an all-zero secret, which X25519 refuses
        raise ResponderHandshakeError("client sent an unusable Curve25519 key") from e


class NoiseResponder:
    """One server-side handshake. Call :meth:`server_hello`, then :meth:`finish`, once each."""

    def __init__(
        self,
        static: KeyPair,
        cert_chain: bytes,
        *,
        ephemeral: KeyPair | None = None,
        prologue: bytes = WA_CONN_HEADER,
    ) -> None:
        self._static = static
        self._cert_chain = cert_chain
        self._ephemeral = ephemeral or KeyPair.generate()
        self._state = NoiseHandshakeState(prologue)
        self._step = 0

    def server_hello(self, client_hello_frame: bytes) -> bytes:
        """Take the client's first frame (header stripped) and return the server hello frame."""
        if self._step != 0:
            raise ResponderHandshakeError("server hello already sent")
        self._step = 1
        hello = _parse(client_hello_frame, "client hello")
        client_ephemeral = hello.clientHello.ephemeral
        if not hello.HasField("clientHello") or len(client_ephemeral) != KEY_SIZE:
            raise ResponderHandshakeError("client hello lacks a 32-byte ephemeral key")
        self._client_ephemeral = client_ephemeral
        state = self._state
        state.mix_hash(client_ephemeral)
        state.mix_hash(self._ephemeral.public)
        state.mix_key(_dh(self._ephemeral, client_ephemeral))
        encrypted_static = state.encrypt(self._static.public)
        state.mix_key(_dh(self._static, client_ephemeral))
        encrypted_payload = state.encrypt(self._cert_chain)
        return HandshakeMessage(
            serverHello=HandshakeMessage.ServerHello(
                ephemeral=self._ephemeral.public,
                static=encrypted_static,
                payload=encrypted_payload,
            )
        ).SerializeToString()

    def finish(self, client_finish_frame: bytes) -> HandshakeResult:
        """Take the client finish frame; return the client's key, payload and transport ciphers."""
        if self._step != 1:
            raise ResponderHandshakeError("client finish before server hello, or twice")
        self._step = 2
        finish = _parse(client_finish_frame, "client finish")
        if not finish.HasField("clientFinish"):
            raise ResponderHandshakeError("expected a client finish message")
        state = self._state
        try:
            client_static = state.decrypt(finish.clientFinish.static)
            if len(client_static) != KEY_SIZE:
                raise ResponderHandshakeError("client static key is not 32 bytes")
            state.mix_key(_dh(self._ephemeral, client_static))
            client_payload = state.decrypt(finish.clientFinish.payload)
        except NoiseDecryptError as e:
            raise ResponderHandshakeError(f"client finish failed to decrypt: {e}") from e
        return HandshakeResult(
            client_static=client_static,
            client_payload=client_payload,
            ciphers=state.transport_ciphers(initiator=False),
        )
