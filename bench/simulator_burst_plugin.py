"""A simulator plugin for bench/messaging.py: a phone sends many texts in one admin request.

One HTTP request per message would put aiohttp's request handling between every two messages
and make the admin API the bottleneck of the receive cases; this endpoint runs the phone's
ordinary send (``phone_send.send``: encrypt, fan out, route) in a loop instead. Loaded with
``--plugin bench.simulator_burst_plugin``.

- ``POST /admin/bench/burst`` ``{"from": phone, "to": jid, "count": n}`` → ``{"ids": [...]}``
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary.jid import JID
from tests.simulator import phone_send
from tests.simulator.admin_phone import _body
from tests.simulator.core import json_response
from tests.simulator.phone import get_world
from tests.simulator.state import AdminError, ServerState


def install(state: ServerState) -> None:
    world = get_world(state)

    async def burst(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        account = world.accounts.find(str(data["from"]))
        if account is None:
            raise AdminError(404, f"no account {data['from']}")
        chat = JID.parse(str(data["to"]))
        ids = []
        for index in range(int(data["count"])):
            message = phone_send.text_message(f"bench {index}")
            message_id, _ = await phone_send.send(state, account, chat, message)
            ids.append(message_id)
            await asyncio.sleep(0)  # let the connections write what was routed so far
        return json_response({"ids": ids})

    state.admin_routes.add("POST", "/bench/burst", burst)
