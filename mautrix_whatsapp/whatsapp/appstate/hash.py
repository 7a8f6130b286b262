"""The MACs of app state and the LTHash bookkeeping of a collection (whatsmeow ``hash.go``).

- value MAC: HMAC-SHA512(valueMAC key, (op+1) ‖ keyID ‖ iv‖ciphertext ‖ u64be(len(keyID)+1))[:32]
- index MAC: HMAC-SHA256(index key, the index JSON)
- snapshot MAC: HMAC-SHA256(snapshotMAC key, LTHash ‖ u64be(version) ‖ collection name)
- patch MAC: HMAC-SHA256(patchMAC key, snapshot MAC ‖ each value MAC ‖ u64be(version) ‖ name)
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..proto import wa_server_sync_pb2 as pb
from ..store import EMPTY_APP_STATE_HASH
from .errors import MalformedAppStateError
from .lthash import subtract_then_add

VALUE_MAC_SIZE = 32
SET = pb.SyncdMutation.SET
REMOVE = pb.SyncdMutation.REMOVE

PrevValueMAC = Callable[[bytes, int], Awaitable[bytes | None]]
"""Looks up the value MAC a mutation replaces: ``(index MAC, position in the patch)``."""


def _u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def content_mac(operation: int, data: bytes, key_id: bytes, key: bytes) -> bytes:
    """The value MAC of ``data`` (iv ‖ ciphertext) for a SET or REMOVE."""
    message = bytes((operation + 1,)) + key_id + data + _u64(len(key_id) + 1)
    return hmac.new(key, message, hashlib.sha512).digest()[:VALUE_MAC_SIZE]


def index_mac(index: bytes, key: bytes) -> bytes:
    return hmac.new(key, index, hashlib.sha256).digest()


def value_mac_of(mutation: pb.SyncdMutation) -> bytes:
    """The trailing 32-byte value MAC of a record's value blob."""
    blob = mutation.record.value.blob
    if len(blob) < VALUE_MAC_SIZE:
        raise MalformedAppStateError(f"record value of {len(blob)} bytes has no MAC")
    return blob[-VALUE_MAC_SIZE:]


def patch_mac(patch: pb.SyncdPatch, name: str, key: bytes, version: int) -> bytes:
    h = hmac.new(key, patch.snapshotMAC, hashlib.sha256)
    for mutation in patch.mutations:
        h.update(value_mac_of(mutation))
    h.update(_u64(version))
    h.update(name.encode())
    return h.digest()


@dataclass
class HashState:
    """A collection's version and LTHash."""

    version: int = 0
    hash: bytes = EMPTY_APP_STATE_HASH

    def snapshot_mac(self, name: str, key: bytes) -> bytes:
        data = self.hash + _u64(self.version) + name.encode()
        return hmac.new(key, data, hashlib.sha256).digest()

    async def update(
        self, mutations: Sequence[pb.SyncdMutation], prev_value_mac: PrevValueMAC
    ) -> list[bytes]:
        """Add each SET's value MAC and subtract each value it replaces or removes.

        Returns the index MACs of REMOVEs whose previous value was unknown: WhatsApp Web only
        warns about these (removing a contact the phone never synced makes one); if it matters,
        the snapshot MAC check that follows fails.
        """
        added: list[bytes] = []
        removed: list[bytes] = []
        unknown_removes: list[bytes] = []
        for i, mutation in enumerate(mutations):
            if mutation.operation == SET:
                added.append(value_mac_of(mutation))
            idx = mutation.record.index.blob
            previous = await prev_value_mac(idx, i)
            if previous is not None:
                removed.append(previous)
            elif mutation.operation == REMOVE:
                unknown_removes.append(idx)
        self.hash = subtract_then_add(self.hash, removed, added)
        return unknown_removes
