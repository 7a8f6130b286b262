"""A simulator plugin for the client's group-send tests: put a group straight into the registry.

The simulator's group IQs and admin endpoints belong to another feature module; these tests only
need the registry that message routing reads, so they seed it and tell the client the members
themselves. Loaded with ``--plugin tests.whatsapp.simulator_group_seed_plugin``.

- ``POST /admin/test-groups`` ``{"id", "members": [phone…]}`` → ``{"jid"}``
- ``POST /admin/test-groups/{id}/remove`` ``{"phone"}`` → ``{"removed": bool}``
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.simulator.admin_phone import _body
from tests.simulator.core import json_response
from tests.simulator.groups import Group, Participant, get_groups
from tests.simulator.phone import get_world
from tests.simulator.state import AdminError, ServerState


def install(state: ServerState) -> None:
    world = get_world(state)
    registry = get_groups(state)

    async def seed(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data: dict[str, Any] = await _body(request)
        members = [str(phone) for phone in data.get("members", [])]
        group = Group(id=str(data["id"]), subject="seeded", creator=members[0])
        for phone in members:
            account = world.accounts.find(phone)
            if account is None:
                raise AdminError(404, f"no account {phone}")
            group.participants[phone] = Participant(phone, account.lid)
        registry.add(group)
        return json_response({"jid": group.jid})

    async def remove(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data: dict[str, Any] = await _body(request)
        group = registry.get(params["id"])
        if group is None:
            raise AdminError(404, "no such group")
        removed = group.participants.pop(str(data["phone"]), None) is not None
        return json_response({"removed": removed})

    state.admin_routes.add("POST", "/test-groups", seed)
    state.admin_routes.add("POST", "/test-groups/{id}/remove", remove)
