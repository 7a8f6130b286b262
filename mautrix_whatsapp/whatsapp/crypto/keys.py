"""Curve25519 key pairs as WhatsApp and libsignal use them.

One type for every long-term and ephemeral key (Noise, identity, pre-keys, ratchets), so clamping,
the 05 type prefix and the rule that private halves never appear in a ``repr`` live in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

DJB_KEY_TYPE = 0x05
"""libsignal's key-type prefix: protobufs carry 33-byte keys (05 ‖ key), binary nodes 32 bytes."""


def clamp(private: bytes) -> bytes:
    """Clamp a scalar the way libsignal does when it generates a private key."""
    if len(private) != 32:
        raise ValueError("a Curve25519 private key is 32 bytes")
    key = bytearray(private)
    key[0] &= 248
    key[31] &= 127
    key[31] |= 64
    return bytes(key)


def strip_key_type(public: bytes) -> bytes:
    """Accept a 32-byte key or a 33-byte 05-prefixed key and return the bare 32 bytes."""
    if len(public) == 33 and public[0] == DJB_KEY_TYPE:
        return public[1:]
    if len(public) == 32:
        return public
    raise ValueError(f"not a Curve25519 public key ({len(public)} bytes)")


def with_key_type(public: bytes) -> bytes:
    """Return the 33-byte 05-prefixed form that Signal protobufs carry."""
    return bytes([DJB_KEY_TYPE]) + strip_key_type(public)


@dataclass(frozen=True, repr=False)
class KeyPair:
    """A Curve25519 key pair. ``repr`` never shows the private half."""

    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_private(os.urandom(32))

    @classmethod
    def from_private(cls, private: bytes) -> KeyPair:
        private = clamp(private)
        public = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
        return cls(private=private, public=public)

    def dh(self, their_public: bytes) -> bytes:
        """X25519 agreement with a 32- or 33-byte public key."""
        peer = X25519PublicKey.from_public_bytes(strip_key_type(their_public))
        return X25519PrivateKey.from_private_bytes(self.private).exchange(peer)

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()})"
