"""What the running bridge refuses: forged homeserver transactions, commands from users outside
``permissions``, one user's commands reaching another's session; and what it never logs."""

from __future__ import annotations

import secrets
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import (
    assert_no_secrets_above_debug,
    bot_notice,
    command,
    devices_of,
    linked_user,
    sim_admin,
    user_with_management_room,
    wait_ping,
)
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo

pytestmark = pytest.mark.synapse

RELAY_ONLY = f"relayonly_{secrets.token_hex(4)}"
"""A user whom bridge.permissions allows only the relay (which is off): no commands."""


def _forged_ping(room: str, sender: str) -> dict[str, Any]:
    return {
        "events": [
            {
                "type": "m.room.message",
                "room_id": room,
                "sender": sender,
                "event_id": f"$forged_{secrets.token_hex(8)}",
                "origin_server_ts": int(time.time() * 1000),
                "content": {"msgtype": "m.text", "body": "ping"},
            }
        ]
    }


async def test_transactions_need_the_hs_token(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    base = synapse.bridge_url
    wrong = "hs_token_wrong_" + secrets.token_hex(16)
    auths: list[tuple[dict[str, str], dict[str, str]]] = [
        ({}, {}),
        ({"Authorization": f"Bearer {wrong}"}, {}),
        ({}, {"access_token": wrong}),
        # The other token of the registration is not the homeserver's.
        ({"Authorization": f"Bearer {synapse.as_token}"}, {}),
    ]
    async with aiohttp.ClientSession() as http:
        for n, (headers, params) in enumerate(auths):
            for path in (f"/_matrix/app/v1/transactions/forged{n}", f"/transactions/f{n}"):
                async with http.put(
                    base + path,
                    json=_forged_ping(room, alice.user_id),
                    headers=headers,
                    params=params,
                ) as resp:
                    assert resp.status in (401, 403), (path, headers, params, resp.status)
            for method, path in (
                ("GET", f"/_matrix/app/v1/users/@whatsapp_15550001111:{synapse.server_name}"),
                ("POST", "/_matrix/app/v1/ping"),
                ("POST", "/_matrix/app/com.beeper.bridge_state"),
            ):
                async with http.request(
                    method, base + path, json={}, headers=headers, params=params
                ) as resp:
                    assert resp.status in (401, 403), (path, headers, params, resp.status)

        # The same forged event with the right token is obeyed: the refusals were the token's.
        async with http.put(
            base + "/_matrix/app/v1/transactions/genuine",
            json=_forged_ping(room, alice.user_id),
            headers={"Authorization": f"Bearer {synapse.hs_token}"},
        ) as resp:
            assert resp.status == 200
    await alice.wait_for_event(room, bot_notice(bot, "You're not logged into WhatsApp."), 20)
    replies = [e for e in alice.events(room) if bot_notice(bot, "not logged into")(e)]
    assert len(replies) == 1
    assert (await sim_admin(simulator, "GET", "/status"))["connections"] == []


async def test_one_users_commands_never_reach_anothers_session(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    bot = synapse.bot_mxid
    alice, alice_room, scan = await linked_user(matrix_user, synapse, simulator, "alice")
    bob, bob_room = await user_with_management_room(matrix_user, synapse, "bob")
    phone, jid = scan["phone"], scan["jid"]

    # In bob's own management room, every command is about bob.
    await command(bob, bob_room, bot, "ping", "You're not logged into WhatsApp.")
    await command(bob, bob_room, bot, "logout", "You're not logged in.")
    await command(bob, bob_room, bot, "cancel", "No ongoing command.")
    await command(bob, bob_room, bot, "reconnect", "requires you to be logged in")
    # In a room that alice, bob and the bot share, bob's commands are still bob's.
    shared = await alice.create_room(invite=[bob.user_id, bot])
    await bob.wait_for_invite(shared)
    await bob.join(shared)
    await alice.wait_for_join(shared, bot, timeout=20)
    await alice.wait_for_join(shared, bob.user_id)
    await command(bob, shared, bot, "!wa logout", "You're not logged in.")
    await command(bob, shared, bot, "!wa ping", "You're not logged into WhatsApp.")
    bob_text = " ".join(str(e.get("content", {})) for e in bob.events(bob_room))
    assert phone not in bob_text

    await wait_ping(alice, alice_room, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")
    assert await devices_of(simulator, phone) == [jid]
    assert (await bridge.bridge_states(bob.user_id)).get("remoteState") in ({}, None)

    # Nothing secret in the log above DEBUG: the QR content (and its parts), the tokens.
    qr_text = next(
        e["content"]["body"]
        for e in alice.events(alice_room)
        if e["content"].get("msgtype") == "m.image"
    )
    ref, noise, identity, adv, *_ = qr_text.split("#", 1)[1].split(",")
    assert_no_secrets_above_debug(
        bridge.log_path.read_text(errors="replace"),
        ref,
        noise,
        identity,
        adv,
        synapse.as_token,
        synapse.hs_token,
    )


@pytest.mark.parametrize(
    "bridge_permissions",
    [{"*": "relay", "localhost": "user", f"@{RELAY_ONLY}:localhost": "relay"}],
)
async def test_users_without_permission_get_no_command(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    bot = synapse.bot_mxid
    alice = await matrix_user("alice")
    relay_only = await synapse.register_user(RELAY_ONLY, secrets.token_hex(8))
    try:
        room = await alice.create_room(invite=[relay_only.user_id, bot])
        await relay_only.wait_for_invite(room)
        await relay_only.join(room)
        await alice.wait_for_join(room, bot, timeout=20)
        await alice.wait_for_join(room, relay_only.user_id)
        sent = [
            await relay_only.send_text(room, f"!wa {cmd}")
            for cmd in ("login", "login +15550009999", "ping", "logout", "help", "version")
        ]
        # The bridge saw each one and refused it (its log says so, per event).
        log = ""
        for _ in range(200):
            log = bridge.log_path.read_text(errors="replace")
            if all(f"Ignoring message {event_id}" in log for event_id in sent):
                break
            await alice.sync_once(timeout_ms=100)
        else:
            raise AssertionError(f"the bridge never refused all of {sent}")
        await command(alice, room, bot, "!wa ping", "You're not logged into WhatsApp.")
        bot_messages = [
            e
            for e in alice.events(room)
            if e.get("sender") == bot and e.get("type") == "m.room.message"
        ]
        assert len(bot_messages) == 2, bot_messages  # the greeting and alice's ping
        status = await sim_admin(simulator, "GET", "/status")
        assert status["connections"] == [] and status["pending_registrations"] == 0, status
    finally:
        await relay_only.close()
