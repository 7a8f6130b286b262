"""Users' profile pictures: ``w:profile:picture`` get for a user ``target``, an admin endpoint
that sets an account's picture as its phone would, and the ``picture`` notification.

A companion asks ``<iq xmlns="w:profile:picture" type="get" to="s.whatsapp.net" target="JID">
<picture type="image" query="url" id?/></iq>`` (``JID`` a phone number or a LID) and gets
``<picture id type="image" url direct_path/>``; no picture is 404; the ``id`` it already has
answers ``<picture id status="304"/>`` (unchanged). The url is ``GET
/admin/accounts/{phone}/picture`` of this server. Group targets, and every ``set``, stay with
``group_iq.handle_picture``. Privacy settings are not simulated: everyone sees every picture.

When a picture is set or removed, every companion of every account hears
``<notification type="picture" from="PHONE@s.whatsapp.net"><set jid id author/></notification>``
(``<delete jid/>`` when removed); the simulator does not model whose address book holds whom.
Documented in ``README.md`` ("Profile pictures").
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from . import group_iq
from .accounts import Account
from .connection import Connection, iq_error, iq_result, new_stanza_id
from .core import json_response
from .login import deliver
from .phone import PhoneWorld, get_world
from .routing import LID_SERVER, PN_SERVER
from .state import AdminError, ServerState

MAX_PICTURE = 5 * 1024 * 1024


@dataclass
class Picture:
    id: str
    data: bytes


def pictures(state: ServerState) -> dict[str, Picture]:
    """By phone: each account's current picture."""
    found = state.extra.get("profile_pictures")
    if not isinstance(found, dict):
        found = state.extra["profile_pictures"] = {}
    return found


def _account(world: PhoneWorld, jid: JID) -> Account | None:
    if jid.server == PN_SERVER:
        return world.accounts.find(jid.user)
    if jid.server == LID_SERVER:
        return world.accounts.find_by_lid(jid.user)
    return None


async def handle_get(conn: Connection, node: Node) -> Node | None:
    target = node.attr_jid_opt("target")
    if target is None or target.server not in (PN_SERVER, LID_SERVER):
        return await group_iq.handle_picture(conn, node)
    if not isinstance(conn.extra.get("account"), Account):
        return iq_error(node, "401", "not-authorized")
    account = _account(get_world(conn.state), target)
    picture = pictures(conn.state).get(account.phone) if account is not None else None
    if account is None or picture is None:
        return iq_error(node, "404", "item-not-found")
    query = node.get_optional_child_by_tag("picture")
    if query is not None and query.attr_str_opt("id") == picture.id:
        return iq_result(node, [Node("picture", {"id": picture.id, "status": "304"})])
    path = f"/accounts/{account.phone}/picture"
    return iq_result(node, [group_iq.picture_node(conn, picture.id, path)])


def set_picture(state: ServerState, account: Account, data: bytes | None) -> str:
    """Store (or remove, ``None``) the account's picture and tell every companion; the new id
    (``""`` when removed)."""
    store = pictures(state)
    jid = JID(account.phone, PN_SERVER)
    if data:
        picture_id = str(int(time.time() * 1000) + secrets.randbelow(1000))
        store[account.phone] = Picture(picture_id, data)
        child = Node("set", {"jid": jid, "id": picture_id, "author": jid})
    else:
        picture_id = ""
        store.pop(account.phone, None)
        child = Node("delete", {"jid": jid})
    world = get_world(state)
    for other in world.accounts:
        for device_id in sorted(d for d in other.devices if d != 0):
            node = Node(
                "notification",
                {
                    "from": jid,
                    "type": "picture",
                    "id": new_stanza_id(),
                    "t": str(int(time.time())),
                },
                [child],
            )
            deliver(world, other.phone, device_id, node)
    return picture_id


def _account_param(state: ServerState, params: dict[str, str]) -> Account:
    account = get_world(state).accounts.find(params["phone"])
    if account is None:
        raise AdminError(404, f"no account {params['phone']}")
    return account


def install(state: ServerState) -> None:
    state.iq_handlers.register("w:profile:picture", handle_get, type="get")

    async def admin_set(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = _account_param(state, params)
        data = await request.read()
        if not data:
            raise AdminError(400, "the body must be the picture (JPEG bytes)")
        if len(data) > MAX_PICTURE:
            raise AdminError(413, "picture too large")
        return json_response({"id": set_picture(state, account, data)})

    async def admin_delete(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        set_picture(state, _account_param(state, params), None)
        return json_response({"id": ""})

    async def admin_get(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        picture = pictures(state).get(_account_param(state, params).phone)
        if picture is None:
            raise AdminError(404, "no picture")
        return web.Response(body=picture.data, content_type="image/jpeg")

    state.admin_routes.add("POST", "/accounts/{phone}/picture", admin_set)
    state.admin_routes.add("DELETE", "/accounts/{phone}/picture", admin_delete)
    state.admin_routes.add("GET", "/accounts/{phone}/picture", admin_get)
