"""A phone that sends a broken history chunk, for the bridge's bad-input tests.

``POST /admin/devices/history-corrupt`` ``{"jid", "kind": "truncated" | "garbage"}`` sends the
companion one ``HISTORY_SYNC_NOTIFICATION`` whose inline payload is a real chunk cut short
(``truncated``: zlib ends early) or not zlib at all (``garbage``); answers ``{"id"}``.
"""

from __future__ import annotations

from aiohttp import web

from mautrix_whatsapp.whatsapp.proto import wa_history_sync_pb2

from . import history_encode as encode
from .admin_phone import _body, _str
from .core import json_response
from .history_sync import notification_message
from .phone import get_world
from .phone_send import send_peer
from .state import AdminError, ServerState

HistorySync = wa_history_sync_pb2.HistorySync


def install(state: ServerState) -> None:
    world = get_world(state)

    async def corrupt(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        account, device = world.device_of(_str(data, "jid"))
        kind = _str(data, "kind", "truncated")
        sync = HistorySync(syncType=HistorySync.RECENT, chunkOrder=7, progress=50)
        sync.conversations.add(ID="15550009999@s.whatsapp.net")
        payload = encode.compress(sync)
        if kind == "truncated":
            payload = payload[: len(payload) // 2]
        elif kind == "garbage":
            payload = b"this is not zlib data at all"
        else:
            raise AdminError(400, "'kind' is truncated or garbage")
        message = notification_message(sync, payload, state, inline=True)
        message_id = await send_peer(state, account, device.device_id, message)
        if message_id is None:
            raise AdminError(409, "the device has no pre-keys on the server")
        return json_response({"id": message_id})

    state.admin_routes.add("POST", "/devices/history-corrupt", corrupt)
