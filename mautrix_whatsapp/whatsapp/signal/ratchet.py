"""Key derivation of the double ratchet (libsignal v3): HKDF, root keys, chain keys, message keys.

root step:   HKDF(DH(theirs, ours), salt=root key, "WhisperRatchet") → new root ‖ chain key
chain step:  message key seed = HMAC(ck, 01), next ck = HMAC(ck, 02)
message key: HKDF(seed, salt=zero*32, "WhisperMessageKeys") → cipher 32 ‖ mac 32 ‖ iv 16
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.padding import PKCS7

from ..crypto.keys import KeyPair
from .errors import InvalidMessageError

ZERO_SALT = bytes(32)
ROOT_INFO = b"WhisperRatchet"
TEXT_INFO = b"WhisperText"
MESSAGE_KEYS_INFO = b"WhisperMessageKeys"
_MESSAGE_KEY_SEED = b"\x01"
_CHAIN_KEY_SEED = b"\x02"


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def hkdf(input_key: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256 (libsignal v3 counts blocks from 1)."""
    prk = hmac_sha256(salt, input_key)
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac_sha256(prk, block + info + bytes((counter,)))
        out += block
        counter += 1
    return out[:length]


@dataclass(frozen=True, slots=True, repr=False)
class MessageKeys:
    """The keys that encrypt and authenticate one message."""

    cipher_key: bytes
    mac_key: bytes
    iv: bytes
    counter: int

    @classmethod
    def derive(cls, seed: bytes, counter: int) -> MessageKeys:
        material = hkdf(seed, ZERO_SALT, MESSAGE_KEYS_INFO, 80)
        return cls(material[:32], material[32:64], material[64:80], counter)


@dataclass(frozen=True, slots=True, repr=False)
class ChainKey:
    """A sending or receiving chain's key; ``index`` is the counter of its next message."""

    key: bytes
    index: int

    def message_keys(self) -> MessageKeys:
        return MessageKeys.derive(hmac_sha256(self.key, _MESSAGE_KEY_SEED), self.index)

    def next(self) -> ChainKey:
        return ChainKey(hmac_sha256(self.key, _CHAIN_KEY_SEED), self.index + 1)


def root_step(
    root_key: bytes, their_ratchet_key: bytes, our_ratchet: KeyPair
) -> tuple[bytes, ChainKey]:
    """One DH ratchet step: the new root key and the new chain's first chain key."""
    try:
        shared = our_ratchet.dh(their_ratchet_key)
    except ValueError:
        raise InvalidMessageError("invalid ratchet key") from None
    material = hkdf(shared, root_key, ROOT_INFO, 64)
    return material[:32], ChainKey(material[32:], 0)


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Decrypt and strip PKCS#7, raising :class:`InvalidMessageError` on any malformation."""
    if not ciphertext or len(ciphertext) % 16:
        raise InvalidMessageError(f"invalid ciphertext length {len(ciphertext)}")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise InvalidMessageError("invalid PKCS#7 padding") from None
