"""Double puppeting end to end: what the user does on their (simulated) phone shows in Matrix as
done by their own Matrix account, through the config's ``as_token:`` secret (a second appservice
registered in the test Synapse) or a token given with ``login-matrix``; nothing echoes back to
WhatsApp."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import ALICE, TIMEOUT, DMWorld, dm_world, text_event
from tests.e2e.helpers import command, sim_admin
from tests.e2e.matrix_client import MatrixRequestError, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

SOURCE_KEY = "fi.mau.double_puppet_source"


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    return simulator_tls


@pytest.fixture
def bridge_overrides(request: pytest.FixtureRequest, synapse: SynapseInfo) -> dict[str, Any]:
    """``auto`` (indirect param): the test server's users are double puppeted automatically."""
    values: dict[str, Any] = {"bridge.sync_direct_chat_list": True}
    if getattr(request, "param", None) == "auto":
        secret = f"as_token:{synapse.double_puppet_as_token}"
        values["double_puppet.secrets"] = {synapse.server_name: secret}
    return values


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[DMWorld]:
    async for world in dm_world(synapse, simulator, matrix_user, tmp_path):
        yield world


async def _joined_portal(user: MatrixTestUser, known: set[str]) -> str:
    """The first room other than ``known`` the user is *joined* to (never joined by the test:
    the double puppet accepts the invite)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        joined = await user.request("GET", "/_matrix/client/v3/joined_rooms")
        new = set(joined["joined_rooms"]) - known
        if new:
            return str(new.pop())
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{user.user_id} joined no new room; invites: {user.invited_rooms()}"
            )
        await user.sync_once(2000)  # returns as soon as anything happens


async def _phone_sends(simulator: SimulatorInfo, phone: str, **body: Any) -> dict[str, Any]:
    result = await sim_admin(
        simulator, "POST", f"/accounts/{phone}/send", json={"to": ALICE, **body}
    )
    return dict(result)


@pytest.mark.parametrize("bridge_overrides", ["auto"], indirect=True)
async def test_automatic_double_puppet(
    world: DMWorld, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    alice, user, management, phone = world.alice, world.user, world.management, world.phone
    ours = world.our_jid

    # A chat's first message makes the portal; the user's account is in it without joining.
    hello_key = await alice.send_text(ours, "hello from WhatsApp")
    room = await _joined_portal(user, {management})
    hello = await user.wait_for_event(room, text_event("hello from WhatsApp"), TIMEOUT)
    ghost = hello["sender"]
    assert ghost.startswith("@whatsapp_")

    # The DM is in the user's m.direct, under the contact's ghost.
    direct = await user.request(
        "GET", f"/_matrix/client/v3/user/{user.user_id}/account_data/m.direct"
    )
    assert room in direct.get(ghost, []), direct

    # A message from the phone: from the user's own account, at WhatsApp's time (the as_token
    # method lets the bridge set timestamps), marked as the bridge's.
    sent = await _phone_sends(simulator, phone, text="sent from my phone")
    own = await user.wait_for_event(room, text_event("sent from my phone"), TIMEOUT)
    assert own["sender"] == user.user_id
    assert own["origin_server_ts"] == int(sent["t"]) * 1000
    assert own["content"][SOURCE_KEY] == "mautrix-whatsapp"
    await alice.wait_message(lambda e: text_of(e) == "sent from my phone", timeout=TIMEOUT)

    # A reaction and an edit from the phone: the user's too.
    await _phone_sends(simulator, phone, reaction={"id": hello_key["id"], "emoji": "👍"})
    reaction = await user.wait_for_event(room, lambda e: e.get("type") == "m.reaction", TIMEOUT)
    assert reaction["sender"] == user.user_id
    assert reaction["content"]["m.relates_to"]["event_id"] == hello["event_id"]
    assert reaction["content"]["m.relates_to"]["key"] == "👍\ufe0f"  # as the bridge spells it
    await _phone_sends(simulator, phone, edit={"id": sent["id"], "text": "edited on my phone"})
    edit = await user.wait_for_event(
        room,
        lambda e: (
            e.get("content", {}).get("m.new_content", {}).get("body") == "edited on my phone"
        ),
        TIMEOUT,
    )
    assert edit["sender"] == user.user_id
    assert edit["content"]["m.relates_to"]["event_id"] == own["event_id"]

    # Reading on the phone moves the user's own read marker.
    later = await alice.send_text(ours, "read me")
    read_me = await user.wait_for_event(room, text_event("read me"), TIMEOUT)
    await sim_admin(
        simulator, "POST", f"/accounts/{phone}/read", json={"chat": ALICE, "ids": [later["id"]]}
    )
    await _wait_fully_read(user, room, read_me["event_id"])

    # Nothing of that came back to WhatsApp: after a message the user sends from Matrix
    # reaches Alice, she has had the phone's message once and no reaction or edit from the
    # bridge besides the phone's.
    await user.send_text(room, "from Matrix")
    await alice.wait_message(lambda e: text_of(e) == "from Matrix", timeout=TIMEOUT)
    texts = [text_of(e) for e in alice.events if e["event"] == "messages.upsert"]
    assert texts.count("sent from my phone") == 1, texts
    reactions = [e for e in alice.events if e["event"] == "messages.reaction"]
    assert len(reactions) <= 1, reactions
    edits = [
        e
        for e in alice.events
        if e["event"] == "messages.update"
        and e["key"]["id"] == sent["id"]
        and "editedMessage" in (e["update"].get("message") or {})
    ]
    assert len(edits) == 1, edits

    # A group's room is joined by the user's account too, and the phone speaks there as them.
    group = await alice.group_create("Double trouble", [ours])
    group_room = await _joined_portal(user, {management, room})
    await sim_admin(
        simulator, "POST", f"/accounts/{phone}/send", json={"to": group["id"], "text": "hi all"}
    )
    in_group = await user.wait_for_event(group_room, text_event("hi all"), TIMEOUT)
    assert in_group["sender"] == user.user_id

    # ping-matrix tells which kind of double puppet it is.
    await command(
        user,
        management,
        synapse.bot_mxid,
        "ping-matrix",
        f"Confirmed valid access token for {user.user_id} (appservice double puppeting)",
    )


async def _wait_fully_read(user: MatrixTestUser, room: str, event_id: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    path = f"/_matrix/client/v3/user/{user.user_id}/rooms/{room}/account_data/m.fully_read"
    while True:
        try:
            marker = await user.request("GET", path)
        except MatrixRequestError:  # M_NOT_FOUND until the first marker
            marker = {}
        if marker.get("event_id") == event_id:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the read marker is at {marker}, not {event_id}")
        await user.sync_once(2000)


async def test_login_matrix_and_logout_matrix(
    world: DMWorld, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    alice, user, management, phone = world.alice, world.user, world.management, world.phone
    bot = synapse.bot_mxid

    await command(user, management, bot, "login-matrix", "**Usage:**")
    await command(
        user,
        management,
        bot,
        "login-matrix not-a-token",
        "Failed to enable double puppeting: The given access token was invalid.",
    )
    await command(user, management, bot, "ping-matrix", "You don't have double puppeting enabled.")
    await command(
        user, management, bot, f"login-matrix {user.access_token}", "Successfully switched puppets"
    )
    await command(
        user, management, bot, "ping-matrix", f"Confirmed valid access token for {user.user_id} /"
    )

    await alice.send_text(f"{phone}@s.whatsapp.net", "hello again")
    room = await _joined_portal(user, {management})
    await user.wait_for_event(room, text_event("hello again"), TIMEOUT)
    await _phone_sends(simulator, phone, text="mine, as me")
    own = await user.wait_for_event(room, text_event("mine, as me"), TIMEOUT)
    assert own["sender"] == user.user_id

    # Back to the ghost.
    await command(
        user, management, bot, "logout-matrix", "Successfully disabled double puppeting."
    )
    await command(
        user, management, bot, "logout-matrix", "You don't have double puppeting enabled."
    )
    await _phone_sends(simulator, phone, text="mine, as my ghost")
    ghosted = await user.wait_for_event(room, text_event("mine, as my ghost"), TIMEOUT)
    assert ghosted["sender"] == f"@whatsapp_{phone}:{synapse.server_name}"

    await user.send_text(room, "from Matrix")
    await alice.wait_message(lambda e: text_of(e) == "from Matrix", timeout=TIMEOUT)
    texts = [text_of(e) for e in alice.events if e["event"] == "messages.upsert"]
    assert texts.count("mine, as me") == 1, texts
