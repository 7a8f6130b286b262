"""Calling the running bridge's provisioning API from tests (real HTTP on the appservice port)."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

import aiohttp
from ruamel.yaml import YAML

from tests.e2e.bridge import BridgeProcess
from tests.e2e.helpers import sim_admin
from tests.simulator_fixture import SimulatorInfo

PREFIX = "/_matrix/provision/v3"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    def error(self, status: int, errcode: str) -> None:
        assert (self.status, self.body.get("errcode")) == (status, errcode), self
        assert isinstance(self.body.get("error"), str) and self.body["error"], self


def shared_secret(bridge: BridgeProcess) -> str:
    """The secret the bridge generated and wrote back to its config file."""
    config = YAML(typ="safe").load(bridge.config_path.read_text())
    secret = config["provisioning"]["shared_secret"]
    assert isinstance(secret, str)
    return secret


async def call(
    bridge: BridgeProcess,
    method: str,
    path: str,
    *,
    token: str | None,
    user_id: str | None = None,
    json: Any = None,
    data: str | None = None,
    query: dict[str, str] | None = None,
    timeout: float = 90,
) -> Answer:
    """``method`` ``PREFIX + path``; the answer must be JSON whatever its status."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    params = {"user_id": user_id} if user_id is not None else {}
    params.update(query or {})
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.request(
            method,
            bridge.synapse.bridge_url + PREFIX + path,
            headers=headers,
            params=params,
            json=json,
            data=data,
        ) as resp,
    ):
        assert resp.content_type == "application/json", (resp.status, await resp.text())
        body = await resp.json()
        assert isinstance(body, dict)
        return Answer(resp.status, body)


async def wait_step(
    bridge: BridgeProcess, step: dict[str, Any], *, token: str, user_id: str | None = None
) -> Answer:
    """Post ``display_and_wait`` for ``step``: the answer comes when the login moves on."""
    path = f"/login/step/{step['login_id']}/{step['step_id']}/display_and_wait"
    return await call(bridge, "POST", path, token=token, user_id=user_id)


async def wait_no_connections(simulator: SimulatorInfo, timeout: float = 20) -> None:
    """Until the simulator has no WhatsApp connection open (a closed socket takes a moment)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await sim_admin(simulator, "GET", "/status")
        if not status["connections"]:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"connections still open: {status['connections']}")
        await asyncio.sleep(0.1)


def step_png(step: dict[str, Any]) -> bytes:
    """The PNG of a QR step's ``image_url`` (a data URL)."""
    url = step["display_and_wait"]["image_url"]
    head, _, payload = url.partition(",")
    assert head == "data:image/png;base64", head
    return base64.b64decode(payload)
