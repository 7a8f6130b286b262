"""App state sync (``w:sync:app:state``): the server's answers and the phone's patches.

``<iq type="set"><sync><collection name version return_snapshot>…`` — per collection:

- a fetch (no ``<patch>``): first the phone turns any change in its memory into a patch
  (``app_state_phone.reconcile``); then the answer is ``<collection name version>`` with a
  ``<snapshot>`` (an ``ExternalBlobReference`` to the encrypted ``SyncdSnapshot``, uploaded as
  ``md-app-state``) when one was asked for or the client is more than ``snapshot_behind``
  versions behind, else ``<patches><patch>SyncdPatch</patch>…</patches>`` since its version, at
  most ``page_size`` of them, with ``has_more_patches="true"`` when it must ask again. ``version``
  is that of the last patch (or the snapshot) served. Without a media server (no
  ``state.media_handler``) a snapshot cannot be downloaded, so the patches since version 0
  are served instead.
- a companion's patch (``<collection name version><patch>SyncdPatch</patch></collection>``):
  accepted only at the collection's current version, stored as the next version and answered
  ``<collection name version=new/>``; the phone decrypts it and applies it to its memory, and
  the account's other companions get ``<notification type="server_sync"><collection name
  version/></notification>`` (live or queued). At a stale version the answer is whatsmeow's
  conflict: ``<collection name version type="error"><error code="409" text="conflict"/>`` with
  the ``<patches>`` the client lacks. A patch of the wrong shape is a 400 (``bad-request``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import SERVER_JID
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2

from . import app_state_keys
from .accounts import Account, LinkedDevice
from .app_state_crypto import MutationKeys, snapshot_mac
from .app_state_keys import get_key_ring
from .app_state_phone import AccountAppState, reconcile, take_patch
from .app_state_store import Collection
from .connection import Connection, iq_error, iq_result
from .login import deliver
from .media_crypto import encrypt_media
from .media_store import get_media_store
from .phone import get_world
from .phone_memory import get_memories
from .state import ServerState

log = logging.getLogger("simulator.app_state")


@dataclass
class AppStateConfig:
    page_size: int = 50
    """Patches per answer before ``has_more_patches``."""
    snapshot_behind: int = 500
    """A client further behind than this gets a snapshot even if it did not ask."""
    snapshots: str = "auto"
    """``auto`` (snapshots when a media server is installed), ``always`` or ``never``."""


class AppStateService:
    """All accounts' app state (``state.extra["app_state"]``)."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.config = AppStateConfig()
        self._by_phone: dict[str, AccountAppState] = {}

    def of(self, account: Account) -> AccountAppState:
        found = self._by_phone.get(account.phone)
        if found is None:
            found = self._by_phone[account.phone] = AccountAppState()
        return found

    def lid_to_pn(self, jid: str) -> str:
        if jid.endswith("@lid"):
            account = get_world(self.state).accounts.find_by_lid(jid.split("@", 1)[0])
            if account is not None:
                return account.jid
        return jid

    # --- the phone ---

    def phone_changes(
        self, account: Account, notify_except: int | None = None
    ) -> list[Collection]:
        """Let the phone patch what its memory changed, and tell its companions."""
        memory = get_memories(self.state).of(account)
        keys = get_key_ring(self.state).of(account)
        moved = reconcile(account, memory, self.of(account), keys)
        for collection in moved:
            self.notify(account, collection, notify_except)
        return moved

    def notify(self, account: Account, collection: Collection, skip: int | None) -> int:
        node = Node(
            "notification",
            {
                "from": SERVER_JID,
                "type": "server_sync",
                "id": f"{int(time.time() * 1000)}{collection.version}",
                "t": str(int(time.time())),
            },
            [Node("collection", {"name": collection.name, "version": str(collection.version)})],
        )
        count = 0
        for device_id in sorted(account.devices):
            if device_id != skip:
                deliver(get_world(self.state), account.phone, device_id, node)
                count += 1
        return count

    def snapshot(self, account: Account, collection: Collection) -> bytes:
        """The phone's snapshot of ``collection``, uploaded; the ``ExternalBlobReference``."""
        app_state = self.of(account)
        key = get_key_ring(self.state).of(account).latest(account)
        keys = MutationKeys.expand(key.key_data)
        mac = snapshot_mac(keys, collection.hash, collection.version, collection.name)
        if app_state.corrupt_next == "snapshot_mac":
            app_state.corrupt_next = ""
            mac = bytes([mac[0] ^ 0xFF]) + mac[1:]
        snapshot = wa_server_sync_pb2.SyncdSnapshot(
            version=wa_server_sync_pb2.SyncdVersion(version=collection.version),
            records=list(collection.records.values()),
            mac=mac,
            keyID=wa_server_sync_pb2.KeyId(ID=key.key_id),
        )
        app_state.snapshots_served += 1
        encrypted = encrypt_media(snapshot.SerializeToString(), "md-app-state")
        stored = get_media_store(self.state).put(encrypted.blob, "md-app-state")
        reference = wa_server_sync_pb2.ExternalBlobReference(
            mediaKey=encrypted.media_key,
            directPath=stored.direct_path,
            handle="",
            fileSizeBytes=encrypted.file_length,
            fileSHA256=encrypted.file_sha256,
            fileEncSHA256=encrypted.file_enc_sha256,
        )
        return reference.SerializeToString()

    def snapshots_possible(self) -> bool:
        mode = self.config.snapshots
        return mode == "always" or (mode == "auto" and self.state.media_handler is not None)

    def served(self, account: Account, patch: wa_server_sync_pb2.SyncdPatch) -> bytes:
        """A stored patch as served, corrupted once if the admin asked for it."""
        app_state = self.of(account)
        mode = app_state.corrupt_next
        if mode not in ("patch_mac", "value_mac"):
            return patch.SerializeToString()
        app_state.corrupt_next = ""
        copy = wa_server_sync_pb2.SyncdPatch()
        copy.CopyFrom(patch)
        if mode == "patch_mac":
            copy.patchMAC = bytes([copy.patchMAC[0] ^ 0xFF]) + copy.patchMAC[1:]
        else:
            value = copy.mutations[-1].record.value
            value.blob = value.blob[:-1] + bytes([value.blob[-1] ^ 0xFF])
        log.info(
            "%s: serving %s v%d with a bad %s", account.phone, "patch", patch.version.version, mode
        )
        return copy.SerializeToString()

    # --- the IQ ---

    def fetch(self, account: Account, name: str, version: int, want_snapshot: bool) -> Node:
        collection = self.of(account).server.get(name)
        if collection is None:
            return Node(
                "collection",
                {"name": name, "version": str(version), "type": "error"},
                [Node("error", {"code": "404", "text": "item-not-found"})],
            )
        behind = collection.version - version
        if (
            want_snapshot or behind > self.config.snapshot_behind or version > collection.version
        ) and collection.version > 0:
            if self.snapshots_possible():
                reference = self.snapshot(account, collection)
                return Node(
                    "collection",
                    {"name": name, "version": str(collection.version)},
                    [Node("snapshot", {}, reference)],
                )
            version = 0
        patches = collection.since(version)
        page = patches[: self.config.page_size]
        attrs = {
            "name": name,
            "version": str(page[-1].version.version if page else collection.version),
        }
        if len(patches) > len(page):
            attrs["has_more_patches"] = "true"
        children = (
            [Node("patches", {}, [Node("patch", {}, self.served(account, p)) for p in page])]
            if page
            else []
        )
        return Node("collection", attrs, children)

    def receive_patches(
        self, account: Account, device: int, name: str, version: int, patch_nodes: list[Node]
    ) -> Node:
        collection = self.of(account).server.get(name)
        if collection is None:
            return Node(
                "collection",
                {"name": name, "type": "error"},
                [Node("error", {"code": "404", "text": "item-not-found"})],
            )
        if version != collection.version:
            missing = collection.since(version)
            return Node(
                "collection",
                {"name": name, "version": str(collection.version), "type": "error"},
                [
                    Node("error", {"code": "409", "text": "conflict"}),
                    Node(
                        "patches", {}, [Node("patch", {}, p.SerializeToString()) for p in missing]
                    ),
                ],
            )
        patches = [
            wa_server_sync_pb2.SyncdPatch.FromString(n.content_bytes()) for n in patch_nodes
        ]
        memory = get_memories(self.state).of(account)
        keys = get_key_ring(self.state).of(account)
        for patch in patches:
            stored = collection.append(patch)
            take_patch(account, memory, self.of(account), keys, name, stored, self.lid_to_pn)
        log.info("%s device %d: patch %s now v%d", account.phone, device, name, collection.version)
        self.notify(account, collection, device)
        return Node("collection", {"name": name, "version": str(collection.version)})


