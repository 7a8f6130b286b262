"""Admin endpoints for app state: give a phone contacts and chat settings (each change becomes
a patch of the phone's and ``server_sync`` notifications), look at the state, withhold or rotate
keys, and corrupt what is served next (for resync tests). Documented in the README, "App state".
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .accounts import Account
from .admin_phone import _body
from .app_state import get_app_state
from .app_state_crypto import MutationKeys, decode_record
from .app_state_keys import get_key_ring, share_keys
from .core import json_response
from .phone import get_world
from .phone_memory import Contact, get_memories
from .state import AdminError, ServerState

CORRUPTIONS = ("patch_mac", "value_mac", "snapshot_mac")


def _jid(text: str) -> str:
    """A chat or contact JID; a bare number means its phone-number JID."""
    if not text:
        raise AdminError(400, "empty JID")
    return text if "@" in text else f"{text.lstrip('+')}@s.whatsapp.net"


def _collections_json(state: ServerState, account: Account, with_keys: bool) -> dict[str, Any]:
    service = get_app_state(state)
    app_state = service.of(account)
    phone_keys = get_key_ring(state).of(account)
    collections: dict[str, Any] = {}
    for name, collection in app_state.server.collections.items():
        entries = []
        for patch in collection.patches:
            for mutation in patch.mutations:
                key = phone_keys.find(mutation.record.keyID.ID)
                item: dict[str, Any] = {
                    "version": patch.version.version,
                    "operation": "set" if mutation.operation == 0 else "remove",
                }
                if key is not None:
                    try:
                        decoded = decode_record(
                            MutationKeys.expand(key.key_data), mutation.record, mutation.operation
                        )
                        item["index"] = decoded.index
                    except ValueError as e:
                        item["error"] = str(e)
                entries.append(item)
        collections[name] = {
            "version": collection.version,
            "hash": collection.hash.hex(),
            "records": len(collection.records),
            "mutations": entries,
        }
    keys = []
    for key in phone_keys.keys:
        item = {"key_id": key.key_id.hex(), "timestamp": key.timestamp}
        if with_keys:
            item["key_data"] = key.key_data.hex()
        keys.append(item)
    memory = get_memories(state).of(account)
    chats = {
        chat.jid: {
            "pinned": chat.pinned,
            "archived": chat.archived,
            "mute_end": chat.mute_end,
            "marked_unread": chat.marked_unread,
        }
        for chat in memory.chats.values()
        if chat.pinned or chat.archived or chat.mute_end or chat.marked_unread
    }
    contacts = {
        c.jid: {"full_name": c.full_name, "first_name": c.first_name, "lid": c.lid}
        for c in memory.contacts.values()
    }
    return {
        "memory": {"push_name": account.push_name, "contacts": contacts, "chats": chats},
        "collections": collections,
        "keys": keys,
        "withhold": phone_keys.withhold,
        "shared_with": sorted(phone_keys.shared_with),
        "key_requests": phone_keys.requests,
        "failures": app_state.failures,
        "snapshots_served": app_state.snapshots_served,
        "config": vars(service.config),
    }


def install(state: ServerState) -> None:
    world = get_world(state)
    service = get_app_state(state)

    def account_of(params: dict[str, str]) -> Account:
        account = world.accounts.find(params["phone"].lstrip("+"))
        if account is None:
            raise AdminError(404, f"no account {params['phone']}")
        return account

    def changed(account: Account) -> web.Response:
        moved = service.phone_changes(account)
        return json_response(
            {
                "collections": {c.name: c.version for c in moved},
                **_collections_json(state, account, False),
            }
        )

    async def set_contacts(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        body = await _body(request)
        contacts = body.get("contacts")
        if not isinstance(contacts, list):
            raise AdminError(400, '"contacts" must be a list')
        memory = get_memories(state).of(account)
        for item in contacts:
            if not isinstance(item, dict) or not isinstance(item.get("jid"), str):
                raise AdminError(400, 'each contact needs a "jid"')
            jid = _jid(item["jid"])
            if item.get("remove"):
                memory.contacts.pop(jid, None)
                continue
            known = memory.contacts.get(jid) or Contact(jid)
            memory.contacts[jid] = Contact(
                jid,
                str(item.get("full_name", known.full_name)),
                str(item.get("first_name", known.first_name)),
                str(item.get("lid", known.lid)),
            )
        return changed(account)

    async def set_chat(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        body = await _body(request)
        chat = get_memories(state).of(account).chat(_jid(params["jid"]))
        if "pinned" in body:
            pinned = body["pinned"]
            chat.pinned = (
                int(pinned)
                if not isinstance(pinned, bool)
                else (int(time.time()) if pinned else 0)
            )
        if "archived" in body:
            chat.archived = bool(body["archived"])
        if "marked_unread" in body:
            chat.marked_unread = bool(body["marked_unread"])
        if "read" in body:
            chat.marked_unread = not bool(body["read"])
        if "mute_end" in body:
            chat.mute_end = int(body["mute_end"])
        if "muted" in body:
            chat.mute_end = -1 if body["muted"] else 0
        return changed(account)

    async def set_push_name(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        body = await _body(request)
        name = body.get("push_name")
        if not isinstance(name, str) or not name:
            raise AdminError(400, '"push_name" must be a non-empty string')
        account.push_name = name
        return changed(account)

    async def get_state(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        with_keys = request.query.get("keys") == "1"
        return json_response(_collections_json(state, account, with_keys))

    async def corrupt_next(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        kind = (await _body(request)).get("kind", "patch_mac")
        if kind not in CORRUPTIONS:
            raise AdminError(400, f'"kind" must be one of {", ".join(CORRUPTIONS)}')
        service.of(account).corrupt_next = str(kind)
        return json_response({"corrupt_next": kind})

    async def keys(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        body = await _body(request)
        phone_keys = get_key_ring(state).of(account)
        if "withhold" in body:
            phone_keys.withhold = bool(body["withhold"])
        if body.get("rotate"):
            phone_keys.latest(account)
            phone_keys.new_key(account)
        shared = []
        if body.get("share"):
            for device_id in sorted(account.devices):
                if await share_keys(state, account, device_id) is not None:
                    phone_keys.shared_with.add(device_id)
                    shared.append(device_id)
        result = _collections_json(state, account, False)
        return json_response({"shared": shared, **{k: result[k] for k in ("keys", "withhold")}})

    async def config(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        body = await _body(request)
        current = service.config
        if "page_size" in body:
            current.page_size = max(1, int(body["page_size"]))
        if "snapshot_behind" in body:
            current.snapshot_behind = max(0, int(body["snapshot_behind"]))
        if "snapshots" in body:
            if body["snapshots"] not in ("auto", "always", "never"):
                raise AdminError(400, '"snapshots" must be auto, always or never')
            current.snapshots = str(body["snapshots"])
        ring = get_key_ring(state)
        if "share_keys_at_login" in body:
            ring.share_at_login = bool(body["share_keys_at_login"])
        return json_response({**vars(current), "share_keys_at_login": ring.share_at_login})

    routes = state.admin_routes
    routes.add("POST", "/accounts/{phone}/contacts", set_contacts)
    routes.add("POST", "/accounts/{phone}/chats/{jid}/settings", set_chat)
    routes.add("POST", "/accounts/{phone}/push-name", set_push_name)
    routes.add("GET", "/accounts/{phone}/app-state", get_state)
    routes.add("POST", "/accounts/{phone}/app-state/corrupt-next", corrupt_next)
    routes.add("POST", "/accounts/{phone}/app-state/keys", keys)
    routes.add("POST", "/app-state/config", config)
