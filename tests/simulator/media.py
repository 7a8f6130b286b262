"""The media server: ``media_conn``, upload and download, as WhatsApp's CDN behaves for clients.

- ``<iq xmlns="w:m" type="set"><media_conn/></iq>`` is answered with a fresh upload ``auth`` and
  one ``<host hostname="HOST:PORT"/>``: the simulator itself. whatsmeow and Baileys both build
  ``https://{hostname}{path}`` from it, so the port travels inside ``hostname``.
- ``POST /mms/{type}/{token}?auth=…`` stores the body (an encrypted blob) after checking the
  auth, the blob's shape and that ``token`` is its base64url SHA-256 (padded or not), and answers
  ``{"url", "direct_path"}``.
- ``GET /v/…`` (a direct path; extra query parameters ignored) serves the blob: 404 unknown,
  410 expired, ``Range: bytes=a-b`` honoured.

A client's fault (unknown auth, bad token, malformed or oversized body, unknown type) is answered
with a JSON error and recorded in ``protocol_errors``; an auth that expired or was revoked only
gets 401, since refreshing ``media_conn`` then is the normal course. Admin endpoints: see the
README ("Media").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node

from .admin_phone import _body
from .connection import Connection, iq_result
from .core import json_response
from .media_crypto import MAC_LENGTH
from .media_store import AUTH_TTL, MEDIA_CONN_TTL, get_media_store
from .phone_media import find_media_path
from .state import AdminError, ServerState

log = logging.getLogger("simulator.media")

MMS_TYPES = frozenset(
    {
        "image",
        "video",
        "audio",
        "document",
        "md-msg-hist",
        "md-app-state",
        "thumbnail-link",
        "sticker-pack",
    }
)
"""Upload path types whatsmeow (``mediaTypeToMMSType``) and Baileys (``MEDIA_PATH_MAP``) use."""
MAX_BUCKETS = 12
CHUNK = 256 * 1024


def base_url(state: ServerState) -> str:
    """``https://HOST:PORT`` (or ``http``) of this simulator."""
    parts = urlsplit(str(state.info["media_url"]))
    return f"{parts.scheme}://{parts.netloc}"


def media_host(state: ServerState) -> str:
    return urlsplit(str(state.info["media_url"])).netloc


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message, "code": status}, status)


def _fault(state: ServerState, request: web.Request, status: int, message: str) -> web.Response:
    state.record_protocol_error(f"media {request.method} {request.path}: {message}")
    return _error(status, message)


def _token_matches(token: str, digest: bytes) -> bool:
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return hmac.compare_digest(token.rstrip("=").encode(), expected.encode())


async def handle_media_conn(conn: Connection, node: Node) -> Node:
    store = get_media_store(conn.state)
    host = Node(
        "host",
        {"hostname": media_host(conn.state), "maxContentLengthBytes": str(store.max_upload_bytes)},
    )
    attrs = {
        "auth": store.issue_auth(),
        "ttl": str(MEDIA_CONN_TTL),
        "auth_ttl": str(AUTH_TTL),
        "max_buckets": str(MAX_BUCKETS),
    }
    return iq_result(node, [Node("media_conn", attrs, [host])])


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None when it exceeds ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


