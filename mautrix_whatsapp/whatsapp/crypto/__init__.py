"""Cryptographic primitives shared by the transport, pairing and Signal layers.

Each primitive has one implementation here (``keys``, ``xeddsa``, ``hkdf``, ``cbc``), so a fix or a
speed-up reaches every layer that uses it.
"""

from .keys import KeyPair
from .xeddsa import InvalidSignatureError, sign, verify

__all__ = ["InvalidSignatureError", "KeyPair", "sign", "verify"]
