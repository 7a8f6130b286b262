"""HMAC-SHA256 and HKDF-SHA256 (RFC 5869): the one key-derivation helper of the client.

The Noise handshake, the double ratchet and the sender-key chains all derive keys this way; they
differ only in salt, info and length. ``cryptography``'s HKDF (Rust) is used as is: it is faster
than spelling the HMAC blocks out in Python, which matters because Signal derives keys per message.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def hkdf_sha256(input_key: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """``length`` bytes of HKDF-SHA256 output (blocks counted from 1, as libsignal v3 does)."""
    return HKDF(algorithm=SHA256(), length=length, salt=salt, info=info).derive(input_key)
