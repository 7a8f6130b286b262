"""The phone's first words to a new companion: the initial history sync, inline.

Right after a companion that asked for history (``DeviceProps.requireFullSync``) first logs in,
its phone sends it, as a peer message, a ``protocolMessage`` of type
``HISTORY_SYNC_NOTIFICATION`` with ``syncType=INITIAL_BOOTSTRAP`` and the zlib-compressed
``HistorySync`` inline (``initialHistBootstrapInlinePayload``, which companions announce support
for in ``historySyncConfig.inlineInitialPayloadInE2EeMsg``). The simulated phone has no chats to
tell of, so the payload is an empty bootstrap (progress 100) with the account's own LID
mapping. Baileys waits up to 20 s for this notification before it leaves its initial-sync state;
companions that did not ask for history (ours, by default) are not sent anything, so tests of
a silent phone stay silent.

``POST /admin/devices/history-bootstrap`` ``{"jid"}`` sends it to any companion on demand.
"""

from __future__ import annotations

import logging
import time
import zlib

from aiohttp import web
from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.proto import wa_companion_reg_pb2, wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

from .accounts import Account, LinkedDevice
from .admin_phone import _body, _str
from .connection import Connection
from .core import json_response
from .phone import get_world
from .phone_send import send_peer
from .state import AdminError, ServerState

log = logging.getLogger("simulator.history")


def asked_for_history(device: LinkedDevice) -> bool:
    props = wa_companion_reg_pb2.DeviceProps()
    try:
        props.ParseFromString(device.device_props)
    except DecodeError:
        return False
    return props.requireFullSync


def bootstrap_message(account: Account) -> wa_e2e_pb2.Message:
    history = wa_history_sync_pb2.HistorySync(
        syncType=wa_history_sync_pb2.HistorySync.INITIAL_BOOTSTRAP, chunkOrder=0, progress=100
    )
    history.phoneNumberToLidMappings.add(pnJID=account.jid, lidJID=account.lid_jid)
    message = wa_e2e_pb2.Message()
    protocol = message.protocolMessage
    protocol.type = wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
    notification = protocol.historySyncNotification
    notification.syncType = wa_e2e_pb2.INITIAL_BOOTSTRAP
    notification.chunkOrder = 0
    notification.progress = 100
    notification.oldestMsgInChunkTimestampSec = int(time.time())
    notification.initialHistBootstrapInlinePayload = zlib.compress(history.SerializeToString())
    return message


async def send_bootstrap(state: ServerState, account: Account, device: int) -> str | None:
    return await send_peer(state, account, device, bootstrap_message(account))


def install(state: ServerState) -> None:
    world = get_world(state)
    login = state.login_handler
    if login is None:
        raise RuntimeError("history_bootstrap must be installed after login")
    sent: set[tuple[str, int]] = set()

    async def login_then_bootstrap(conn: Connection, payload: ClientPayload) -> None:
        await login(conn, payload)
        account = conn.extra.get("account")
        device = conn.extra.get("linked_device")
        if not isinstance(account, Account) or not isinstance(device, LinkedDevice):
            return
        key = (account.phone, device.device_id)
        wanted = asked_for_history(device)
        log.debug("%r logged in; history wanted: %s, sent before: %s", conn, wanted, key in sent)
        if conn.closed.is_set() or key in sent or not wanted:
            return
        sent.add(key)
        await send_bootstrap(state, account, device.device_id)

    async def admin_bootstrap(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account, device = world.device_of(_str(await _body(request), "jid"))
        message_id = await send_bootstrap(state, account, device.device_id)
        if message_id is None:
            raise AdminError(409, "the device has no pre-keys on the server")
        return json_response({"id": message_id})

    state.login_handler = login_then_bootstrap
    state.admin_routes.add("POST", "/devices/history-bootstrap", admin_bootstrap)
