"""Key derivation of the double ratchet (libsignal v3): root keys, chain keys, message keys.

Kept apart from the cipher so the X3DH builder and the cipher share one derivation, and the
byte layouts below can be checked against libsignal in one place:

root step:   HKDF(DH(theirs, ours), salt=root key, "WhisperRatchet") → new root ‖ chain key
chain step:  message key seed = HMAC(ck, 01), next ck = HMAC(ck, 02)
message key: HKDF(seed, salt=zero*32, "WhisperMessageKeys") → cipher 32 ‖ mac 32 ‖ iv 16
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto import cbc
from ..crypto.hkdf import hkdf_sha256, hmac_sha256
from ..crypto.keys import KeyPair
from .errors import InvalidMessageError

ZERO_SALT = bytes(32)
ROOT_INFO = b"WhisperRatchet"
TEXT_INFO = b"WhisperText"
MESSAGE_KEYS_INFO = b"WhisperMessageKeys"
_MESSAGE_KEY_SEED = b"\x01"
_CHAIN_KEY_SEED = b"\x02"


@dataclass(frozen=True, slots=True, repr=False)
class MessageKeys:
    """The keys that encrypt and authenticate one message."""

    cipher_key: bytes
    mac_key: bytes
    iv: bytes
    counter: int

    @classmethod
    def derive(cls, seed: bytes, counter: int) -> MessageKeys:
        material = hkdf_sha256(seed, ZERO_SALT, MESSAGE_KEYS_INFO, 80)
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
    material = hkdf_sha256(shared, root_key, ROOT_INFO, 64)
    return material[:32], ChainKey(material[32:], 0)


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """AES-256-CBC decryption for both Signal ciphers (1:1 and sender keys): a bad length or
    PKCS#7 padding is an :class:`InvalidMessageError`, like every other malformed message."""
    try:
        return cbc.decrypt(key, iv, ciphertext)
    except cbc.CBCError as e:
        raise InvalidMessageError(str(e)) from None
