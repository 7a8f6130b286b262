"""Disappearing messages end to end: Baileys sets a chat's timer and sends messages that
disappear; the bridge shows the timer, redacts what expired (also across a restart) and sends
the user's messages with the chat's timer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import dm_world
from tests.e2e.helpers import is_redaction_of
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

ALICE = "15550004001"
TIMEOUT = 60.0
DAY = 86400


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


def _body(body: str) -> Callable[[Event], bool]:
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


async def _send_ephemeral(alice: BaileysPeer, jid: str, text: str, seconds: int) -> Any:
    return await alice.request("send_ephemeral", jid=jid, text=text, expiration=seconds)


async def test_disappearing_messages(world: World, bridge: BridgeProcess) -> None:
    alice, user, management, scan = world
    ours = f"{scan['phone']}@s.whatsapp.net"

    # Alice turns on a one-day timer: a notice in the new portal, marked as a timer change.
    await alice.request("set_disappearing", jid=ours, expiration=DAY)
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert room != management
    await user.join(room)
    notice = await user.wait_for_event(
        room, _body("Set the disappearing message timer to 1 day"), TIMEOUT
    )
    assert notice["content"]["msgtype"] == "m.notice"
    action = notice["content"]["com.beeper.action_message"]
    assert (action["type"], action["timer"], action["implicit"]) == (
        "disappearing_timer",
        DAY * 1000,
        False,
    )

    # What the user sends now carries the chat's timer to WhatsApp.
    await user.send_text(room, "this too shall pass")
    received = await alice.wait_message(
        lambda e: text_of(e) == "this too shall pass", timeout=TIMEOUT
    )
    content = received["message"].get("ephemeralMessage", {}).get("message", received["message"])
    assert content["extendedTextMessage"]["contextInfo"]["expiration"] == DAY

    # A message that disappears 3 s after it was sent is redacted in Matrix then.
    sent = await _send_ephemeral(alice, ours, "gone in three", 3)
    short = await user.wait_for_event(room, _body("gone in three"), TIMEOUT)
    redaction = await user.wait_for_event(room, is_redaction_of(short["event_id"]), TIMEOUT)
    assert redaction["origin_server_ts"] >= (int(sent["messageTimestamp"]) + 3) * 1000

    # Expiry survives a restart: scheduled before the stop, redacted by the new process.
    await _send_ephemeral(alice, ours, "outlives the bridge", 15)
    long_lived = await user.wait_for_event(room, _body("outlives the bridge"), TIMEOUT)
    # The portal handles a chat's messages in order: once the next one is in the room, the
    # previous one's expiry is stored (it is written right after its events are sent).
    await alice.send_text(ours, "ordered after it")
    await user.wait_for_event(room, _body("ordered after it"), TIMEOUT)
    await asyncio.to_thread(bridge.stop)
    stopped_at = time.time() * 1000
    assert not [e for e in user.events(room) if is_redaction_of(long_lived["event_id"])(e)]
    await asyncio.to_thread(bridge.start)
    redaction = await user.wait_for_event(room, is_redaction_of(long_lived["event_id"]), TIMEOUT)
    assert redaction["origin_server_ts"] > stopped_at
    assert redaction["content"]["reason"] == "Message expired"

    # The timer off again: a notice, and the user's messages go without a timer.
    await alice.request("set_disappearing", jid=ours, expiration=0)
    await user.wait_for_event(room, _body("Turned off disappearing messages"), TIMEOUT)
    await user.send_text(room, "here to stay")
    received = await alice.wait_message(lambda e: text_of(e) == "here to stay", timeout=TIMEOUT)
    info = received["message"].get("extendedTextMessage", {}).get("contextInfo", {})
    assert not info.get("expiration")
