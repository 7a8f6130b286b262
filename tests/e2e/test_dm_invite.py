"""Starting a DM by inviting a ghost: a logged-in user's new direct room becomes the portal (the
ghost joins, even one the bridge never met), a second such room is pointed at the first and
left, and users who can't start chats (not logged in, or the number has no WhatsApp) are refused
with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.baileys_peer import text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import ALICE, TIMEOUT, DMWorld, dm_world, membership, text_event
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

NOBODY = "19995550177"
NOT_LOGGED_IN = "You're not logged into WhatsApp"


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
    async for world in dm_world(synapse, simulator, matrix_user, tmp_path):
        yield world


def _notice_from(sender: str, *needles: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return (
            event.get("sender") == sender
            and content.get("msgtype") == "m.notice"
            and all(n in content.get("body", "") for n in needles)
        )

    return match


async def _rejected(user: MatrixTestUser, room: str, ghost: str) -> str:
    """The reason the ghost gave for leaving (rejecting the invite to) ``room``."""
    left = await user.wait_for_event(room, lambda e: membership(e, ghost) == "leave", TIMEOUT)
    return str(left["content"].get("reason", ""))


async def test_inviting_a_ghost_starts_a_dm(
    world: DMWorld, synapse: SynapseInfo, matrix_user: MakeUser
) -> None:
    alice, user = world.alice, world.user
    ghost = f"@whatsapp_{ALICE}:{synapse.server_name}"
    stranger = await matrix_user("stranger")

    # Someone without a WhatsApp login can't start a chat, even with a ghost not met yet.
    refused = await stranger.create_dm(ghost)
    assert NOT_LOGGED_IN in await _rejected(stranger, refused, ghost)

    # A logged-in user's new direct room with the (never met) ghost becomes the DM portal.
    room = await user.create_dm(ghost)
    await user.wait_for_join(room, ghost, timeout=TIMEOUT)
    match = _notice_from(ghost, "Private chat portal created")
    await user.wait_for_event(room, match, TIMEOUT)
    await user.send_text(room, "hello from a room I made")
    received = await alice.wait_message(
        lambda e: text_of(e) == "hello from a room I made", timeout=TIMEOUT
    )
    assert received["key"]["remoteJid"].endswith(("@s.whatsapp.net", "@lid"))  # a DM
    await alice.send_text(world.our_jid, "got it")
    reply = await user.wait_for_event(room, text_event("got it"), TIMEOUT)
    assert reply["sender"] == ghost

    # A second direct room with the same ghost: pointed at the portal, then left.
    second = await user.create_dm(ghost)
    await user.wait_for_join(second, ghost, timeout=TIMEOUT)
    match = _notice_from(ghost, "You already have a private chat portal with me", room)
    await user.wait_for_event(second, match, TIMEOUT)
    assert "private chat" in await _rejected(user, second, ghost)

    # A number without WhatsApp: its ghost refuses, saying so.
    nobody = f"@whatsapp_{NOBODY}:{synapse.server_name}"
    empty = await user.create_dm(nobody)
    assert f"+{NOBODY} is not on WhatsApp" in await _rejected(user, empty, nobody)

    # The stranger again, now that the ghost exists: still refused.
    again = await stranger.create_dm(ghost)
    assert NOT_LOGGED_IN in await _rejected(stranger, again, ghost)

    # The portal still works.
    await alice.send_text(world.our_jid, "still here")
    await user.wait_for_event(room, text_event("still here"), TIMEOUT)
