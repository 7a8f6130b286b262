"""LTHash ("WhatsApp Patch Integrity"): a summation hash of a collection's value MACs.

Each value MAC is expanded with HKDF-SHA256 to 128 bytes and added to (or subtracted from) the
state as 64 little-endian uint16 lanes with wrap-around, so the hash of a collection depends
only on which values are in it, not on the order they arrived in. whatsmeow
``appstate/lthash``; Baileys ``LTHashAntiTampering``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ..crypto.hkdf import hkdf_sha256

HASH_SIZE = 128
INFO = b"WhatsApp Patch Integrity"
_LANES = struct.Struct(f"<{HASH_SIZE // 2}H")


def _expand(item: bytes) -> tuple[int, ...]:
    return _LANES.unpack(hkdf_sha256(item, b"", INFO, HASH_SIZE))


def subtract_then_add(base: bytes, subtract: Iterable[bytes], add: Iterable[bytes]) -> bytes:
    """The hash ``base`` with each of ``subtract`` removed, then each of ``add`` added."""
    if len(base) != HASH_SIZE:
        raise ValueError(f"LTHash state must be {HASH_SIZE} bytes, got {len(base)}")
    lanes = list(_LANES.unpack(base))
    for item in subtract:
        for i, y in enumerate(_expand(item)):
            lanes[i] = (lanes[i] - y) & 0xFFFF
    for item in add:
        for i, y in enumerate(_expand(item)):
            lanes[i] = (lanes[i] + y) & 0xFFFF
    return _LANES.pack(*lanes)
