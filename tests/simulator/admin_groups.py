"""Admin endpoints for groups: an account's phone creates and changes groups as its owner would
(the same checks and notifications as a companion's ``w:g2`` IQ), and tests read the metadata.

Documented in ``tests/simulator/README.md`` ("Groups"). A refusal answers with WhatsApp's code as
the HTTP status (401 not an admin, 403 not a member, 404 no such group, 406 bad value, 409 stale
description id, 410 revoked invite code) and ``{"error": text}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary.errors import JIDParseError
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .admin_phone import _body, _str
from .core import json_response
from .group_ops import ACTIONS, GroupError, GroupOps, ParticipantResult
from .groups import GROUP_SERVER, Group, get_groups
from .phone import get_world
from .state import AdminError, ServerState


def group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "jid": group.jid,
        "subject": group.subject,
        "subject_owner": group.subject_owner,
        "subject_time": group.subject_time,
        "creator": group.creator,
        "creation": group.creation,
        "description": group.description,
        "description_id": group.description_id,
        "description_owner": group.description_owner,
        "announce": group.announce,
        "locked": group.locked,
        "ephemeral": group.ephemeral,
        "addressing_mode": group.addressing_mode,
        "member_add_mode": group.member_add_mode,
        "join_approval": group.join_approval,
        "invite_code": group.invite_code,
        "picture_id": group.picture_id,
        "participants": [
            {"phone": p.phone, "lid": p.lid, "jid": f"{p.phone}@s.whatsapp.net", "admin": p.admin}
            for p in group.participants.values()
        ],
    }


def _user_jid(value: Any) -> JID:
    """A member given as a phone number, ``phone@s.whatsapp.net`` or ``lid@lid``."""
    text = str(value).lstrip("+")
    try:
        return JID.parse(text if "@" in text else f"{text}@s.whatsapp.net").to_non_ad()
    except JIDParseError as e:
        raise AdminError(400, f"not a user: {value!r}") from e


def _results_json(results: list[ParticipantResult]) -> list[dict[str, Any]]:
    return [{"jid": str(r.jid), "status": r.code} for r in results]


def install(state: ServerState) -> None:
    world = get_world(state)
    ops = GroupOps(world, get_groups(state))

    def actor(data: dict[str, Any]) -> Account:
        account = world.accounts.find(_str(data, "phone"))
        if account is None:
            raise AdminError(404, f"no account {data['phone']}")
        return account

    def group_jid(params: dict[str, str]) -> str:
        jid = params["jid"]
        return jid if "@" in jid else f"{jid}@{GROUP_SERVER}"

    async def run(request: web.Request, params: dict[str, str], change: Any) -> web.StreamResponse:
        """Parse the body, apply ``change(data, account, jid)``, answer the group or result."""
        data = await _body(request)
        try:
            result = change(data, actor(data), group_jid(params))
        except GroupError as e:
            raise AdminError(e.code, e.text) from e
        if isinstance(result, Group):
            return json_response(group_json(result))
        return json_response(result)

    async def create(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        members = data.get("members", [])
        if not isinstance(members, list):
            raise AdminError(400, "'members' must be a list")
        mode = data.get("addressing_mode", "pn")
        add_mode = data.get("member_add_mode", "admin_add")
        if mode not in ("pn", "lid") or add_mode not in ("admin_add", "all_member_add"):
            raise AdminError(400, "bad addressing_mode or member_add_mode")
        try:
            group, failed = ops.create(
                actor(data),
                _str(data, "subject"),
                [_user_jid(m) for m in members],
                description=str(data.get("description", "")),
                addressing_mode=mode,
                announce=bool(data.get("announce", False)),
                locked=bool(data.get("locked", False)),
                ephemeral=int(data.get("ephemeral", 0)),
                member_add_mode=add_mode,
            )
        except GroupError as e:
            raise AdminError(e.code, e.text) from e
        return json_response({**group_json(group), "failed": _results_json(failed)})

    async def list_groups(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        phone = request.query.get("phone")
        groups = ops.registry.of_member(phone) if phone else list(ops.registry.groups.values())
        return json_response([group_json(g) for g in groups])

    async def get_group(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        try:
            return json_response(group_json(ops.group(group_jid(params))))
        except GroupError as e:
            raise AdminError(e.code, e.text) from e

    async def picture(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        group = ops.registry.get(group_jid(params))
        if group is None or not group.picture:
            raise AdminError(404, "no picture")
        return web.Response(body=group.picture, content_type="image/jpeg")

    def subject(data: dict[str, Any], who: Account, jid: str) -> Group:
        return ops.set_subject(jid, who, _str(data, "subject"))

    def description(data: dict[str, Any], who: Account, jid: str) -> Group:
        return ops.set_description(jid, who, str(data.get("description", "")))

    def settings(data: dict[str, Any], who: Account, jid: str) -> Group:
        group = ops.member_group(jid, who)
        if "announce" in data:
            group = ops.set_announce(jid, who, bool(data["announce"]))
        if "locked" in data:
            group = ops.set_locked(jid, who, bool(data["locked"]))
        if "ephemeral" in data:
            group = ops.set_ephemeral(jid, who, int(data["ephemeral"]))
        if "member_add_mode" in data:
            group = ops.set_member_add_mode(jid, who, str(data["member_add_mode"]))
        if "join_approval" in data:
            group = ops.set_join_approval(jid, who, bool(data["join_approval"]))
        return group

    def participants(data: dict[str, Any], who: Account, jid: str) -> dict[str, Any]:
        action = data.get("action")
        targets = data.get("participants")
        if action not in ACTIONS or not isinstance(targets, list) or not targets:
            raise AdminError(400, f"need 'action' (one of {ACTIONS}) and a 'participants' list")
        results = ops.change_participants(jid, who, action, [_user_jid(t) for t in targets])
        return {"participants": _results_json(results), "group": group_json(ops.group(jid))}

    def leave(data: dict[str, Any], who: Account, jid: str) -> Group:
        [group] = ops.leave([jid], who)
        return group

    def invite(data: dict[str, Any], who: Account, jid: str) -> dict[str, str]:
        return {"code": ops.invite_code(jid, who, reset=bool(data.get("reset", False)))}

    async def join(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        try:
            group = ops.join_by_invite(_str(data, "code"), actor(data))
        except GroupError as e:
            raise AdminError(e.code, e.text) from e
        return json_response(group_json(group))

    def route(path: str, change: Any) -> None:
        async def handler(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
            return await run(request, params, change)

        state.admin_routes.add("POST", f"/groups/{{jid}}/{path}", handler)

    state.admin_routes.add("POST", "/groups", create)
    state.admin_routes.add("GET", "/groups", list_groups)
    state.admin_routes.add("POST", "/groups/join", join)
    state.admin_routes.add("GET", "/groups/{jid}", get_group)
    state.admin_routes.add("GET", "/groups/{jid}/picture", picture)
    route("subject", subject)
    route("description", description)
    route("settings", settings)
    route("participants", participants)
    route("leave", leave)
    route("invite", invite)
