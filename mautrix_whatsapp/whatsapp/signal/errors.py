"""Typed errors of the Signal protocol layer.

Every malformed or unacceptable input raises a subclass of :class:`SignalError`, so callers can
catch one type per stanza (and send a retry receipt) without ever seeing a bare exception.
"""

from __future__ import annotations

from ..crypto.xeddsa import InvalidSignatureError as _CryptoInvalidSignatureError


class SignalError(Exception):
    """Base class of all Signal protocol errors."""


class InvalidMessageError(SignalError):
    """A message is malformed: bad version byte, truncated protobuf, wrong key length, …"""


class InvalidKeyError(InvalidMessageError):
    """A key inside a message or bundle is not a valid Curve25519 public key."""


class InvalidKeyIdError(InvalidMessageError):
    """A pre-key message names a (signed) pre-key that we do not have (any more)."""


class InvalidMACError(InvalidMessageError):
    """A message's MAC did not verify: tampered, or encrypted for another session."""


class DuplicateMessageError(InvalidMessageError):
    """A message's key was already used: the message was decrypted before (a replay)."""


class NoSessionError(SignalError):
    """There is no session with the address (or none that could decrypt the message)."""


class InvalidSignatureError(SignalError, _CryptoInvalidSignatureError):
    """A signed pre-key's (or a sender key message's) XEdDSA signature did not verify."""


class UntrustedIdentityError(SignalError):
    """The identity store refused the peer's identity key (it changed since we last saw it)."""

    def __init__(self, address: str, identity_key: bytes) -> None:
        super().__init__(f"untrusted identity key for {address}")
        self.address = address
        self.identity_key = identity_key


class CorruptRecordError(SignalError):
    """A stored session or sender-key record cannot be used: the store handed back damaged data."""
