"""The symmetric state of WhatsApp's Noise_XX_25519_AESGCM_SHA256 handshake.

Both roles use it: the client (``handshake.py``) as initiator, the test simulator as responder.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NOISE_START_PATTERN = b"Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"
WA_MAGIC_VALUE = 6
DICT_VERSION = 3
WA_CONN_HEADER = bytes([ord("W"), ord("A"), WA_MAGIC_VALUE, DICT_VERSION])


class NoiseDecryptError(Exception):
    """A handshake or transport frame failed AES-GCM authentication."""


def gcm_iv(counter: int) -> bytes:
    return b"\x00" * 8 + counter.to_bytes(4, "big")


def hkdf_pair(salt: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=b"").derive(ikm)
    return okm[:32], okm[32:]


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
