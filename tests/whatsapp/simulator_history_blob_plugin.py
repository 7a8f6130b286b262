"""A simulator plugin for the client's bad-history tests: the phone sends one history sync
notification whose blob the test chose, uploaded to the media server like a real one, with
the notification's hashes or the blob's MAC spoiled on request.

The simulator's own history syncs always send well-formed blobs; these tests need the broken
ones a real phone or server could deliver. Loaded with
``--plugin tests.whatsapp.simulator_history_blob_plugin``.

- ``POST /admin/test-history-blob`` ``{"jid": companion, "payload": base64 plaintext (the
  would-be zlib data), "spoil"?: "enc_sha256" | "file_sha256" | "mac" | "expired", "inline"?:
  bool}`` → ``{"id": peer message id, "direct_path"}``
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.simulator.admin_phone import _body
from tests.simulator.core import json_response
from tests.simulator.media_crypto import encrypt_media
from tests.simulator.media_store import get_media_store
from tests.simulator.phone import get_world
from tests.simulator.phone_send import send_peer
from tests.simulator.state import AdminError, ServerState

HISTORY = "md-msg-hist"


def _notification(**fields: Any) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    protocol = message.protocolMessage
    protocol.type = wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
    notification = protocol.historySyncNotification
    notification.syncType = wa_e2e_pb2.RECENT
    notification.chunkOrder = 1
    for name, value in fields.items():
        setattr(notification, name, value)
    return message


def install(state: ServerState) -> None:
    world = get_world(state)
    media = get_media_store(state)

    async def send_blob(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data: dict[str, Any] = await _body(request)
        account, device = world.device_of(str(data["jid"]))
        payload = base64.b64decode(str(data["payload"]))
        spoil = data.get("spoil")
        if data.get("inline"):
            message = _notification(initialHistBootstrapInlinePayload=payload)
            direct_path = ""
        else:
            encrypted = encrypt_media(payload, HISTORY)
            blob = encrypted.blob
            if spoil == "mac":
                blob = blob[:-1] + bytes([blob[-1] ^ 1])
            stored = media.put(blob, HISTORY)
            if spoil == "expired":
                media.expire(stored.direct_path)
            direct_path = stored.direct_path
            message = _notification(
                directPath=direct_path,
                mediaKey=encrypted.media_key,
                fileSHA256=b"\x00" * 32 if spoil == "file_sha256" else encrypted.file_sha256,
                # A spoiled MAC changes the blob, so its real hash is the stored one.
                fileEncSHA256=b"\x00" * 32 if spoil == "enc_sha256" else stored.enc_sha256,
                fileLength=encrypted.file_length,
            )
        message_id = await send_peer(state, account, device.device_id, message)
        if message_id is None:
            raise AdminError(409, "the device has no keys on the server")
        return json_response({"id": message_id, "direct_path": direct_path})

    state.admin_routes.add("POST", "/test-history-blob", send_blob)
