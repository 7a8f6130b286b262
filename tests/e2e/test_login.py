"""Linking WhatsApp from Matrix, end to end: Synapse, the bridge process and the simulator."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import (
    assert_no_secrets_above_debug,
    bot_notice,
    command,
    decode_qr,
    devices_of,
    is_edit_of,
    is_pairing_code,
    is_qr,
    is_redaction_of,
    linked_user,
    qr_login,
    sim_admin,
    start_qr_login,
    user_with_management_room,
    wait_acks,
    wait_ping,
)
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo

pytestmark = pytest.mark.synapse


@pytest.mark.parametrize("bridge_database", ["sqlite", "postgres"], indirect=True)
async def test_qr_login_restart_and_logout(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    # A real phone shares its app-state keys right after linking, which tells the bridge it
    # was active just now; this phone stays quiet so that its last activity is what we set.
    await sim_admin(simulator, "POST", "/app-state/config", json={"share_keys_at_login": False})
    alice, room, scan = await linked_user(matrix_user, synapse, simulator)
    bot = synapse.bot_mxid
    phone, jid = scan["phone"], scan["jid"]
    states = await bridge.bridge_states(alice.user_id)
    assert [s["state_event"] for s in states["remoteState"].values()] == ["CONNECTED"]
    await command(alice, room, bot, "login", "You're already logged in as +")
    # The phone was last active 13 days ago: one warning, which the restart must remember.
    offline = bot_notice(bot, "hasn't been seen in over 12 days")
    await sim_admin(
        simulator, "POST", "/mock-phone/last-seen", json={"phone": phone, "ago": 13 * 86400}
    )
    await alice.wait_for_event(room, offline, 20)
    await wait_acks(simulator, jid, "read-self", 1)

    registrations_before = await sim_admin(simulator, "GET", "/registrations")
    assert len((await sim_admin(simulator, "GET", "/status"))["connections"]) == 1
    assert bridge.stop() == 0
    # The signal ended the main wait (a safe point), not an interrupt inside some coroutine.
    assert "Stop signal received" in bridge.log_tail()
    # A clean stop closes the WhatsApp connection (the simulator sees it go).
    for _ in range(50):
        if not (await sim_admin(simulator, "GET", "/status"))["connections"]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the bridge left its WhatsApp connection open")
    bridge.start()
    await wait_ping(alice, room, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")
    assert await devices_of(simulator, phone) == [jid]
    assert await sim_admin(simulator, "GET", "/registrations") == registrations_before
    # After the restart the phone is still away (a newer sign of life, still over 12 days
    # ago): the warning is not repeated within 12 hours, across the restart.
    await sim_admin(
        simulator, "POST", "/mock-phone/last-seen", json={"phone": phone, "ago": 12.9 * 86400}
    )
    await wait_acks(simulator, jid, "read-self", 2)
    # The bridge handles the receipt (and would warn) before it acks it: Synapse has any repeat.
    await alice.sync_once()
    assert len([e for e in alice.events(room) if offline(e)]) == 1

    await command(alice, room, bot, "logout", "Logged out successfully.")
    assert jid not in await devices_of(simulator, phone)
    await command(alice, room, bot, "ping", "You're not logged into WhatsApp.")
    # Our own logout is not reported as a logout from elsewhere.
    await alice.sync_once()
    assert not [e for e in alice.events(room) if bot_notice(bot, "You were logged out")(e)]
    assert (await sim_admin(simulator, "GET", "/status"))["protocol_errors"] == []


@pytest.mark.parametrize(
    "bridge_overrides", [{"whatsapp.qr_timeout_first": 2, "whatsapp.qr_timeout_next": 1}]
)
async def test_qr_is_edited_then_times_out_and_is_redacted(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    await sim_admin(simulator, "POST", "/mock-phone/ref-lifetime", json={"first": 2, "next": 1})
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    qr = await start_qr_login(alice, room, bot)
    codes = {await decode_qr(alice, qr)}
    for _ in range(2):
        edit = await alice.wait_for_event(room, is_edit_of(bot, qr["event_id"]), timeout=10)
        codes.add(await decode_qr(alice, edit))
        assert edit["content"]["m.new_content"]["body"] in codes
    assert len(codes) == 3  # every edit carries a new code
    await command(alice, room, bot, "ping", "not logged")
    await alice.wait_for_event(room, bot_notice(bot, "timed out", "Please try again"), timeout=20)
    await alice.wait_for_event(room, is_redaction_of(qr["event_id"]), timeout=20)
    await command(alice, room, bot, "ping", "You're not logged into WhatsApp.")


async def test_pairing_code_login_and_bad_numbers(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid

    await command(alice, room, bot, "login +1555abc", "only contain digits")
    await command(alice, room, bot, "login phone 15550001234", "international format")
    status = await sim_admin(simulator, "GET", "/status")
    assert status["connections"] == [] and status["pending_registrations"] == 0, status
    # Not even a short-lived connection: the simulator logs every websocket it accepts.
    assert "websocket from" not in simulator.log_file.read_text(errors="replace")

    phone = "15550007777"
    await alice.send_text(room, f"login +{phone}")
    await alice.wait_for_event(room, bot_notice(bot, "Link with phone number instead"), 30)
    code_event = await alice.wait_for_event(room, is_pairing_code, 30)
    code = code_event["content"]["body"]
    result = await sim_admin(
        simulator, "POST", "/mock-phone/enter-code", json={"phone": phone, "code": code}
    )
    assert result["linked"] is True, result
    await alice.wait_for_event(room, bot_notice(bot, f"Successfully logged in as +{phone}"), 40)
    await wait_ping(alice, room, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")


async def test_device_removed_on_the_phone(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    alice, room, scan = await linked_user(matrix_user, synapse, simulator)
    bot = synapse.bot_mxid
    await sim_admin(simulator, "POST", "/mock-phone/remove-device", json={"jid": scan["jid"]})
    await alice.wait_for_event(room, bot_notice(bot, "You were logged out"), timeout=20)
    await command(alice, room, bot, "ping", "You're not logged into WhatsApp.")
    states = await bridge.bridge_states(alice.user_id)
    assert states.get("remoteState") in ({}, None)


@pytest.mark.parametrize("bridge_overrides", [{"bridge.disconnect_notice_delay": 1}])
async def test_connection_notices(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    await sim_admin(simulator, "POST", "/app-state/config", json={"share_keys_at_login": False})
    alice, room, scan = await linked_user(matrix_user, synapse, simulator)
    bot = synapse.bot_mxid
    jid, phone = scan["jid"], scan["phone"]

    # The phone has not been online for 13 days: one warning, not one per update. (Linking
    # itself tells the bridge nothing: the simulated phone, unlike a real one, sends no history
    # sync and, told so above, no app-state keys. So the phone's first sign of life is this read
    # receipt from 13 days ago.)
    await sim_admin(
        simulator, "POST", "/mock-phone/last-seen", json={"phone": phone, "ago": 13 * 86400}
    )
    await alice.wait_for_event(room, bot_notice(bot, "hasn't been seen in over 12 days"), 20)
    await wait_acks(simulator, jid, "read-self", 1)
    # Newer, but still over 12 days ago: the bridge stores it and stays quiet (12-hour limit).
    moved = await sim_admin(
        simulator, "POST", "/mock-phone/last-seen", json={"phone": phone, "ago": 12.5 * 86400}
    )
    assert moved["notified"], moved
    # The client acks a receipt only after the bridge has handled the phone's activity.
    await wait_acks(simulator, jid, "read-self", 2)
    await alice.sync_once()  # what the bridge said up to the ack, not just what we had read
    warnings = [e for e in alice.events(room) if bot_notice(bot, "over 12 days")(e)]
    assert len(warnings) == 1

    # A drop that lasts (the server refuses with 503 a few times) is announced, and the return.
    await sim_admin(
        simulator, "POST", "/devices/login-failure", json={"jid": jid, "reason": 503, "count": 2}
    )
    await sim_admin(simulator, "POST", "/devices/drop", json={"jid": jid})
    await alice.wait_for_event(room, bot_notice(bot, "Disconnected from WhatsApp"), 20)
    await alice.wait_for_event(room, bot_notice(bot, "Reconnected to WhatsApp"), 30)

    # Temporary ban, on the next login.
    await sim_admin(
        simulator,
        "POST",
        "/devices/login-failure",
        json={"jid": jid, "reason": 402, "code": 101, "expire": 3 * 3600},
    )
    await sim_admin(simulator, "POST", "/devices/drop", json={"jid": jid})
    ban = await alice.wait_for_event(room, bot_notice(bot, "temporarily banned: 101"), 20)
    assert "3 hours" in ban["content"]["body"]
    assert (
        "too many messages to people who don't have you in their address books"
        in (ban["content"]["body"])
    )

    # Client outdated, when reconnecting by hand.
    await sim_admin(simulator, "POST", "/devices/login-failure", json={"jid": jid, "reason": 405})
    await alice.send_text(room, "reconnect")
    await alice.wait_for_event(room, bot_notice(bot, "client outdated"), 20)

    # Stream replaced, on a live connection.
    await alice.send_text(room, "reconnect")
    await wait_ping(alice, room, bot, "connection to WhatsApp OK")
    await sim_admin(
        simulator, "POST", "/devices/stream-error", json={"jid": jid, "conflict": "replaced"}
    )
    await alice.wait_for_event(room, bot_notice(bot, "Stream replaced"), 20)
    states = await bridge.bridge_states(alice.user_id)
    [state] = states["remoteState"].values()
    assert state["error"] == "wa-stream-replaced"

    # The phone itself was logged out (403 at the next login): the link is gone.
    await alice.send_text(room, "reconnect")
    await wait_ping(alice, room, bot, "connection to WhatsApp OK")
    await sim_admin(simulator, "POST", "/devices/login-failure", json={"jid": jid, "reason": 403})
    await sim_admin(simulator, "POST", "/devices/drop", json={"jid": jid})
    await alice.wait_for_event(room, bot_notice(bot, "Your phone was logged out"), 20)
    await command(alice, room, bot, "ping", "You're not logged into WhatsApp.")


async def test_two_users_link_two_accounts(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    bot = synapse.bot_mxid
    alice, alice_room = await user_with_management_room(matrix_user, synapse, "alice")
    bob, bob_room = await user_with_management_room(matrix_user, synapse, "bob")
    alice_phone, bob_phone = "15550001111", "15550002222"

    # Both logins run at the same time: alice by QR, bob by pairing code.
    await sim_admin(simulator, "POST", "/accounts", json={"phone": alice_phone, "default": True})
    await alice.send_text(alice_room, "login")
    await bob.send_text(bob_room, f"login +{bob_phone}")
    qr = await alice.wait_for_event(alice_room, is_qr(bot), timeout=30)
    code_event = await bob.wait_for_event(bob_room, is_pairing_code, 30)
    scan, entered = await asyncio.gather(
        sim_admin(simulator, "POST", "/mock-phone/scan-qr", data=await decode_qr(alice, qr)),
        sim_admin(
            simulator,
            "POST",
            "/mock-phone/enter-code",
            json={"phone": bob_phone, "code": code_event["content"]["body"]},
        ),
    )
    assert scan["phone"] == alice_phone and entered["phone"] == bob_phone
    await alice.wait_for_event(alice_room, bot_notice(bot, f"logged in as +{alice_phone}"), 40)
    await bob.wait_for_event(bob_room, bot_notice(bot, f"logged in as +{bob_phone}"), 40)
    await wait_ping(alice, alice_room, bot, f"+{alice_phone}", "OK")
    await wait_ping(bob, bob_room, bot, f"+{bob_phone}", "OK")

    alice_text = " ".join(str(e.get("content", {})) for e in alice.events(alice_room))
    bob_text = " ".join(str(e.get("content", {})) for e in bob.events(bob_room))
    assert bob_phone not in alice_text and code_event["content"]["body"] not in alice_text
    assert alice_phone not in bob_text and qr["content"]["body"] not in bob_text
    assert set(await alice.joined_members(alice_room)) == {alice.user_id, bot}
    assert set(await bob.joined_members(bob_room)) == {bob.user_id, bot}

    # One logging out leaves the other linked.
    await command(alice, alice_room, bot, "logout", "Logged out successfully.")
    await wait_ping(bob, bob_room, bot, f"+{bob_phone}", "OK")

    # Neither the pairing code nor the QR content is logged above DEBUG.
    code = code_event["content"]["body"]
    ref, *_, adv = qr["content"]["body"].split("#", 1)[1].split(",")[:4]
    assert_no_secrets_above_debug(
        bridge.log_path.read_text(errors="replace"), code, code.replace("-", ""), ref, adv
    )


async def test_cancel_and_login_in_progress(
    bridge: BridgeProcess, synapse: SynapseInfo, simulator: SimulatorInfo, matrix_user: MakeUser
) -> None:
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    qr = await start_qr_login(alice, room, bot)
    await command(alice, room, bot, "login", "You already have an ongoing login")
    await command(alice, room, bot, "cancel", "Login cancelled.")
    await alice.wait_for_event(room, is_redaction_of(qr["event_id"]), timeout=20)
    # The cancelled code is dead: the phone can't link with it.
    await sim_admin(
        simulator, "POST", "/mock-phone/scan-qr", data=qr["content"]["body"], ok=(404, 410)
    )
    await command(alice, room, bot, "ping", "You're not logged into WhatsApp.")
    # A new login works after the cancelled one.
    await qr_login(alice, room, bot, simulator)
