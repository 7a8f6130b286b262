"""Bridge states pushed to ``homeserver.status_endpoint``, and the liveness/readiness probes.

The status endpoint is a small HTTP receiver in the test; the bridge runs as a process against
the real Synapse and the simulator, whose admin API drops connections and removes devices.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.bridge import REPO_ROOT, BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import bot_notice, command, linked_user, sim_admin
from tests.e2e.synapse import SynapseInfo
from tests.processes import free_port
from tests.simulator_fixture import SimulatorInfo

pytestmark = pytest.mark.synapse

State = dict[str, Any]


class StatusReceiver:
    """Collects every bridge state POSTed to it, with the Authorization header it came with."""

    def __init__(self) -> None:
        self.port = free_port()
        self.states: list[State] = []
        self.authorizations: list[str | None] = []
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/status"

    async def _receive(self, request: web.Request) -> web.Response:
        state = await request.json()
        async with self._changed:
            self.states.append(state)
            self.authorizations.append(request.headers.get("Authorization"))
            self._changed.notify_all()
        return web.json_response({})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/status", self._receive)
        return app

    async def wait_for(
        self, match: Callable[[State], bool], after: int = 0, timeout: float = 30
    ) -> int:
        """The index of the first state from index ``after`` on that matches."""

        def found() -> int | None:
            for index in range(after, len(self.states)):
                if match(self.states[index]):
                    return index
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        index = found()
        assert index is not None
        return index

    def of(self, user_id: str) -> list[tuple[str, str | None]]:
        """(state_event, error) of every state pushed for one user, in order."""
        return [
            (s["state_event"], s.get("error")) for s in self.states if s.get("user_id") == user_id
        ]


@pytest.fixture
async def status_receiver() -> AsyncIterator[StatusReceiver]:
    receiver = StatusReceiver()
    runner = web.AppRunner(receiver.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    yield receiver
    await runner.cleanup()


@pytest.fixture
def bridge_overrides(status_receiver: StatusReceiver) -> dict[str, Any]:
    return {"homeserver.status_endpoint": status_receiver.url}


def state_of(user_id: str, event: str, error: str | None = None) -> Callable[[State], bool]:
    def match(state: State) -> bool:
        return (
            state.get("user_id") == user_id
            and state.get("state_event") == event
            and (error is None or state.get("error") == error)
        )

    return match


def healthcheck(bridge: BridgeProcess, name: str) -> subprocess.CompletedProcess[str]:
    config = str(bridge.config_path)
    return subprocess.run(
        [sys.executable, "-m", "mautrix_whatsapp.healthcheck", "-c", config, name],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


async def probe(bridge: BridgeProcess, name: str) -> int:
    url = f"{bridge.synapse.bridge_url}/_matrix/mau/{name}"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status


async def test_states_through_login_drop_and_removal(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    status_receiver: StatusReceiver,
) -> None:
    assert await probe(bridge, "live") == 200
    assert await probe(bridge, "ready") == 200
    # The container health check (docker-compose.yml) reads the port from the config.
    for name in ("ready", "live"):
        check = healthcheck(bridge, name)
        assert check.returncode == 0, check.stderr
    # Nobody is logged in yet: the bridge says it is unconfigured (a global state, no user).
    await status_receiver.wait_for(lambda s: s["state_event"] == "UNCONFIGURED")

    alice, room, scan = await linked_user(matrix_user, synapse, simulator)
    bot = synapse.bot_mxid
    jid, phone = scan["jid"], scan["phone"]
    connected = await status_receiver.wait_for(state_of(alice.user_id, "CONNECTED"))
    state = status_receiver.states[connected]
    assert state["remote_id"] == phone
    assert state["remote_name"] == f"+{phone}"
    assert state["ttl"] > 0 and state["timestamp"] > 0
    # Sent with the appservice token, as mautrix's receivers expect.
    assert set(status_receiver.authorizations) == {f"Bearer {synapse.as_token}"}

    # The simulator drops the connection; the client reconnects on its own.
    await sim_admin(simulator, "POST", "/devices/drop", json={"jid": jid})
    dropped = await status_receiver.wait_for(
        state_of(alice.user_id, "TRANSIENT_DISCONNECT", "wa-transient-disconnect"), connected
    )
    await status_receiver.wait_for(state_of(alice.user_id, "CONNECTED"), dropped)
    assert await probe(bridge, "ready") == 200

    # Removed on the phone: bad credentials, with the WhatsApp-specific code.
    await sim_admin(simulator, "POST", "/mock-phone/remove-device", json={"jid": jid})
    removed = await status_receiver.wait_for(
        state_of(alice.user_id, "BAD_CREDENTIALS", "wa-logged-out"), dropped
    )
    assert "logged out from another device" in status_receiver.states[removed]["message"]
    await alice.wait_for_event(room, bot_notice(bot, "You were logged out"), timeout=20)
    assert status_receiver.of(alice.user_id)[-1] == ("BAD_CREDENTIALS", "wa-logged-out")
    # The bridge's own report (the pull side of the same states) agrees: nothing to report.
    states = await bridge.bridge_states(alice.user_id)
    assert states.get("remoteState") in ({}, None)


async def test_restart_reconnects_and_logout_pushes_logged_out(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    status_receiver: StatusReceiver,
) -> None:
    alice, room, _scan = await linked_user(matrix_user, synapse, simulator)
    connected = await status_receiver.wait_for(state_of(alice.user_id, "CONNECTED"))
    # A restart reconnects the stored login: CONNECTING, then CONNECTED again.
    bridge.restart()
    connecting = await status_receiver.wait_for(state_of(alice.user_id, "CONNECTING"), connected)
    connected = await status_receiver.wait_for(state_of(alice.user_id, "CONNECTED"), connecting)
    await command(alice, room, synapse.bot_mxid, "logout", "Logged out successfully.")
    await status_receiver.wait_for(state_of(alice.user_id, "LOGGED_OUT"), connected)
    # Our own logout is not reported as bad credentials.
    assert ("BAD_CREDENTIALS", "wa-logged-out") not in status_receiver.of(alice.user_id)
