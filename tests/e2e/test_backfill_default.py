"""The backfill after login with the true default config (``dispatch_wait`` 60 s, every chat,
50 messages each), end to end, on an account with 30 chats as a real phone would have them:
DMs and groups, replies, reactions, edits, a photo, the user's own messages, chats about three
months old, chats longer than 50 messages. What the user sees in each room is checked against
what the simulated phone holds."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import login_with_history, sim_admin
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.e2e.test_backfill import _is_space, _room_events, _texts
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401
from tests.whatsapp import media_samples

CHATS = 30
MESSAGE_COUNT = 50
"""``history_sync.message_count``'s default."""
DISPATCH_WAIT_MS = 60_000
"""``history_sync.dispatch_wait``'s default."""
LONG_CHATS = {0, 9, 26}
"""Chats with more messages than are backfilled."""
OLD_CHATS = range(24, CHATS)
"""Chats silent for about three months (inside the phone's 90-day recent window)."""
PHOTO_CHAT = 1
SUMMARY_TIMEOUT = 420.0
BODY = re.compile(r"\bc(\d+) m\d+\b")


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


def _members(index: int) -> list[str]:
    """The contacts of chat ``index``: two in a group (every sixth chat from 2), one in a DM."""
    contact = f"15550041{index:03d}"
    return [contact, f"15550042{index:03d}"] if index % 6 == 2 else [contact]


def _chat(index: int, now: int, photo: bytes) -> dict[str, Any]:
    """Chat ``index`` (0 = most recent): texts ``c{index} m{k}`` from the members and the user
    in turn, 30 s apart; near the end an edited text, a reaction (in groups the user's own too)
    and a reply; a photo from the contact in the photo chat."""
    members = _members(index)
    base = now - 3600 * (index + 1) - (85 * 86400 if index in OLD_CHATS else 0)
    count = 60 if index in LONG_CHATS else 12
    senders = [members[0], "me", *members[1:]]
    messages: list[dict[str, Any]] = []
    for k in range(count):
        message: dict[str, Any] = {
            "id": f"I{index}M{k}",
            "from": senders[k % len(senders)],
            "t": base + 30 * k,
            "text": f"c{index} m{k}",
        }
        if k == count - 5:
            message["edits"] = [f"c{index} m{k} edited"]
        if k == count - 3:
            message["reactions"] = [{"from": members[0], "emoji": "👍"}]
            if len(members) > 1:
                message["reactions"].append({"from": "me", "emoji": "❤️"})
        if k == count - 2:
            message["reply_to"] = f"I{index}M{count - 4}"
        if index == PHOTO_CHAT and k == count - 6:
            message["from"] = members[0]
            del message["text"]
            message["media"] = {
                "type": "image",
                "data": base64.b64encode(photo).decode(),
                "mimetype": "image/jpeg",
                "caption": f"c{index} photo",
            }
        messages.append(message)
    if len(members) > 1:
        return {"group": {"subject": f"Group {index}", "members": members}, "messages": messages}
    return {"with": members[0], "messages": messages}


async def _portals(user: MatrixTestUser, management: str, expected: int) -> list[str]:
    """Join every room the bridge invited the user to; the portals among them (not the space)."""
    joined: set[str] = {management}
    portals: list[str] = []
    deadline = time.monotonic() + 60
    while len(portals) < expected and time.monotonic() < deadline:
        await user.sync_once(timeout_ms=2000)
        for room in [r for r in user.invited_rooms() if r not in joined]:
            if not _is_space(user, room):
                portals.append(room)
            await user.join(room)
            joined.add(room)
    return portals


def _chat_index(events: list[Event]) -> int:
    for event in _texts(events):
        found = BODY.search(str(event["content"].get("body", "")))
        if found:
            return int(found.group(1))
    raise AssertionError(f"no chat text in {events}")


def _stripped(emoji: str) -> str:
    return emoji.replace("\ufe0f", "")


@pytest.mark.timeout(600)
async def test_default_config_backfills_thirty_chats_after_dispatch_wait(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    server = synapse.server_name
    now = int(time.time())
    photo = media_samples.jpeg(64, 48)
    chats = [_chat(i, now, photo) for i in range(CHATS)]
    user, management, phone = await login_with_history(matrix_user, synapse, simulator, chats)

    expected_total = sum(min(len(c["messages"]), MESSAGE_COUNT) for c in chats)
    summary = await user.wait_for_event(
        management,
        lambda e: "Created portals for" in str(e.get("content", {}).get("body")),
        SUMMARY_TIMEOUT,
    )
    body = summary["content"]["body"]
    assert f"Created portals for {CHATS} of {CHATS} chats, {expected_total} messages" in body

    portals = await _portals(user, management, CHATS)
    assert len(portals) == CHATS, portals

    # The phone's last history chunk, then dispatch_wait, then the first portal.
    sent = await sim_admin(simulator, "GET", f"/accounts/{phone}/history-sent")
    last_chunk_ms = max(d["first_last_at"] for d in sent["devices"].values()) * 1000
    assert last_chunk_ms > 0, sent
    timelines = {room: await _room_events(user, room) for room in portals}
    created = [
        next(e["origin_server_ts"] for e in events if e["type"] == "m.room.create")
        for events in timelines.values()
    ]
    assert min(created) >= last_chunk_ms + DISPATCH_WAIT_MS, (min(created), last_chunk_ms)

    own_ghost = f"@whatsapp_{phone}:{server}"

    def ghost(sender: str) -> str:
        return own_ghost if sender == "me" else f"@whatsapp_{sender}:{server}"

    seen: set[int] = set()
    for events in timelines.values():
        index = _chat_index(events)
        assert index not in seen, index
        seen.add(index)
        expected = chats[index]["messages"][-MESSAGE_COUNT:]
        texts = _texts(events)
        assert len(texts) == len(expected), (index, [e["content"].get("body") for e in texts])
        event_of: dict[str, str] = {}
        for event, message in zip(texts, expected, strict=True):
            event_of[message["id"]] = event["event_id"]
            content = event["content"]
            assert event["origin_server_ts"] == message["t"] * 1000, (index, message["id"])
            assert event["sender"] == ghost(message["from"]), (index, message["id"])
            if "media" in message:
                assert content["msgtype"] == "m.image"
                assert await user.download_media(content["url"]) == photo
            elif "edits" in message:
                assert content["body"] == message["edits"][-1]
            elif "reply_to" in message:
                assert content["body"].endswith(message["text"]), content
                target = content.get("m.relates_to", {}).get("m.in_reply_to", {})
                assert target.get("event_id") == event_of[message["reply_to"]], content
            else:
                assert content["body"] == message["text"], (index, content)
        reactions = {
            (
                e["content"]["m.relates_to"]["event_id"],
                e["sender"],
                _stripped(e["content"]["m.relates_to"]["key"]),
            )
            for e in events
            if e["type"] == "m.reaction"
        }
        wanted = {
            (event_of[m["id"]], ghost(r["from"]), _stripped(r["emoji"]))
            for m in expected
            for r in m.get("reactions", [])
        }
        assert reactions == wanted, index
    assert seen == set(range(CHATS))
