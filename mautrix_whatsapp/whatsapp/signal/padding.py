"""WhatsApp's plaintext padding for ``<enc v="2">`` payloads.

Before a serialized ``waE2E.Message`` goes into the Signal cipher, WhatsApp appends N bytes that
each hold the value N, so a ciphertext's length does not give away the exact message length.
Receivers strip it after decrypting. (``v="3"`` payloads, used by the Facebook-style message
transport, carry no padding; the caller decides which applies.)

Pad lengths: whatsmeow draws N from 1..15 (with 15 twice as likely), Baileys from 1..16. We draw
N uniformly from 1..15, which every known receiver accepts: they only read the last byte.
Receiving is stricter than Baileys and matches whatsmeow's check, plus a rejection of N = 0,
which no sender produces and which would make "padding" a no-op.
"""

from __future__ import annotations

import secrets

from .errors import InvalidMessageError

MIN_PAD = 1
MAX_PAD = 15
"""The range we draw pad lengths from on send (inclusive)."""

MAX_ACCEPTED_PAD = 255
"""Any N a single byte can hold is accepted on receive, as long as the bytes are consistent."""


class InvalidPaddingError(InvalidMessageError):
    """A decrypted plaintext did not end in valid WhatsApp padding."""


def pad_message(plaintext: bytes, pad_length: int | None = None) -> bytes:
    """Append WhatsApp padding: ``pad_length`` bytes each equal to ``pad_length``.

    ``pad_length`` defaults to a random value in 1..15; tests pass it explicitly.
    """
    if pad_length is None:
        pad_length = MIN_PAD + secrets.randbelow(MAX_PAD - MIN_PAD + 1)
    elif not MIN_PAD <= pad_length <= MAX_ACCEPTED_PAD:
        raise ValueError(f"pad length must be 1..255, not {pad_length}")
    return plaintext + bytes((pad_length,)) * pad_length


def unpad_message(padded: bytes) -> bytes:
    """Strip and validate WhatsApp padding, raising :class:`InvalidPaddingError` if it is bad."""
    if not padded:
        raise InvalidPaddingError("plaintext is empty")
    pad_length = padded[-1]
    if pad_length == 0:
        raise InvalidPaddingError("padding length is zero")
    if pad_length > len(padded):
        raise InvalidPaddingError(
            f"padding length {pad_length} exceeds the plaintext length {len(padded)}"
        )
    if padded[-pad_length:].count(pad_length) != pad_length:
        raise InvalidPaddingError("padding bytes are not all equal to the padding length")
    return padded[:-pad_length]
