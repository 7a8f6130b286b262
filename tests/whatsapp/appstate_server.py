"""A scripted app-state server for the client's sync tests (no tests of its own).

It keeps each collection as the real server does: the ordered patches, the records currently
set and their LTHash (computable without keys: it is over value MACs only), and answers
``w:sync:app:state`` IQs with snapshots (as external blobs) and pages of patches. Patches are
made with the client's encoder; that the encoding is right is proven against Baileys in
``test_appstate_crypto.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.appstate import lthash
from mautrix_whatsapp.whatsapp.appstate.encode import PatchInfo, encode_patch
from mautrix_whatsapp.whatsapp.appstate.hash import REMOVE, HashState
from mautrix_whatsapp.whatsapp.appstate.keys import expand_keys
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2 as pb
from tests.whatsapp.canned_server import result


@dataclass
class Collection:
    name: str
    state: HashState = field(default_factory=HashState)
    records: dict[bytes, pb.SyncdRecord] = field(default_factory=dict)
    patches: list[pb.SyncdPatch] = field(default_factory=list)
    snapshot_key: bytes = b""

    def apply(self, patch: pb.SyncdPatch) -> None:
        """Take in a patch (another device's or the client's) as the next version."""
        removed: list[bytes] = []
        added: list[bytes] = []
        for mutation in patch.mutations:
            idx = mutation.record.index.blob
            previous = self.records.pop(idx, None)
            if previous is not None:
                removed.append(previous.value.blob[-32:])
            if mutation.operation != REMOVE:
                added.append(mutation.record.value.blob[-32:])
                self.records[idx] = mutation.record
        self.state.hash = lthash.subtract_then_add(self.state.hash, removed, added)
        self.state.version += 1
        self.snapshot_key = patch.keyID.ID
        patch.version.version = self.state.version
        self.patches.append(patch)


class AppStateServer:
    """Collections, keys and blobs; ``answer`` is a CannedServer answer function."""

    def __init__(self) -> None:
        self.keys: dict[bytes, bytes] = {}
        self.collections: dict[str, Collection] = {}
        self.blobs: dict[str, bytes] = {}
        self.page_size = 2
        self.external_patches = False
        self.received: list[pb.SyncdPatch] = []
        self.requests: list[Node] = []
        self.conflicts = 0

    def new_key(self, key_id: bytes | None = None, data: bytes | None = None) -> bytes:
        key_id = key_id or os.urandom(6)
        self.keys[key_id] = data or os.urandom(32)
        return key_id

    def collection(self, name: str) -> Collection:
        return self.collections.setdefault(name, Collection(name))

    async def add(self, info: PatchInfo, key_id: bytes) -> pb.SyncdPatch:
        """Another device's patch, encrypted with ``key_id``, as the collection's next version."""
        coll = self.collection(str(info.type))

        async def previous(idx: bytes, _i: int) -> bytes | None:
            record = coll.records.get(idx)
            return record.value.blob[-32:] if record is not None else None

        raw, _ = await encode_patch(
            info, key_id, expand_keys(self.keys[key_id]), coll.state, previous
        )
        patch = pb.SyncdPatch.FromString(raw)
        coll.apply(patch)
        return patch

    def snapshot(self, name: str) -> pb.SyncdSnapshot:
        coll = self.collection(name)
        keys = expand_keys(self.keys[coll.snapshot_key])
        return pb.SyncdSnapshot(
            version=pb.SyncdVersion(version=coll.state.version),
            records=list(coll.records.values()),
            mac=coll.state.snapshot_mac(name, keys.snapshot_mac),
            keyID=pb.KeyId(ID=coll.snapshot_key),
        )

    def _blob(self, data: bytes) -> pb.ExternalBlobReference:
        path = f"/v/t62.1-24/{os.urandom(8).hex()}"
        self.blobs[path] = data
        return pb.ExternalBlobReference(directPath=path, mediaKey=os.urandom(32))

    async def download(self, ref: pb.ExternalBlobReference) -> bytes:
        return self.blobs[ref.directPath]

    def answer(self, request: Node) -> Node:
        self.requests.append(request)
        req = request.get_child_by_tag("sync", "collection")
        name = req.attr_str("name")
        coll = self.collection(name)
        patch_node = req.get_optional_child_by_tag("patch")
        if patch_node is not None:
            return self._take_patch(request, coll, req, patch_node)
        children: list[Node] = []
        attrs = {"name": name, "version": str(coll.state.version)}
        if req.attr_bool("return_snapshot"):
            if coll.state.version:
                ref = self._blob(self.snapshot(name).SerializeToString())
                children.append(Node("snapshot", {}, ref.SerializeToString()))
        else:
            since = req.attr_int("version")
            page = [p for p in coll.patches if p.version.version > since][: self.page_size]
            patch_nodes = [Node("patch", {}, self._wire(p)) for p in page]
            if page and page[-1].version.version < coll.state.version:
                attrs["has_more_patches"] = "true"
            children.append(Node("patches", {}, patch_nodes or None))
        return result(request, Node("sync", {}, [Node("collection", attrs, children)]))

    def _wire(self, patch: pb.SyncdPatch) -> bytes:
        if not self.external_patches:
            return patch.SerializeToString()
        outer = pb.SyncdPatch()
        outer.CopyFrom(patch)
        del outer.mutations[:]
        blob = pb.SyncdMutations(mutations=patch.mutations).SerializeToString()
        outer.externalMutations.CopyFrom(self._blob(blob))
        return outer.SerializeToString()

    def _take_patch(self, request: Node, coll: Collection, req: Node, patch_node: Node) -> Node:
        if self.conflicts > 0 or req.attr_int("version") != coll.state.version:
            self.conflicts = max(0, self.conflicts - 1)
            error = Node("error", {"code": "409", "text": "conflict"})
            attrs = {"name": coll.name, "type": "error"}
            return result(request, Node("sync", {}, [Node("collection", attrs, [error])]))
        patch = pb.SyncdPatch.FromString(patch_node.content_bytes())
        self.received.append(patch)
        coll.apply(patch)
        attrs = {"name": coll.name, "version": str(coll.state.version)}
        return result(request, Node("sync", {}, [Node("collection", attrs)]))
