"""Cryptographic primitives shared by the transport, pairing and Signal layers."""

from .keys import KeyPair
from .xeddsa import InvalidSignatureError, sign, verify

__all__ = ["InvalidSignatureError", "KeyPair", "sign", "verify"]
