"""The provisioning API on the running bridge: who it refuses, and both login flows through it,
on the real Synapse and the simulator (a client written for bridgev2's v3 API, step by step)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.e2e.bridge import EXAMPLE_CONFIG, BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import (
    assert_no_secrets_above_debug,
    bot_notice,
    command,
    devices_of,
    is_redaction_of,
    read_qr_png,
    sim_admin,
    start_qr_login,
    user_with_management_room,
)
from tests.e2e.provisioning import (
    Answer,
    call,
    shared_secret,
    step_png,
    wait_no_connections,
    wait_step,
)
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo

pytestmark = pytest.mark.synapse

RELAY_ONLY = f"provrelay_{secrets.token_hex(4)}"


async def follow_until_complete(
    bridge: BridgeProcess, secret: str, user_id: str, step: dict[str, Any]
) -> dict[str, Any]:
    """Post ``display_and_wait`` for each step (a new QR is a new step) until ``complete``."""
    for _ in range(10):
        if step["type"] != "display_and_wait":
            break
        answer = await wait_step(bridge, step, token=secret, user_id=user_id)
        assert answer.status == 200, answer
        step = answer.body
    assert step["type"] == "complete", step
    return step


@pytest.mark.parametrize(
    "bridge_permissions",
    [{"*": "relay", "localhost": "user", f"@{RELAY_ONLY}:localhost": "relay"}],
)
async def test_refusals_and_bad_input(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    example = YAML(typ="safe").load(EXAMPLE_CONFIG.read_text())
    assert example["provisioning"]["shared_secret"] == "generate"
    secret = shared_secret(bridge)
    assert secret != "generate" and len(secret) >= 32
    alice = await matrix_user("alice")
    relay_only = await synapse.register_user(RELAY_ONLY, secrets.token_hex(8))
    try:
        # No token, a wrong one, the homeserver's own tokens: refused.
        (await call(bridge, "GET", "/login/flows", token=None, user_id=alice.user_id)).error(
            401, "M_MISSING_TOKEN"
        )
        for wrong in (secret[:-1], secret + "x", synapse.hs_token, "", "Bearer"):
            answer = await call(bridge, "GET", "/login/flows", token=wrong, user_id=alice.user_id)
            answer.error(401, "M_MISSING_TOKEN" if not wrong.strip() else "M_UNKNOWN_TOKEN")
        # The secret acts for the user named; it must name one, a real one.
        (await call(bridge, "GET", "/logins", token=secret)).error(400, "M_MISSING_PARAM")
        (await call(bridge, "GET", "/logins", token=secret, user_id="alice")).error(
            400, "M_INVALID_PARAM"
        )
        # Users outside `permissions` (relay only, another server, the bot): forbidden.
        for outsider in (relay_only.user_id, "@mallory:elsewhere.example", synapse.bot_mxid):
            for method, path in (("GET", "/login/flows"), ("POST", "/login/start/qr")):
                answer = await call(bridge, method, path, token=secret, user_id=outsider)
                answer.error(403, "M_FORBIDDEN")
        # Their own Matrix access token does not help them either.
        answer = await call(bridge, "GET", "/whoami", token=relay_only.access_token)
        answer.error(403, "M_FORBIDDEN")
        # Alice's own access token works (checked with the homeserver) and is hers only.
        me = await call(bridge, "GET", "/whoami", token=alice.access_token)
        assert me.status == 200, me
        assert me.body["user_id"] == alice.user_id and me.body["logins"] == []
        assert [f["id"] for f in me.body["login_flows"]] == ["qr", "phone"]
        answer = await call(
            bridge, "GET", "/whoami", token=alice.access_token, user_id=relay_only.user_id
        )
        answer.error(403, "M_FORBIDDEN")

        flows = await call(bridge, "GET", "/login/flows", token=secret, user_id=alice.user_id)
        assert flows.status == 200 and [f["id"] for f in flows.body["flows"]] == ["qr", "phone"]
        logins = await call(bridge, "GET", "/logins", token=secret, user_id=alice.user_id)
        assert logins == Answer(200, {"login_ids": []})
        # Unknown paths, flows, logins; portals' endpoints say they aren't there yet.
        for method, path, status, errcode in (
            ("GET", "/nonexistent", 404, "M_UNRECOGNIZED"),
            ("POST", "/login/start/password", 404, "M_NOT_FOUND"),
            (
                "POST",
                "/login/step/nope/fi.mau.whatsapp.login.qr/display_and_wait",
                404,
                "M_NOT_FOUND",
            ),
            ("POST", "/login/cancel/nope", 404, "M_NOT_FOUND"),
            ("POST", "/login/cancel/%C3%BC", 404, "M_NOT_FOUND"),
            ("POST", "/logout/15550001111", 404, "M_NOT_FOUND"),
            ("GET", "/resolve_identifier/+15550001111", 400, "FI.MAU.NOT_LOGGED_IN"),
            ("POST", "/create_dm/+15550001111", 501, "M_UNRECOGNIZED"),
            ("POST", "/create_group/group", 501, "M_UNRECOGNIZED"),
            ("GET", "/contacts", 501, "M_UNRECOGNIZED"),
        ):
            answer = await call(bridge, method, path, token=secret, user_id=alice.user_id)
            answer.error(status, errcode)
        assert (
            await call(bridge, "POST", "/logout/all", token=secret, user_id=alice.user_id)
        ) == (Answer(200, {}))

        # A phone login: bad JSON and bad numbers are clear errors, and the login goes on.
        start = await call(
            bridge, "POST", "/login/start/phone", token=secret, user_id=alice.user_id
        )
        assert start.status == 200, start
        step = start.body
        assert (step["type"], step["step_id"]) == ("user_input", "fi.mau.whatsapp.login.phone")
        assert step["user_input"]["fields"][0]["id"] == "phone_number"
        path = f"/login/step/{step['login_id']}/{step['step_id']}/user_input"
        for data, json, errcode in (
            ("{not json", None, "M_NOT_JSON"),
            ("[1, 2]", None, "M_BAD_JSON"),
            (None, {}, "M_BAD_JSON"),
            (None, {"phone_number": 15550001234}, "M_BAD_JSON"),
            (None, {"phone_number": "+1555abc"}, "FI.MAU.WHATSAPP.INVALID_PHONE_NUMBER"),
        ):
            answer = await call(
                bridge, "POST", path, token=secret, user_id=alice.user_id, data=data, json=json
            )
            answer.error(400, errcode)
        wrong_step = f"/login/step/{step['login_id']}/fi.mau.whatsapp.login.qr/display_and_wait"
        (await call(bridge, "POST", wrong_step, token=secret, user_id=alice.user_id)).error(
            400, "M_BAD_STATE"
        )
        cancel = f"/login/cancel/{step['login_id']}"
        assert (
            await call(bridge, "POST", cancel, token=secret, user_id=alice.user_id)
        ).status == 200
        (await call(bridge, "POST", path, token=secret, user_id=alice.user_id, json={})).error(
            410, "FI.MAU.BRIDGE.LOGIN_CANCELLED"
        )
        status = await sim_admin(simulator, "GET", "/status")
        assert status["connections"] == [] and status["pending_registrations"] == 0, status
        assert_no_secrets_above_debug(
            bridge.log_path.read_text(errors="replace"), secret, alice.access_token
        )
    finally:
        await relay_only.close()


async def test_qr_login_logins_resolve_and_logout(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    secret = shared_secret(bridge)
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    start = await call(bridge, "POST", "/login/start/qr", token=secret, user_id=alice.user_id)
    assert start.status == 200, start
    step = start.body
    assert (step["type"], step["step_id"]) == ("display_and_wait", "fi.mau.whatsapp.login.qr")
    code = step["display_and_wait"]["data"]
    assert step["display_and_wait"]["type"] == "qr"
    assert code.startswith("https://wa.me/settings/linked_devices#")
    assert read_qr_png(step_png(step)) == code
    login_id = step["login_id"]

    # Bob (by the secret or his own token) never reaches alice's login, whatever he tries.
    for token, user_id in ((secret, bob.user_id), (bob.access_token, None)):
        for method, path in (
            ("POST", f"/login/step/{login_id}/{step['step_id']}/display_and_wait"),
            ("POST", f"/login/cancel/{login_id}"),
        ):
            answer = await call(bridge, method, path, token=token, user_id=user_id)
            answer.error(404, "M_NOT_FOUND")
        # Bob's own login is his, and does not disturb alice's.
        bob_start = await call(bridge, "POST", "/login/start/qr", token=token, user_id=user_id)
        assert bob_start.status == 200 and bob_start.body["login_id"] != login_id, bob_start
        cancel = f"/login/cancel/{bob_start.body['login_id']}"
        assert (await call(bridge, "POST", cancel, token=token, user_id=user_id)).status == 200
    # Alice's token cannot act for bob.
    answer = await call(bridge, "GET", "/logins", token=alice.access_token, user_id=bob.user_id)
    answer.error(403, "M_FORBIDDEN")

    # The phone scans while the client waits on the step (the long poll returns the outcome).
    waiting = asyncio.create_task(follow_until_complete(bridge, secret, alice.user_id, step))
    scan = await sim_admin(simulator, "POST", "/mock-phone/scan-qr", data=code)
    assert scan["linked"] is True, scan
    complete = await waiting
    phone = scan["phone"]
    assert complete["complete"]["user_login_id"] == phone
    assert complete["instructions"] == f"Successfully logged in as +{phone}"
    assert complete["login_id"] == login_id
    # After the end, the step endpoint keeps saying so.
    again = f"/login/step/{login_id}/{complete['step_id']}/complete"
    (await call(bridge, "POST", again, token=secret, user_id=alice.user_id)).error(
        410, "FI.MAU.BRIDGE.LOGIN_ALREADY_FINISHED"
    )
    assert await devices_of(simulator, phone) == [scan["jid"]]

    logins = await call(bridge, "GET", "/logins", token=secret, user_id=alice.user_id)
    assert logins == Answer(200, {"login_ids": [phone]})
    bob_logins = await call(bridge, "GET", "/logins", token=bob.access_token)
    assert bob_logins == Answer(200, {"login_ids": []})
    me = await call(bridge, "GET", "/whoami", token=alice.access_token)
    assert [login["id"] for login in me.body["logins"]] == [phone], me
    assert me.body["logins"][0]["name"] == f"+{phone}"
    (await call(bridge, "POST", "/login/start/qr", token=secret, user_id=alice.user_id)).error(
        403, "FI.MAU.BRIDGE.TOO_MANY_LOGINS"
    )

    # Resolve identifier: through alice's connection (usync), once it is up.
    for _ in range(100):
        resolved = await call(
            bridge, "GET", f"/resolve_identifier/+{phone}", token=secret, user_id=alice.user_id
        )
        if resolved.status != 503:
            break
        await asyncio.sleep(0.2)
    assert resolved.status == 200, resolved
    assert resolved.body["id"] == phone
    assert resolved.body["identifiers"] == [f"tel:+{phone}"]
    assert resolved.body["mxid"] == f"@whatsapp_{phone}:{synapse.server_name}"
    (
        await call(
            bridge, "GET", "/resolve_identifier/+1555abc", token=secret, user_id=alice.user_id
        )
    ).error(400, "M_INVALID_PARAM")
    # A login id other than the user's own (bridgev2's ?login_id=) is not found.
    other = await call(
        bridge,
        "GET",
        f"/resolve_identifier/+{phone}",
        token=secret,
        user_id=alice.user_id,
        query={"login_id": "15550009999"},
    )
    other.error(404, "M_NOT_FOUND")
    # Bob's logout of alice's login id: not his.
    (await call(bridge, "POST", f"/logout/{phone}", token=secret, user_id=bob.user_id)).error(
        404, "M_NOT_FOUND"
    )
    assert await devices_of(simulator, phone) == [scan["jid"]]
    out = await call(bridge, "POST", f"/logout/{phone}", token=secret, user_id=alice.user_id)
    assert out == Answer(200, {})
    assert scan["jid"] not in await devices_of(simulator, phone)
    logins = await call(bridge, "GET", "/logins", token=secret, user_id=alice.user_id)
    assert logins == Answer(200, {"login_ids": []})

    ref, noise, identity, adv, *_ = code.split("#", 1)[1].split(",")
    assert_no_secrets_above_debug(
        bridge.log_path.read_text(errors="replace"),
        secret,
        alice.access_token,
        bob.access_token,
        ref,
        noise,
        identity,
        adv,
    )


async def test_pairing_code_login(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    alice = await matrix_user("alice")
    token = alice.access_token  # the client here authenticates as the user, not by the secret
    start = await call(bridge, "POST", "/login/start/phone", token=token)
    assert start.status == 200, start
    step = start.body
    phone = "15550008888"
    path = f"/login/step/{step['login_id']}/{step['step_id']}/user_input"
    answer = await call(bridge, "POST", path, token=token, json={"phone_number": f"+{phone}"})
    assert answer.status == 200, answer
    step = answer.body
    assert (step["type"], step["step_id"]) == ("display_and_wait", "fi.mau.whatsapp.login.code")
    assert step["display_and_wait"]["type"] == "code"
    code = step["display_and_wait"]["data"]
    # The number's step is over: sending it again is a bad state, not a second login.
    again = await call(bridge, "POST", path, token=token, json={"phone_number": f"+{phone}"})
    again.error(400, "M_BAD_STATE")

    waiting = asyncio.create_task(wait_step(bridge, step, token=token))
    result = await sim_admin(
        simulator, "POST", "/mock-phone/enter-code", json={"phone": phone, "code": code}
    )
    assert result["linked"] is True, result
    done = await waiting
    assert done.status == 200, done
    assert done.body["type"] == "complete"
    assert done.body["complete"]["user_login_id"] == phone
    logins = await call(bridge, "GET", "/logins", token=token)
    assert logins == Answer(200, {"login_ids": [phone]})
    assert_no_secrets_above_debug(bridge.log_path.read_text(errors="replace"), code, token)


async def test_the_bot_and_the_api_share_one_login(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    token = alice.access_token
    qr = await start_qr_login(alice, room, bot)
    # Starting through the API replaces the bot's login: its QR goes away, quietly.
    start = await call(bridge, "POST", "/login/start/qr", token=token)
    assert start.status == 200, start
    await alice.wait_for_event(room, is_redaction_of(qr["event_id"]), timeout=20)
    # The bot sees the API's login as the ongoing one, and its `cancel` ends it.
    await command(alice, room, bot, "login", "You already have an ongoing login")
    step = start.body
    waiting = asyncio.create_task(wait_step(bridge, step, token=token))
    await command(alice, room, bot, "cancel", "Login cancelled.")
    (await waiting).error(410, "FI.MAU.BRIDGE.LOGIN_CANCELLED")
    # The cancelled login's connection closes (the simulator sees it go).
    await wait_no_connections(simulator)
    await alice.sync_once()
    assert not [e for e in alice.events(room) if bot_notice(bot, "Login failed")(e)]


@pytest.mark.parametrize(
    "bridge_overrides", [{"whatsapp.qr_timeout_first": 2, "whatsapp.qr_timeout_next": 1}]
)
async def test_qr_rotates_then_times_out(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    await sim_admin(simulator, "POST", "/mock-phone/ref-lifetime", json={"first": 2, "next": 1})
    alice = await matrix_user("alice")
    token = alice.access_token
    start = await call(bridge, "POST", "/login/start/qr", token=token)
    assert start.status == 200, start
    step = start.body
    codes = [step["display_and_wait"]["data"]]
    # Each answer of the long poll is the next code, until the codes run out.
    for _ in range(20):
        answer = await wait_step(bridge, step, token=token)
        if answer.status != 200:
            break
        step = answer.body
        assert step["step_id"] == "fi.mau.whatsapp.login.qr", step
        assert step["login_id"] == start.body["login_id"]
        codes.append(step["display_and_wait"]["data"])
        assert read_qr_png(step_png(step)) == codes[-1]
    answer.error(400, "FI.MAU.WHATSAPP.LOGIN_TIMEOUT")
    assert len(codes) >= 3 and len(set(codes)) == len(codes), codes
    # The outcome stays: asking again says the same, and nothing is left connected.
    (await wait_step(bridge, step, token=token)).error(400, "FI.MAU.WHATSAPP.LOGIN_TIMEOUT")
    await wait_no_connections(simulator)
    assert (await call(bridge, "GET", "/logins", token=token)) == Answer(200, {"login_ids": []})
