"""XEdDSA signatures on Curve25519 keys, compatible with libsignal.

libsignal signs with the Montgomery key turned into an Edwards key; the Edwards key's sign bit,
which the Montgomery form cannot carry, travels in the top bit of the signature's last byte.
"""

from __future__ import annotations

import os

import xeddsa as _xeddsa

from .keys import clamp, strip_key_type

SIGNATURE_SIZE = 64


class InvalidSignatureError(Exception):
    """A signature did not verify (or was not even shaped like one)."""


def sign(private: bytes, message: bytes) -> bytes:
    """Sign ``message`` with a 32-byte Curve25519 private key."""
    # Force the Edwards sign bit to 0 so the signature's top bit stays clear, as libsignal does.
    signing_key = _xeddsa.priv_force_sign(clamp(private), False)
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
