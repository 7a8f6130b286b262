"""The server's side of app state: each account's five collections, as WhatsApp stores them.

The server holds encrypted records only (it has no keys): a collection is its version, its
live records by index MAC, its LTHash (kept from the value MACs alone, as the server can) and
every patch so far (patch ``n`` took the collection from version ``n - 1`` to ``n``). Patches come
from the phone (``app_state_phone``) and from companions (``app_state``, the IQ); both go through
:meth:`Collection.append`. A snapshot (the live records at the current version, with the phone's
snapshot MAC) is built by the phone, which has the keys, when a companion asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2

from .app_state_crypto import EMPTY_HASH, SET, VALUE_MAC_SIZE, lthash

COLLECTIONS: tuple[str, ...] = (
    "critical_block",
    "critical_unblock_low",
    "regular_high",
    "regular",
    "regular_low",
)
"""whatsmeow ``AllPatchNames`` / Baileys ``ALL_WA_PATCH_NAMES``."""


def check_patch(patch: wa_server_sync_pb2.SyncdPatch) -> None:
    """Refuse a patch the server could not store: no mutations, or records of the wrong shape
    (a ``DecodeError``, so the dispatcher answers 400 and blames the client)."""
    if not patch.mutations:
        raise DecodeError("patch without mutations")
    for mutation in patch.mutations:
        record = mutation.record
        if len(record.index.blob) != 32 or len(record.value.blob) < VALUE_MAC_SIZE + 16:
            raise DecodeError("patch record of the wrong shape")
        if not record.keyID.ID:
            raise DecodeError("patch record without key id")


def next_hash(
    base: bytes,
    records: dict[bytes, wa_server_sync_pb2.SyncdRecord],
    mutations: list[wa_server_sync_pb2.SyncdMutation],
) -> tuple[bytes, dict[bytes, wa_server_sync_pb2.SyncdRecord]]:
    """The LTHash and live records after ``mutations`` (whatsmeow ``updateHash``: each one
    subtracts the value MAC its index had, a SET adds its own)."""
    live = dict(records)
    removed: list[bytes] = []
    added: list[bytes] = []
    for mutation in mutations:
        index = mutation.record.index.blob
        previous = live.pop(index, None)
        if previous is not None:
            removed.append(previous.value.blob[-VALUE_MAC_SIZE:])
        if mutation.operation == SET:
            live[index] = mutation.record
            added.append(mutation.record.value.blob[-VALUE_MAC_SIZE:])
    return lthash(base, removed, added), live


@dataclass
class Collection:
    name: str
    version: int = 0
    hash: bytes = EMPTY_HASH
    records: dict[bytes, wa_server_sync_pb2.SyncdRecord] = field(default_factory=dict)
    patches: list[wa_server_sync_pb2.SyncdPatch] = field(default_factory=list)
    """``patches[n - 1]`` is version ``n``."""

    def append(self, patch: wa_server_sync_pb2.SyncdPatch) -> wa_server_sync_pb2.SyncdPatch:
        """Store ``patch`` as the next version; the stored copy (with its version set)."""
        check_patch(patch)
        stored = wa_server_sync_pb2.SyncdPatch()
        stored.CopyFrom(patch)
        self.version += 1
        stored.version.version = self.version
        self.hash, self.records = next_hash(self.hash, self.records, list(patch.mutations))
        self.patches.append(stored)
        return stored

    def since(self, version: int) -> list[wa_server_sync_pb2.SyncdPatch]:
        return self.patches[max(version, 0) :]


@dataclass
class AccountCollections:
    collections: dict[str, Collection] = field(
        default_factory=lambda: {name: Collection(name) for name in COLLECTIONS}
    )

    def get(self, name: str) -> Collection | None:
        return self.collections.get(name)
