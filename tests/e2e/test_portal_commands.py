"""Portal commands end to end: ``pm`` starts a DM (and refuses bad numbers), ``sync contacts``
refreshes ghosts, ``sync groups`` makes the rooms of the user's groups, and ``delete-portal``
empties and forgets a portal so the chat's next message makes a fresh one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.baileys_peer import text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import ALICE, TIMEOUT, DMWorld, dm_world, text_event
from tests.e2e.helpers import command
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.e2e.test_ghosts import wait_profile
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

ALICE_PICTURE = b"\xff\xd8\xff\xe0 Alice at the beach \xff\xd9"
NOBODY = "19995550123"


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    return simulator_tls


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[DMWorld]:
    async for world in dm_world(
        synapse, simulator, matrix_user, tmp_path, alice_picture=ALICE_PICTURE
    ):
        yield world


def _create_event(user_state: list[Event]) -> Event:
    return next(e for e in user_state if e.get("type") == "m.room.create")


async def test_pm_sync_and_delete_portal(
    world: DMWorld, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    alice, user, management = world.alice, world.user, world.management
    bot = synapse.bot_mxid
    ghost = f"@whatsapp_{ALICE}:{synapse.server_name}"

    # Bad numbers are refused with the reason, before WhatsApp is asked.
    await command(user, management, bot, "pm", "**Usage:**", "pm <international phone number>")
    await command(user, management, bot, "pm 5551234567", "international format")
    await command(user, management, bot, f"pm +{NOBODY}", f"+{NOBODY} is not on WhatsApp")

    # pm: the contact's ghost makes a direct room and invites the user; the reply links it.
    created = await command(
        user, management, bot, f"pm +{ALICE}", f"Created portal room with +{ALICE}"
    )
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert f"](https://matrix.to/#/{room})" in created["content"]["body"]
    state = user.invite_state(room)
    own_invite = [e for e in state if e.get("state_key") == user.user_id]
    assert own_invite and own_invite[0]["content"].get("is_direct") is True
    assert own_invite[0]["sender"] == ghost
    assert _create_event(state)["sender"] == ghost
    await user.join(room)

    # sync contacts: the ghost's avatar is asked for (no contact event ever asked for it).
    before = await wait_profile(user, ghost, lambda p: True)
    assert not before.get("avatar_url")
    await command(user, management, bot, "sync contacts", "Resynced contacts")
    profile = await wait_profile(user, ghost, lambda p: bool(p.get("avatar_url")))
    assert await user.download_media(profile["avatar_url"]) == ALICE_PICTURE

    # pm again: the same portal, linked.
    again = await command(
        user, management, bot, f"pm +{ALICE}", "You already have a private chat portal"
    )
    assert f"](https://matrix.to/#/{room})" in again["content"]["body"]

    # The portal works both ways.
    await user.send_text(room, "hi Alice, from Matrix")
    await alice.wait_message(lambda e: text_of(e) == "hi Alice, from Matrix", timeout=TIMEOUT)
    await alice.send_text(world.our_jid, "hi back")
    answer = await user.wait_for_event(room, text_event("hi back"), TIMEOUT)
    assert answer["sender"] == ghost

    # sync groups: a group nobody has written in yet gets its room, named by its subject.
    group = await alice.group_create("Book club", [world.our_jid])
    await command(user, management, bot, "sync groups", "Resynced groups")
    group_room = await user.wait_for_invite(timeout=TIMEOUT)
    names = [e["content"].get("name") for e in user.invite_state(group_room)]
    assert "Book club" in names, group["id"]
    await user.join(group_room)

    # delete-portal: refused outside a portal; in the DM, the user is kicked and the ghost
    # leaves; the next message from Alice makes a new room.
    await command(user, management, bot, "delete-portal", "must be in a portal room")
    await user.send_text(room, "!wa delete-portal")
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{quote(user.user_id)}"
    kicked = await _wait_membership(user, path, "leave")
    assert kicked.get("reason") == "Deleting portal"

    await alice.send_text(world.our_jid, "are you still there?")
    fresh = await user.wait_for_invite(timeout=TIMEOUT)
    assert fresh not in (room, group_room)
    await user.join(fresh)
    await user.wait_for_event(fresh, text_event("are you still there?"), TIMEOUT)


async def _wait_membership(user: MatrixTestUser, path: str, membership: str) -> Event:
    """The user's member event content once it is ``membership`` (for a room one has left,
    Synapse shows its state at the leave); each try waits on the user's sync."""
    content: Event = {}
    for _ in range(60):
        content = await user.request("GET", path)
        if content.get("membership") == membership:
            return content
        await user.sync_once(1000)
    raise AssertionError(f"membership stayed {content}")
