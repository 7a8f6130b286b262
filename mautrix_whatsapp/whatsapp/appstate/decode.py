"""Decoding a ``<collection>`` answer: snapshot and patches, every MAC checked.

The answer is parsed into a :class:`PatchList` (external snapshot and mutation blobs are
downloaded then); :class:`Decoder` applies it to a collection's :class:`HashState`, checking,
as whatsmeow's ``decode.go`` does, each value MAC, each index MAC, each patch MAC and the
snapshot MAC over the LTHash after every patch, and stores the new version, hash and value
MACs after each patch. Any failure is a typed :mod:`.errors` exception.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError, Message

from ..binary.errors import BinaryError
from ..binary.node import Node
from ..crypto.cbc import CBCError, decrypt
from ..proto import wa_server_sync_pb2 as pb
from ..proto import wa_sync_action_pb2 as sa
from ..store import AppStateStore
from .errors import (
    AppStateError,
    MalformedAppStateError,
    MismatchingContentMACError,
    MismatchingIndexMACError,
    MismatchingLTHashError,
    MismatchingPatchMACError,
)
from .hash import REMOVE, SET, VALUE_MAC_SIZE, HashState, content_mac, index_mac, patch_mac
from .keys import ExpandedKeys, KeyCache

Downloader = Callable[[pb.ExternalBlobReference], Awaitable[bytes]]
"""Downloads and decrypts an external blob (media type APP_STATE)."""


class ExternalBlobError(AppStateError):
    """An external snapshot or mutations blob could not be downloaded or decrypted."""


@dataclass
class PatchList:
    """One ``<collection>`` answer, with external blobs already fetched."""

    name: str
    has_more_patches: bool
    patches: list[pb.SyncdPatch]
    snapshot: pb.SyncdSnapshot | None = None


@dataclass(frozen=True)
class Mutation:
    """One decoded record: what changed (``index``) and how (``action``)."""

    operation: int
    """``SyncdMutation.SET`` or ``REMOVE``."""
    index: list[str]
    action: sa.SyncActionValue
    version: int
    """The action's schema version (e.g. 2 for mute), not the collection's."""
    index_mac: bytes
    value_mac: bytes
    key_id: bytes
    patch_version: int


async def _download(download: Downloader, ref: pb.ExternalBlobReference, what: str) -> bytes:
    try:
        return await download(ref)
    except AppStateError:
        raise
    except Exception as e:
        raise ExternalBlobError(f"failed to download {what}: {e}") from e


async def parse_patch_list(collection: Node, download: Downloader) -> PatchList:
    """Parse ``<collection name has_more_patches>``; download external blobs."""
    try:
        name = collection.attr_str("name")
        has_more = bool(collection.attr_bool_opt("has_more_patches"))
    except BinaryError as e:
        raise MalformedAppStateError(f"malformed <collection>: {e}") from e
    snapshot = None
    snapshot_node = collection.get_optional_child_by_tag("snapshot")
    if snapshot_node is not None and isinstance(snapshot_node.content, bytes):
        ref = pb.ExternalBlobReference()
        _parse_into(ref, snapshot_node.content, "snapshot reference")
        snapshot = pb.SyncdSnapshot()
        _parse_into(snapshot, await _download(download, ref, "snapshot"), "snapshot")
    patches: list[pb.SyncdPatch] = []
    patches_node = collection.get_optional_child_by_tag("patches")
    for i, node in enumerate(patches_node.children if patches_node is not None else []):
        if node.tag != "patch" or not isinstance(node.content, bytes):
            continue
        patch = pb.SyncdPatch()
        _parse_into(patch, node.content, f"patch #{i + 1}")
        if patch.HasField("externalMutations"):
            raw = await _download(download, patch.externalMutations, "external mutations")
            downloaded = pb.SyncdMutations()
            _parse_into(downloaded, raw, "external mutations")
            if not downloaded.mutations:
                raise MalformedAppStateError("external mutations blob has no mutations")
            del patch.mutations[:]
            patch.mutations.extend(downloaded.mutations)
        patches.append(patch)
    return PatchList(name, has_more, patches, snapshot)


def _parse_into(message: Message, data: bytes, what: str) -> None:
    try:
        message.ParseFromString(data)
    except DecodeError as e:
        raise MalformedAppStateError(f"failed to parse {what}: {e}") from e


def key_ids(patch_list: PatchList) -> list[bytes]:
    """Every key id the list uses, in first-use order."""
    ids: list[bytes] = []
    if patch_list.snapshot is not None:
        ids.append(patch_list.snapshot.keyID.ID)
        ids.extend(record.keyID.ID for record in patch_list.snapshot.records)
    for patch in patch_list.patches:
        ids.append(patch.keyID.ID)
        ids.extend(m.record.keyID.ID for m in patch.mutations)
    return list(dict.fromkeys(i for i in ids if i))


@dataclass
class _Output:
    removed: list[bytes] = field(default_factory=list)
    added: list[tuple[bytes, bytes]] = field(default_factory=list)
    mutations: list[Mutation] = field(default_factory=list)

    def remove(self, idx: bytes) -> None:
        self.removed.append(idx)
        self.added = [(i, v) for i, v in self.added if not hmac.compare_digest(i, idx)]


class Decoder:
    """Applies patch lists to collections, with the store's MACs and keys."""

    def __init__(self, store: AppStateStore, keys: KeyCache) -> None:
        self.store = store
        self.keys = keys

    async def decode(
        self,
        patch_list: PatchList,
        state: HashState,
        *,
        validate: bool = True,
        out: list[Mutation] | None = None,
    ) -> tuple[list[Mutation], HashState]:
        """Apply the snapshot (if any) then each patch; returns the mutations and new state.

        The state is stored after the snapshot and after each patch, so a failure part-way
        keeps what was verified so far; the mutations of those are in ``out`` by then.
        """
        name = patch_list.name
        mutations: list[Mutation] = out if out is not None else []
        if patch_list.snapshot is not None:
            state = await self._decode_snapshot(name, patch_list.snapshot, validate, mutations)
        for patch in patch_list.patches:
            state = await self._decode_patch(name, patch, state, validate, mutations)
        return mutations, state

    async def _decode_snapshot(
        self, name: str, snapshot: pb.SyncdSnapshot, validate: bool, out: list[Mutation]
    ) -> HashState:
        state = HashState(version=snapshot.version.version)
        records = [pb.SyncdMutation(operation=SET, record=r) for r in snapshot.records]

        async def no_previous(_index_mac: bytes, _i: int) -> bytes | None:
            return None

        await state.update(records, no_previous)
        if validate:
            await self._check_snapshot_mac(name, state, snapshot.keyID.ID, snapshot.mac)
        result = _Output()
        await self._decode_mutations(records, result, validate, state.version)
        await self._store(name, state, result)
        out.extend(result.mutations)
        return state

    async def _decode_patch(
        self,
        name: str,
        patch: pb.SyncdPatch,
        state: HashState,
        validate: bool,
        out: list[Mutation],
    ) -> HashState:
        new_state = HashState(version=patch.version.version, hash=state.hash)
        mutations = list(patch.mutations)

        async def previous(idx: bytes, before: int) -> bytes | None:
            for earlier in reversed(mutations[:before]):
                if hmac.compare_digest(earlier.record.index.blob, idx):
                    if earlier.operation != SET:
                        return None
                    return earlier.record.value.blob[-VALUE_MAC_SIZE:]
            return await self.store.get_app_state_mutation_mac(name, idx)

        await new_state.update(mutations, previous)
        if validate:
            keys = await self._check_snapshot_mac(
                name, new_state, patch.keyID.ID, patch.snapshotMAC
            )
            expected = patch_mac(patch, name, keys.patch_mac, new_state.version)
            if not hmac.compare_digest(expected, patch.patchMAC):
                raise MismatchingPatchMACError(
                    f"patch MAC of {name} v{new_state.version} does not verify"
                )
        result = _Output()
        await self._decode_mutations(mutations, result, validate, new_state.version)
        await self._store(name, new_state, result)
        out.extend(result.mutations)
        return new_state

    async def _check_snapshot_mac(
        self, name: str, state: HashState, key_id: bytes, expected: bytes
    ) -> ExpandedKeys:
        keys = await self.keys.get(key_id)
        if not hmac.compare_digest(state.snapshot_mac(name, keys.snapshot_mac), expected):
            raise MismatchingLTHashError(f"LTHash of {name} v{state.version} does not verify")
        return keys

    async def _decode_mutations(
        self, mutations: list[pb.SyncdMutation], out: _Output, validate: bool, version: int
    ) -> None:
        for i, mutation in enumerate(mutations):
            decoded = await self._decode_mutation(mutation, i, validate, version)
            if mutation.operation == REMOVE:
                out.remove(decoded.index_mac)
            elif mutation.operation == SET:
                out.added.append((decoded.index_mac, decoded.value_mac))
            out.mutations.append(decoded)

    async def _decode_mutation(
        self, mutation: pb.SyncdMutation, i: int, validate: bool, version: int
    ) -> Mutation:
        key_id = mutation.record.keyID.ID
        keys = await self.keys.get(key_id)
        blob = mutation.record.value.blob
        if len(blob) < 16 + 16 + VALUE_MAC_SIZE:
            raise MalformedAppStateError(f"mutation #{i + 1}: value of {len(blob)} bytes")
        content, value_mac = blob[:-VALUE_MAC_SIZE], blob[-VALUE_MAC_SIZE:]
        if validate and not hmac.compare_digest(
            content_mac(mutation.operation, content, key_id, keys.value_mac), value_mac
        ):
            raise MismatchingContentMACError(f"value MAC of mutation #{i + 1} does not verify")
        try:
            plaintext = decrypt(keys.value_encryption, content[:16], content[16:])
        except CBCError as e:
            raise MalformedAppStateError(f"mutation #{i + 1}: {e}") from e
        data = sa.SyncActionData()
        try:
            data.ParseFromString(plaintext)
        except DecodeError as e:
            raise MalformedAppStateError(f"mutation #{i + 1}: bad SyncActionData: {e}") from e
        idx_mac = mutation.record.index.blob
        if validate and not hmac.compare_digest(index_mac(data.index, keys.index), idx_mac):
            raise MismatchingIndexMACError(f"index MAC of mutation #{i + 1} does not verify")
        try:
            index = json.loads(data.index)
        except (ValueError, UnicodeDecodeError) as e:
            raise MalformedAppStateError(f"mutation #{i + 1}: index is not JSON: {e}") from e
        if not isinstance(index, list) or not index or not all(isinstance(p, str) for p in index):
            raise MalformedAppStateError(f"mutation #{i + 1}: index is not a list of strings")
        return Mutation(
            operation=mutation.operation,
            index=index,
            action=data.value,
            version=data.version,
            index_mac=idx_mac,
            value_mac=value_mac,
            key_id=key_id,
            patch_version=version,
        )

    async def _store(self, name: str, state: HashState, out: _Output) -> None:
        await self.store.put_app_state_update(
            name, state.version, state.hash, out.removed, out.added
        )