def get_app_state(state: ServerState) -> AppStateService:
    service = state.extra.get("app_state")
    if not isinstance(service, AppStateService):
        service = state.extra["app_state"] = AppStateService(state)
    return service


async def handle_sync(conn: Connection, node: Node) -> Node:
    account = conn.extra.get("account")
    device = conn.extra.get("linked_device")
    if not isinstance(account, Account) or not isinstance(device, LinkedDevice):
        return iq_error(node, "401", "not-authorized")
    service = get_app_state(conn.state)
    requests = node.get_child_by_tag("sync").children_by_tag("collection")
    if any(not c.children_by_tag("patch") for c in requests):
        service.phone_changes(account, notify_except=device.device_id)
    answers = []
    for collection in requests:
        name = collection.attr_str("name")
        # whatsmeow leaves ``version`` out when it asks for a snapshot.
        version = collection.attr_int_opt("version") or 0
        patch_nodes = collection.children_by_tag("patch")
        if patch_nodes:
            answers.append(
                service.receive_patches(account, device.device_id, name, version, patch_nodes)
            )
        else:
            snapshot = collection.attr_bool_opt("return_snapshot") or False
            answers.append(service.fetch(account, name, version, snapshot))
    return iq_result(node, [Node("sync", {}, answers)])


def install(state: ServerState) -> None:
    app_state_keys.install(state)
    get_app_state(state)
    state.iq_handlers.register("w:sync:app:state", handle_sync, type="set", child="sync")
    from .admin_app_state import install as install_admin

    install_admin(state)
