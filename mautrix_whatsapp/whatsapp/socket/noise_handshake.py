"""The symmetric state of WhatsApp's Noise_XX_25519_AESGCM_SHA256 handshake.

Both roles use it: the client (``handshake.py``) as initiator, the test simulator as responder.
Everything here is sans-IO: bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..crypto.hkdf import hkdf_sha256
from .errors import NoiseDecryptError, SocketError

__all__ = [
    "DICT_VERSION",
    "NOISE_START_PATTERN",
    "WA_CONN_HEADER",
    "WA_MAGIC_VALUE",
    "CipherPair",
    "NoiseDecryptError",
    "NoiseHandshakeState",
    "TransportCipher",
    "gcm_iv",
    "hkdf_pair",
]

NOISE_START_PATTERN = b"Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"
WA_MAGIC_VALUE = 6
DICT_VERSION = 3
WA_CONN_HEADER = bytes([ord("W"), ord("A"), WA_MAGIC_VALUE, DICT_VERSION])

MAX_COUNTER = 2**32 - 1
"""The IV carries the counter as a u32; past it a key would repeat a nonce."""


def gcm_iv(counter: int) -> bytes:
    """The 12-byte AES-GCM nonce: eight zero bytes and the big-endian u32 counter."""
    return b"\x00" * 8 + counter.to_bytes(4, "big")


def hkdf_pair(salt: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    okm = hkdf_sha256(ikm, salt, b"", 64)
    return okm[:32], okm[32:]


class TransportCipher:
    """One direction of the post-handshake transport: AES-256-GCM, empty AAD, counter nonce.

    A failed decryption still consumes its counter value, as whatsmeow does, so one corrupted
    frame does not desynchronise every frame after it.
    """

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.counter = 0

    def _next_iv(self) -> bytes:
        if self.counter > MAX_COUNTER:
            raise SocketError("Noise transport counter exhausted; reconnect")
        iv = gcm_iv(self.counter)
        self.counter += 1
        return iv

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._aead.encrypt(self._next_iv(), plaintext, None)

    def decrypt(self, ciphertext: bytes) -> bytes:
        iv = self._next_iv()
        try:
            return self._aead.decrypt(iv, ciphertext, None)
        except InvalidTag as e:
            raise NoiseDecryptError("transport frame failed authentication") from e


@dataclass(frozen=True, repr=False)
class CipherPair:
    """The two transport directions as seen from one side of the connection."""

    read: TransportCipher
    write: TransportCipher


class NoiseHandshakeState:
    """Running hash, chaining key and handshake cipher, mixed in the order both sides agree on."""

    def __init__(self, prologue: bytes = WA_CONN_HEADER) -> None:
        # The pattern name is exactly 32 bytes, so it is used as the hash directly, unhashed.
        self.hash = NOISE_START_PATTERN
        self.chaining_key = NOISE_START_PATTERN
        self._key = NOISE_START_PATTERN
        self._counter = 0
        self.mix_hash(prologue)

    def mix_hash(self, data: bytes) -> None:
        self.hash = hashlib.sha256(self.hash + data).digest()

    def mix_key(self, input_key_material: bytes) -> None:
        self.chaining_key, self._key = hkdf_pair(self.chaining_key, input_key_material)
        self._counter = 0

    def encrypt(self, plaintext: bytes) -> bytes:
        ciphertext = AESGCM(self._key).encrypt(gcm_iv(self._counter), plaintext, self.hash)
        self._counter += 1
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            plaintext = AESGCM(self._key).decrypt(gcm_iv(self._counter), ciphertext, self.hash)
        except InvalidTag as e:
            raise NoiseDecryptError("handshake message failed authentication") from e
        self._counter += 1
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[bytes, bytes]:
        """Return (initiator→responder key, responder→initiator key) for the transport phase."""
        return hkdf_pair(self.chaining_key, b"")

    def transport_ciphers(self, *, initiator: bool) -> CipherPair:
        """The transport ciphers for one side: the initiator writes with the first split key."""
        to_responder, to_initiator = self.split()
        read, write = (to_initiator, to_responder) if initiator else (to_responder, to_initiator)
        return CipherPair(read=TransportCipher(read), write=TransportCipher(write))
