"""XEdDSA signatures on Curve25519 keys, compatible with libsignal.

libsignal signs with the Montgomery key turned into an Edwards key; the Edwards key's sign bit,
which the Montgomery form cannot carry, travels in the top bit of the signature's last byte.
"""

from __future__ import annotations

import functools
import os

import xeddsa as _xeddsa

from .keys import clamp, strip_key_type

SIGNATURE_SIZE = 64
SIGNING_KEY_CACHE_SIZE = 16


class InvalidSignatureError(Exception):
    """A signature did not verify (or was not even shaped like one)."""


@functools.lru_cache(maxsize=SIGNING_KEY_CACHE_SIZE)
def _signing_key(private: bytes) -> bytes:
    """The Edwards signing scalar of a Curve25519 private key, its sign bit forced to 0 (so the
    signature's top bit stays clear, as libsignal does).

    The conversion costs about a third of a signature and one key signs many messages (a group
    sender key signs every message to its group), so the last few results are kept. The cache
    is a pure memo of a deterministic function, bounded, and holds nothing the caller's key store
    does not already hold.
    """
    return bytes(_xeddsa.priv_force_sign(clamp(private), False))


def sign(private: bytes, message: bytes) -> bytes:
    """Sign ``message`` with a 32-byte Curve25519 private key."""
    signing_key = _signing_key(bytes(private))
    return bytes(_xeddsa.ed25519_priv_sign(signing_key, message, os.urandom(64)))


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Return whether ``signature`` is a valid XEdDSA signature of ``message`` by ``public``.

    Malformed keys or signatures verify as False rather than raising.
    """
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        montgomery = strip_key_type(public)
    except ValueError:
        return False
    sign_bit = bool(signature[63] & 0x80)
    signature = signature[:63] + bytes([signature[63] & 0x7F])
    try:
        edwards = _xeddsa.curve25519_pub_to_ed25519_pub(montgomery, sign_bit)
        return bool(_xeddsa.ed25519_verify(signature, edwards, message))
    except _xeddsa.XEdDSAException:
        return False


def verify_or_raise(public: bytes, message: bytes, signature: bytes, what: str) -> None:
    if not verify(public, message, signature):
        raise InvalidSignatureError(f"invalid signature on {what}")
