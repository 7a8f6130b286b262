"""A simulator plugin for the bridge's tests: what the phone learns about a companion.

``python -m tests.simulator --plugin tests.e2e.sim_device_props`` adds
``GET /admin/test/device-props``: the ``DeviceProps`` each waiting companion sent in its
registration payload, decoded. It lets a test check that the bridge's ``history_sync`` and
``whatsapp`` settings reach the phone, on the simulator's side of the wire.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict

from mautrix_whatsapp.whatsapp.proto import wa_companion_reg_pb2 as companion_reg
from tests.simulator.core import json_response
from tests.simulator.state import ServerState


def install(state: ServerState) -> None:
    async def device_props(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        registrations: list[dict[str, Any]] = []
        for registration in state.pending_registrations.values():
            props = companion_reg.DeviceProps.FromString(registration.device_props)
            registrations.append(
                {
                    "noise_public": registration.noise_public.hex(),
                    "device_props": MessageToDict(props, preserving_proto_field_name=True),
                }
            )
        return json_response({"registrations": registrations})

    state.admin_routes.add("GET", "/test/device-props", device_props)
