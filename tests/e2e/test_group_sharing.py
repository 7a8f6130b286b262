"""Two bridge users in one WhatsApp group share its portal (one room, each message once), and
neither sees the other's DMs or management room."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import linked_user
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, run_simulator

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

ALICE = "15550004001"
TIMEOUT = 60.0


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorInfo]:
    with run_simulator(tmp_path / "simulator-tls", tls=True) as info:
        yield info


def text(body: str) -> Any:
    def match(event: Event) -> bool:
        return event.get("type") == "m.room.message" and event["content"].get("body") == body

    return match


async def rooms_of(user: MatrixTestUser) -> set[str]:
    """Every room the user is in or invited to, as the homeserver says."""
    joined = await user.request("GET", "/_matrix/client/v3/joined_rooms")
    await user.sync_once()
    return set(joined["joined_rooms"]) | set(user.invited_rooms())


async def test_two_bridge_users_share_the_group_portal(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> None:
    async with BaileysPeer.start(
        simulator, push_name="Alice", auth_dir=tmp_path / "alice", phone=ALICE
    ) as alice:
        ann, ann_management, ann_scan = await linked_user(
            matrix_user, synapse, simulator, name="ann", silent_phone=True
        )
        ben, ben_management, ben_scan = await linked_user(
            matrix_user, synapse, simulator, name="ben", silent_phone=True
        )
        ann_jid = f"{ann_scan['phone']}@s.whatsapp.net"
        ben_jid = f"{ben_scan['phone']}@s.whatsapp.net"
        group = await alice.group_create("Shared", [ann_jid, ben_jid])
        jid = group["id"]

        # One room for the group: both users are invited to the same one.
        room = await ann.wait_for_invite(timeout=TIMEOUT)
        assert room != ann_management
        assert await ben.wait_for_invite(room, timeout=TIMEOUT) == room
        await ann.join(room)
        await ben.join(room)

        # A message both users' sessions receive is bridged once.
        await alice.send_text(jid, "hello both")
        first = await ann.wait_for_event(room, text("hello both"), TIMEOUT)
        assert first["sender"] == f"@whatsapp_{ALICE}:{synapse.server_name}"
        await ben.wait_for_event(room, first_id(first["event_id"]), TIMEOUT)

        # What Ann says from Matrix reaches Alice and shows in the room once, as Ann (Ben's
        # session receives it from WhatsApp too, and doesn't bridge it again).
        await ann.send_text(room, "Ann from Matrix")
        received = await alice.wait_message(
            lambda e: text_of(e) == "Ann from Matrix", timeout=TIMEOUT
        )
        assert received["key"]["participant"] == ann_jid
        await alice.send_text(jid, "after Ann")
        await ben.wait_for_event(room, text("after Ann"), TIMEOUT)
        bodies = [
            e["content"]["body"] for e in ben.events(room) if e.get("type") == "m.room.message"
        ]
        assert bodies == ["hello both", "Ann from Matrix", "after Ann"]
        assert [e["sender"] for e in ben.events(room) if text("Ann from Matrix")(e)] == [
            ann.user_id
        ]

        # Alice writes to Ann privately: Ann gets a DM portal, Ben sees nothing of it.
        await alice.send_text(ann_jid, "just for Ann")
        dm = await ann.wait_for_invite(timeout=TIMEOUT)
        assert dm not in (room, ann_management)
        await ann.join(dm)
        await ann.wait_for_event(dm, text("just for Ann"), TIMEOUT)

        assert await rooms_of(ann) == {ann_management, room, dm}
        assert await rooms_of(ben) == {ben_management, room}


def first_id(event_id: str) -> Any:
    def match(event: Event) -> bool:
        return event.get("event_id") == event_id

    return match
