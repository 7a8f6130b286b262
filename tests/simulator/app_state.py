"""App state (``w:sync:app:state``) for accounts that have none: every collection is empty.

A companion syncs its app state collections right after the initial history sync (Baileys does
so before it leaves its initial-sync state). The simulator keeps no app state yet, so each
requested ``<collection name version>`` is answered with that collection at the version asked,
no snapshot and no patches, which is what WhatsApp answers for an account that never changed a
setting. A fuller implementation may replace this handler (``replace=True``).
"""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.binary import Node

from .connection import Connection, iq_result
from .state import ServerState


async def handle_sync(conn: Connection, node: Node) -> Node:
    collections = []
    for collection in node.get_child_by_tag("sync").children_by_tag("collection"):
        name = collection.attr_str("name")
        version = str(collection.attrs.get("version", "0"))
        collections.append(Node("collection", {"name": name, "version": version}))
    return iq_result(node, [Node("sync", {}, collections)])


def install(state: ServerState) -> None:
    state.iq_handlers.register("w:sync:app:state", handle_sync, type="set", child="sync")
