"""What follows ``<success>``: the steps that make a logged-in connection usable.

whatsmeow's order (``handleConnectSuccess``): make sure the server holds enough one-time
pre-keys, leave passive mode (``<active>``; until then the server delivers nothing), announce the
unified session, send presence if we have a push name, and only then report
:class:`~.events.Connected`, so the bridge never acts on a connection that cannot receive yet.
Also the ``<ib>`` offline-sync progress, which asks for the queued stanzas in batches.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from .binary.jid import JID
from .binary.node import Node
from .connection import NotConnectedError
from .connection_events import parse_ib
from .events import Connected
from .request import IQError
from .socket.errors import SocketError

if TYPE_CHECKING:
    from .client import Client

WEEK_MS = 7 * 24 * 3600 * 1000
OFFLINE_BATCH_SIZE = 100
"""Queued stanzas asked for at a time, as WhatsApp Web does."""


def unified_session_id(server_time: float) -> str:
    """WhatsApp Web's session id: (server time + 3 days) in ms, modulo one week."""
    now_ms = int((server_time + 3 * 24 * 3600) * 1000)
    return str(now_ms % WEEK_MS)


async def handle_success(client: Client, node: Node) -> None:
    """``<success>``: note the server's time and our LID, then run the post-login steps."""
    if not client.device.is_paired:
        client.log.warning("Got <success> without being paired, ignoring")
        return
    t = node.attrs.get("t")
    if t is not None and str(t).isdigit():
        client.server_time_offset = int(str(t)) - time.time()
    lid = node.attrs.get("lid")
    if isinstance(lid, JID) and lid.server == "lid" and client.device.lid != lid:
        client.device.lid = lid
        await client.device_store.save_device(client.device)
    # The phone may encrypt to our signed pre-key before our first pre-key upload stored it
    # (its history sync right after linking): the store must hold it before any <message>.
    spk = client.device.signed_pre_key
    if not await client.signal_store.contains_signed_pre_key(spk.key_id):
        await client.signal_store.store_signed_pre_key(spk)
    client._logged_in = True
    client._reconnect_errors = 0
    client._spawn(after_login(client))


async def after_login(client: Client) -> None:
    """Pre-keys, active mode, presence; then Connected (whatsmeow's order)."""
    try:
        await client._pre_keys.ensure()
    except (IQError, NotConnectedError, SocketError, ValueError) as e:
        # ValueError covers a malformed count answer (NodeError); the upload is retried on the
        # server's low-count notification or the next login.
        client.log.warning("Failed to check or upload pre-keys: %s", e)
    try:
        await client.send_iq("passive", "set", [Node("active")])
    except (IQError, NotConnectedError, SocketError) as e:
        client.log.warning("Failed to set active mode: %s", e)
        return
    with contextlib.suppress(NotConnectedError, SocketError):
        session_id = unified_session_id(time.time() + client.server_time_offset)
        await client.send_node(Node("ib", {}, [Node("unified_session", {"id": session_id})]))
        if client.send_presence and client.device.push_name:
            await client.send_node(
                Node("presence", {"type": "available", "name": client.device.push_name})
            )
    await client.dispatch(Connected())


async def handle_ib(client: Client, node: Node) -> None:
    """Offline-sync progress events; an ``offline_preview`` asks for the first batch."""
    for event in parse_ib(node):
        await client.dispatch(event)
    if node.get_optional_child_by_tag("offline_preview") is not None:
        with contextlib.suppress(NotConnectedError, SocketError):
            await client.send_node(
                Node("ib", {}, [Node("offline_batch", {"count": str(OFFLINE_BATCH_SIZE)})])
            )