async def upload(state: ServerState, request: web.Request) -> web.StreamResponse:
    store = get_media_store(state)
    parts = request.path.split("/")
    if len(parts) != 4 or not parts[3]:
        return _fault(state, request, 404, "upload paths are /mms/{type}/{token}")
    mms_type, token = parts[2], parts[3]
    if mms_type not in MMS_TYPES:
        return _fault(state, request, 400, f"unknown media type {mms_type!r}")
    auth = request.query.get("auth", "")
    status = store.auth_status(auth) if auth else "missing"
    if status == "expired":
        log.info("upload with an expired auth: 401")
        return _error(401, "auth expired: fetch media_conn again")
    if status != "valid":
        return _fault(state, request, 401, f"{status} auth")
    if request.content_length is not None and request.content_length > store.max_upload_bytes:
        return _fault(state, request, 413, f"body of {request.content_length} bytes is too large")
    try:
        body = await _read_body(request, store.max_upload_bytes)
    except (ConnectionError, web.HTTPException, ValueError) as e:
        return _fault(state, request, 400, f"body cut off: {e!r}")
    except Exception as e:  # aiohttp's payload errors have no common public base
        if type(e).__module__.startswith("aiohttp"):
            return _fault(state, request, 400, f"body cut off: {e!r}")
        raise
    if body is None:
        return _fault(state, request, 413, f"body larger than {store.max_upload_bytes} bytes")
    if len(body) < 16 + MAC_LENGTH or (len(body) - MAC_LENGTH) % 16:
        return _fault(state, request, 400, f"a {len(body)}-byte body is no encrypted media")
    digest = hashlib.sha256(body).digest()
    if not _token_matches(token, digest):
        return _fault(state, request, 400, "token is not the body's SHA-256")
    stored = store.put(body, mms_type)
    log.debug("stored %d bytes of %s at %s", len(body), mms_type, stored.direct_path)
    return json_response(
        {
            "url": f"{base_url(state)}{stored.direct_path}&mms3=true",
            "direct_path": stored.direct_path,
        }
    )


def _range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single ``bytes=a-b`` range, or None if unusable."""
    if not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    try:
        start = int(first) if first else max(size - int(last), 0)
        end = int(last) + 1 if first and last else size
    except ValueError:
        return None
    if start >= size or start >= end:
        return None
    return start, min(end, size)


async def download(state: ServerState, request: web.Request) -> web.StreamResponse:
    stored = get_media_store(state).get(request.path)
    if stored is None:
        return _error(404, "no media at this path")
    if stored.expired:
        return _error(410, "media expired")
    headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    wanted = _range(request.headers.get("Range", ""), len(stored.blob))
    if wanted is None:
        return web.Response(body=stored.blob, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(stored.blob)}"
    return web.Response(body=stored.blob[start:end], status=206, headers=headers)


def install(state: ServerState) -> None:
    store = get_media_store(state)

    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/mms/"):
            if request.method != "POST":
                return _error(405, "uploads are POST")
            return await upload(state, request)
        if request.method not in ("GET", "HEAD"):
            return _error(405, "downloads are GET")
        return await download(state, request)

    async def listing(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        blobs: list[dict[str, Any]] = [
            {
                "direct_path": b.direct_path,
                "type": b.media_type,
                "size": len(b.blob),
                "enc_sha256": base64.b64encode(b.enc_sha256).decode(),
                "expired": b.expired,
            }
            for b in store.blobs.values()
        ]
        return json_response(
            {"blobs": blobs, "auths": len(store.auths), "max_upload_bytes": store.max_upload_bytes}
        )

    async def expire(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        path = data.get("direct_path")
        if not path:
            if not data.get("account") or not data.get("id"):
                raise AdminError(400, "give 'direct_path', or 'account' and 'id' of a message")
            path = find_media_path(state, str(data["account"]), str(data["id"]))
            if path is None:
                raise AdminError(404, "that phone knows no media message with that id")
        if data.get("gone"):  # the phone lost the file too: a media retry finds nothing
            if not store.forget(str(path)):
                raise AdminError(404, f"no media at {path}")
            return json_response({"gone": str(path)})
        if not store.expire(str(path)):
            raise AdminError(404, f"no media at {path}")
        return json_response({"expired": str(path)})

    async def revoke_auths(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return json_response({"revoked": store.revoke_auths()})

    async def config(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        limit = data.get("max_upload_bytes")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise AdminError(400, "'max_upload_bytes' must be a positive integer")
        store.max_upload_bytes = limit
        return json_response({"max_upload_bytes": limit})

    state.iq_handlers.register("w:m", handle_media_conn, child="media_conn", type="set")
    state.media_handler = serve
    routes = state.admin_routes
    routes.add("GET", "/media", listing)
    routes.add("POST", "/media/expire", expire)
    routes.add("POST", "/media/revoke-auths", revoke_auths)
    routes.add("POST", "/media/config", config)
