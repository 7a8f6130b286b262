"""Status broadcasts end to end: Baileys (Alice) posts a text status that lists the bridge user.

With ``bridge.enable_status_broadcast`` the user is invited to the bridge's "WhatsApp Status
Broadcast" room, where the status shows from Alice's ghost; by default (off) the status is
dropped while Alice's ordinary messages still arrive. This proves the whole chain: Baileys'
``statusJidList`` stanza, the simulator's status routing, our client decrypting a sender-key
message from ``status@broadcast``, and the bridge's status room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import TIMEOUT, DMWorld, dm_world, ghost_ids, text_event
from tests.e2e.matrix_client import Event
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(180)]

ALICE = "15550004101"
ROOM_NAME = "WhatsApp Status Broadcast"
ROOM_TOPIC = "WhatsApp status updates from your contacts"


@pytest.fixture
async def world(
    bridge: Any,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[DMWorld]:
    async for world in dm_world(synapse, simulator, matrix_user, tmp_path, alice_phone=ALICE):
        yield world


async def _post_status(world: DMWorld, text: str) -> dict[str, Any]:
    sent: dict[str, Any] = await world.alice.request(
        "send_status", text=text, recipients=[world.our_jid]
    )
    assert sent["key"]["remoteJid"] == "status@broadcast"
    return sent


def _state(events: list[Event], event_type: str) -> dict[str, Any]:
    [found] = [e for e in events if e.get("type") == event_type and e.get("state_key") == ""]
    content: dict[str, Any] = found["content"]
    return content


@pytest.mark.parametrize("bridge_overrides", [{"bridge.enable_status_broadcast": True}])
async def test_status_broadcast_room(world: DMWorld, synapse: SynapseInfo) -> None:
    user = world.user
    await _post_status(world, "my first status")

    room = await user.wait_for_invite(timeout=TIMEOUT)
    invite_state = user.invite_state(room)
    assert _state(invite_state, "m.room.name")["name"] == ROOM_NAME
    # The bot invites (no ghost owns the room) and the room is no DM.
    [invite] = [
        e
        for e in invite_state
        if e.get("type") == "m.room.member" and e.get("state_key") == user.user_id
    ]
    assert invite["sender"] == synapse.bot_mxid
    assert not invite["content"].get("is_direct")
    await user.join(room)

    status = await user.wait_for_event(room, text_event("my first status"), TIMEOUT)
    assert status["sender"] in ghost_ids(synapse, world.alice)
    assert status["content"]["msgtype"] == "m.text"
    events = user.events(room)
    assert _state(events, "m.room.topic")["topic"] == ROOM_TOPIC
    [create] = [e for e in events if e.get("type") == "m.room.create"]
    assert create["sender"] == synapse.bot_mxid

    # A second status lands in the same room (one room per user, not per author).
    await _post_status(world, "and another")
    again = await user.wait_for_event(room, text_event("and another"), TIMEOUT)
    assert again["sender"] == status["sender"]
    assert user.invited_rooms() == []


async def test_status_broadcast_off_by_default(world: DMWorld) -> None:
    user = world.user
    await _post_status(world, "nobody should see this")
    # Alice's ordinary message, sent after the status, arrives: the status was dropped, not
    # stuck in front of it.
    await world.alice.send_text(world.our_jid, "just a normal message")
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert ROOM_NAME not in str(user.invite_state(room))
    await user.join(room)
    await user.wait_for_event(room, text_event("just a normal message"), TIMEOUT)

    assert user.invited_rooms() == []
    for seen in (room, world.management):
        bodies = [e.get("content", {}).get("body") for e in user.events(seen)]
        assert "nobody should see this" not in bodies
