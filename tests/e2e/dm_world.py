"""The world most bridging tests share: Baileys as Alice and a Matrix user linked to a silent
phone, and predicates for the bridge's notices and delivery statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.baileys_peer import BaileysPeer
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import linked_user
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, admin

ALICE = "15550003001"
TIMEOUT = 60.0
STATUS = "com.beeper.message_send_status"


@dataclass
class DMWorld:
    alice: BaileysPeer
    user: MatrixTestUser
    management: str
    phone: str
    """The bridge user's own number."""
    scan: dict[str, Any]
    """The simulated phone's scan result (``phone``, and the bridge's device ``jid``)."""

    @property
    def our_jid(self) -> str:
        return f"{self.phone}@s.whatsapp.net"


async def dm_world(
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
    *,
    alice_phone: str = ALICE,
    alice_picture: bytes | None = None,
) -> AsyncIterator[DMWorld]:
    """Alice on Baileys, and a Matrix user linked by QR to a silent phone. Alice's picture is
    set before the link: the user's device never hears of it by notification."""
    async with BaileysPeer.start(
        simulator, push_name="Alice", auth_dir=tmp_path / "alice", phone=alice_phone
    ) as alice:
        if alice_picture is not None:
            await admin(simulator, "POST", f"/accounts/{alice_phone}/picture", alice_picture)
        user, management, scan = await linked_user(
            matrix_user, synapse, simulator, silent_phone=True
        )
        yield DMWorld(alice, user, management, scan["phone"], scan)


def ghost_ids(synapse: SynapseInfo, peer: BaileysPeer) -> set[str]:
    """The Matrix ids that may stand for ``peer`` (phone-number or LID ghost)."""
    ids = {f"@whatsapp_{peer.jid.split('@')[0]}:{synapse.server_name}"}
    if peer.lid:
        ids.add(f"@whatsapp_lid-{peer.lid.split('@')[0]}:{synapse.server_name}")
    return ids


def text_event(body: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return event.get("type") == "m.room.message" and content.get("body") == body

    return match


def notice_replying_to(event_id: str) -> Callable[[Event], bool]:
    """The bridge's notice about ``event_id`` (it replies to the event)."""

    def match(event: Event) -> bool:
        content = event.get("content", {})
        if event.get("type") != "m.room.message" or content.get("msgtype") != "m.notice":
            return False
        reply = content.get("m.relates_to", {}).get("m.in_reply_to", {})
        return bool(reply.get("event_id") == event_id)

    return match


def status_of(event_id: str) -> Callable[[Event], bool]:
    """The ``com.beeper.message_send_status`` event about ``event_id``."""

    def match(event: Event) -> bool:
        if event.get("type") != STATUS:
            return False
        return bool(event.get("content", {}).get("m.relates_to", {}).get("event_id") == event_id)

    return match


def membership(event: Event, user_id: str) -> str | None:
    if event.get("type") == "m.room.member" and event.get("state_key") == user_id:
        return str(event.get("content", {}).get("membership"))
    return None
