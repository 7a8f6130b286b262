"""Read receipts, typing, call notices and view-once media through the bridge, end to end:
Baileys as the contact, a real Synapse (pushing receipts and typing to the bridge, MSC2409),
the bridge as a process and the simulator with TLS."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer, Event, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import dm_world
from tests.e2e.helpers import sim_admin
from tests.e2e.matrix_client import MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

ALICE = "15550003001"
TIMEOUT = 60.0
CALL_NOTICE = "Incoming call. Use the WhatsApp app to answer."
VIEW_ONCE_NOTICE = (
    "You received a view once message. For added privacy, you can only open it on the "
    "WhatsApp app."
)
_EPHEMERAL_FILTER = json.dumps(
    {
        "presence": {"types": []},
        "account_data": {"types": []},
        "room": {"timeline": {"limit": 0}, "state": {"types": []}, "account_data": {"types": []}},
    }
)


@pytest.fixture
def bridge_overrides() -> dict[str, Any]:
    """View-once media as a notice (the option; by default it is bridged as media)."""
    return {"bridge.disable_view_once": True}


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


class EphemeralWatch:
    """The user's ``/sync`` ephemeral events (receipts, typing), on its own since-token."""

    def __init__(self, user: MatrixTestUser, room_id: str) -> None:
        self.user = user
        self.room_id = room_id
        self.since: str | None = None

    async def wait(self, predicate: Callable[[Event], bool], timeout: float = TIMEOUT) -> Event:
        deadline = time.monotonic() + timeout
        seen: list[Event] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching ephemeral event in {self.room_id}; seen {seen}")
            params = {"timeout": str(int(min(remaining, 5) * 1000)), "filter": _EPHEMERAL_FILTER}
            if self.since is not None:
                params["since"] = self.since
            data = await self.user.request(
                "GET", "/_matrix/client/v3/sync", params=params, timeout=remaining + 30
            )
            self.since = data["next_batch"]
            room = data.get("rooms", {}).get("join", {}).get(self.room_id, {})
            events: list[Event] = room.get("ephemeral", {}).get("events", [])
            for event in events:
                seen.append(event)
                if predicate(event):
                    return event


def _read_by(event_id: str, user_id: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        if event.get("type") != "m.receipt":
            return False
        readers = event.get("content", {}).get(event_id, {}).get("m.read", {})
        return user_id in readers

    return match


def _typing(user_id: str, typing: bool) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        if event.get("type") != "m.typing":
            return False
        return (user_id in event.get("content", {}).get("user_ids", [])) == typing

    return match


def _chat_state(state: str) -> Callable[[Event], bool]:
    """Baileys' ``presence.update`` for a chat state of the bridge user."""

    def match(event: Event) -> bool:
        if event.get("event") != "presence.update":
            return False
        presences = event.get("data", {}).get("presences", {})
        return any(p.get("lastKnownPresence") == state for p in presences.values())

    return match


def _text(body: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.get("type") == "m.room.message" and event["content"].get("body") == body

    return match


World = tuple[BaileysPeer, MatrixTestUser, str, dict[str, Any]]


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[World]:
    async for w in dm_world(synapse, simulator, matrix_user, tmp_path, alice_phone=ALICE):
        yield w.alice, w.user, w.management, w.scan


async def test_receipts_typing_and_calls_both_ways(
    world: World, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    alice, user, management, scan = world
    ours = f"{scan['phone']}@s.whatsapp.net"

    # A DM portal, and Alice's ghost.
    await alice.send_text(ours, "hi there")
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert room != management
    await user.join(room)
    first = await user.wait_for_event(room, _text("hi there"), TIMEOUT)
    ghost = first["sender"]
    watch = EphemeralWatch(user, room)

    # WhatsApp → Matrix: Alice reads what the user sent; her ghost's read receipt is on it.
    event_id = await user.send_text(room, "did you read this?")
    received = await alice.wait_message(
        lambda e: text_of(e) == "did you read this?", timeout=TIMEOUT
    )
    await alice.send_receipts([received["key"]], "read")
    await watch.wait(_read_by(event_id, ghost))

    # WhatsApp → Matrix: Alice types (her ghost types), then stops.
    await alice.presence("composing", ours)
    await watch.wait(_typing(ghost, True))
    await alice.presence("paused", ours)
    await watch.wait(_typing(ghost, False))

    # Matrix → WhatsApp: the user reads Alice's latest message in Matrix; Alice's message
    # turns read (blue ticks) on WhatsApp, and only that one's receipt is sent for it.
    sent = await alice.send_text(ours, "and this one?")
    latest = await user.wait_for_event(room, _text("and this one?"), TIMEOUT)
    await user.request(
        "POST", f"/_matrix/client/v3/rooms/{room}/receipt/m.read/{latest['event_id']}", json={}
    )
    await alice.wait_status(sent["id"], 4, timeout=TIMEOUT)

    # Matrix → WhatsApp: the user types in the room (composing), then stops (paused).
    typing_path = f"/_matrix/client/v3/rooms/{room}/typing/{user.user_id}"
    await user.request("PUT", typing_path, json={"typing": True, "timeout": 30000})
    await alice.wait_for(_chat_state("composing"), TIMEOUT)
    await user.request("PUT", typing_path, json={"typing": False})
    await alice.wait_for(_chat_state("available"), TIMEOUT)  # Baileys' word for <paused/>

    # A call from Alice (as WhatsApp's server delivers one) becomes a notice from her ghost;
    # the <call> is acked, and delivered again (unacked elsewhere) it makes no second notice.
    call = {
        "tag": "call",
        "attrs": {"from": {"jid": alice.jid}, "id": "CALLSTANZA01", "t": str(int(time.time()))},
        "content": [
            {
                "tag": "offer",
                "attrs": {"call-id": "4F1C2B0D9A", "call-creator": {"jid": alice.jid}},
                "content": [{"tag": "audio", "attrs": {"enc": "opus", "rate": "16000"}}],
            }
        ],
    }
    await sim_admin(simulator, "POST", "/devices/raw", json={"jid": scan["jid"], "nodes": [call]})
    notice = await user.wait_for_event(room, _text(CALL_NOTICE), TIMEOUT)
    assert notice["sender"] == ghost
    assert notice["content"]["com.beeper.action_message"] == {"type": "call"}
    await sim_admin(simulator, "POST", "/devices/raw", json={"jid": scan["jid"], "nodes": [call]})
    await alice.send_text(ours, "after the call")
    await user.wait_for_event(room, _text("after the call"), TIMEOUT)
    acks = (await sim_admin(simulator, "GET", f"/devices/{scan['jid']}/acks"))["acks"]
    assert [a["id"] for a in acks if a.get("class") == "call"] == ["CALLSTANZA01"] * 2
    notices = [e for e in user.events(room) if _text(CALL_NOTICE)(e)]
    assert len(notices) == 1

    # A view-once photo, with bridge.disable_view_once: the notice, not the photo.
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0 a secret \xff\xd9").decode()
    await alice.request("send_view_once", jid=ours, data=jpeg)
    view_once = await user.wait_for_event(room, _text(VIEW_ONCE_NOTICE), TIMEOUT)
    assert view_once["content"]["msgtype"] == "m.notice"
    assert view_once["sender"] == ghost
