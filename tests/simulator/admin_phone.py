"""Admin endpoints to act as the phone and as WhatsApp towards linked devices.

Documented in ``tests/simulator/README.md`` ("Phones, linking and the connection's life").
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .connection import Connection
from .core import json_response
from .login import deliver
from .pairing import Tamper
from .phone import LoginFailure, end_stream, get_world
from .phone_activity import ack_json, receipt_node, record_ack, set_last_activity
from .state import AdminError, ServerState


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise AdminError(400, f"body is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def _str(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str | int) or value == "":
        raise AdminError(400, f"{key!r} is required")
    return str(value)


def node_from_json(data: Any) -> Node:
    """A node from ``{"tag", "attrs"?, "content"?}``: attribute values are strings, or
    ``{"jid": "…"}`` for a JID; content is a string, ``{"hex": "…"}`` for bytes, or a list of
    nodes. Anything else is a 400 (the point is sending odd stanzas, not odd JSON)."""
    if not isinstance(data, dict) or not isinstance(data.get("tag"), str) or not data["tag"]:
        raise AdminError(400, "a node needs a non-empty string 'tag'")
    attrs: dict[str, str | JID] = {}
    raw_attrs = data.get("attrs") or {}
    if not isinstance(raw_attrs, dict):
        raise AdminError(400, "'attrs' must be an object")
    for key, value in raw_attrs.items():
        try:
            attrs[key] = JID.parse(value["jid"]) if isinstance(value, dict) else str(value)
        except (KeyError, TypeError, ValueError) as e:
            raise AdminError(400, f"attribute {key!r}: {e}") from e
    content = data.get("content")
    if isinstance(content, list):
        return Node(data["tag"], attrs, [node_from_json(child) for child in content])
    if isinstance(content, dict):
        try:
            return Node(data["tag"], attrs, bytes.fromhex(content["hex"]))
        except (KeyError, TypeError, ValueError) as e:
            raise AdminError(400, f"bad bytes content: {e}") from e
    if content is None or isinstance(content, str):
        return Node(data["tag"], attrs, content)
    raise AdminError(400, "content must be a string, {'hex': …} or a list of nodes")


def install(state: ServerState) -> None:
    world = get_world(state)

    def account_json(phone: str) -> dict[str, Any]:
        account = world.accounts.get(phone)
        return {
            "phone": account.phone,
            "lid": account.lid,
            "jid": account.jid,
            "lid_jid": account.lid_jid,
            "identity_public": account.identity.public.hex(),
            "push_name": account.push_name,
            "last_seen": account.last_seen,
            "hosted": account.hosted,
            "devices": [
                {
                    "device": d.device_id,
                    "jid": account.device_jid(d.device_id),
                    "lid": account.device_lid(d.device_id),
                    "confirmed": d.confirmed,
                    "connected": world.connection_of(account, d.device_id) is not None,
                    "active": bool(
                        (c := world.connection_of(account, d.device_id)) and c.extra.get("active")
                    ),
                }
                for d in account.devices.values()
            ],
        }

    async def create_account(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        phone = data.get("phone")
        account = world.accounts.create(
            str(phone).lstrip("+") if phone else None, str(data.get("push_name") or "")
        )
        if data.get("default"):
            world.scan_phone = account.phone
        if "hosted" in data:
            account.hosted = bool(data["hosted"])
        return json_response(account_json(account.phone))

    async def get_account(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        try:
            return json_response(account_json(params["phone"]))
        except LookupError:
            raise AdminError(404, "no such account") from None

    async def enter_code(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        result = await world.enter_code(_str(data, "phone"), _str(data, "code"))
        return json_response(result.to_json(), 200 if result.error is None else 409)

    async def remove_device(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account, device = world.device_of(_str(await _body(request), "jid"))
        world.unlink(account, device)
        return json_response({"removed": account.device_jid(device.device_id)})

    async def last_seen(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        account = world.account(data.get("phone"))
        try:
            t = float(data["t"]) if "t" in data else time.time() - float(data.get("ago", 0))
        except (TypeError, ValueError) as e:
            raise AdminError(400, f"bad time: {e}") from e
        announced = set_last_activity(world, account, t)
        return json_response(
            {
                "phone": account.phone,
                "last_seen": account.last_seen,
                "hosted": account.hosted,
                "notified": announced.notified,
                "queued": announced.queued,
            }
        )

    def _jid(data: dict[str, Any], key: str) -> JID:
        try:
            return JID.parse(_str(data, key))
        except ValueError as e:
            raise AdminError(400, f"{key!r} is not a JID: {e}") from e

    async def send_receipt(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        account, device = world.device_of(_str(data, "jid"))
        try:
            t = float(data.get("t", time.time()))
        except (TypeError, ValueError) as e:
            raise AdminError(400, f"bad time: {e}") from e
        node = receipt_node(
            _jid(data, "from"),
            t,
            receipt_type=str(data.get("type", "read")),
            chat=_jid(data, "recipient") if data.get("recipient") else None,
            participant=_jid(data, "participant") if data.get("participant") else None,
            message_id=str(data["id"]) if data.get("id") else None,
        )
        live = deliver(world, account.phone, device.device_id, node)
        return json_response({"id": node.attrs["id"], "delivered": live, "queued": not live})

    async def acks(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account, device = world.device_of(params["jid"])
        recorded = world.acks.get(account.device_jid(device.device_id), ())
        return json_response({"acks": [ack_json(node) for node in recorded]})

    async def tamper(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        world.next_tamper = Tamper(
            bad_hmac=bool(data.get("bad_hmac")),
            bad_account_signature=bool(data.get("bad_account_signature")),
        )
        return json_response({"ok": True})

    async def ref_lifetime(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        world.ref_lifetimes.first = float(data.get("first", 60.0))
        world.ref_lifetimes.next = float(data.get("next", 20.0))
        return json_response(
            {"first": world.ref_lifetimes.first, "next": world.ref_lifetimes.next}
        )

    def live_connection(jid: str) -> Connection:
        account, device = world.device_of(jid)
        conn = world.connection_of(account, device.device_id)
        if conn is None:
            raise AdminError(409, f"{jid} is not connected")
        return conn

    async def stream_error(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        conn = live_connection(_str(data, "jid"))
        children = (
            [Node("conflict", {"type": str(data["conflict"])})] if data.get("conflict") else None
        )
        code = str(data["code"]) if data.get("code") is not None else None
        await end_stream(conn, code, children)
        return json_response({"sent": True})

    async def login_failure(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        key = str(data.get("jid") or "*")
        attrs: dict[str, str] = {
            k: str(data[k]) for k in ("code", "expire", "message") if k in data
        }
        failure = LoginFailure(int(_str(data, "reason")), attrs)
        world.login_failures.setdefault(key, []).extend([failure] * int(data.get("count", 1)))
        return json_response({"queued": len(world.login_failures[key])})

    async def drop(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        conn = live_connection(_str(await _body(request), "jid"))
        await conn.close()
        return json_response({"dropped": True})

    async def raw_nodes(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        conn = live_connection(_str(data, "jid"))
        nodes = data.get("nodes")
        if not isinstance(nodes, list):
            raise AdminError(400, "'nodes' must be a list")
        built = [node_from_json(node) for node in nodes]
        for node in built:  # in order, each written before the next
            await conn.send_node(node)
        return json_response({"sent": len(built)})

    routes = state.admin_routes
    routes.add("POST", "/accounts", create_account)
    routes.add("GET", "/accounts/{phone}", get_account)
    routes.add("POST", "/mock-phone/enter-code", enter_code)
    routes.add("POST", "/mock-phone/remove-device", remove_device)
    routes.add("POST", "/mock-phone/last-seen", last_seen)
    routes.add("POST", "/mock-phone/tamper", tamper)
    routes.add("POST", "/mock-phone/ref-lifetime", ref_lifetime)
    routes.add("POST", "/devices/stream-error", stream_error)
    routes.add("POST", "/devices/login-failure", login_failure)
    routes.add("POST", "/devices/drop", drop)
    routes.add("POST", "/devices/raw", raw_nodes)
    routes.add("POST", "/devices/receipt", send_receipt)
    routes.add("GET", "/devices/{jid}/acks", acks)
    state.stanza_handlers.register("ack", record_ack)
