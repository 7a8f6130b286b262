"""After login: the phone's history becomes portals, each filled with its last messages, end to
end (a real Synapse, the bridge as a process, the simulator's phone given a past through its
admin API). Contacts are simulator accounts acting through the admin API: no Baileys needed."""

from __future__ import annotations

import base64
import signal
import time
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import bot_notice, qr_login, sim_admin, user_with_management_room, wait_ping
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401
from tests.whatsapp import media_samples

TIMEOUT = 60.0
PER_CHAT = 12
CONTACTS = [f"155500031{n:02d}" for n in range(1, 9)]
"""c1 … c8: c1 most recent; c2 and c3 together in a group; c8 silent for 100 days."""


def _chat_spec(index: int, now: int) -> dict[str, Any]:
    """Chat ``index`` (0 = most recent): 12 texts ``k{index} m{i}``, alternating the contact
    and the user (a group: two members and the user), a reply and a reaction near the end."""
    base = now - 3600 * (index + 1) - (100 * 86400 if index == 6 else 0)
    if index == 1:
        members = [CONTACTS[1], CONTACTS[2]]
        spec: dict[str, Any] = {"group": {"subject": "Backfill group", "members": members}}
    else:
        members = [CONTACTS[index if index < 1 else index + 1]]
        spec = {"with": members[0]}
    senders = [*members, "me"]
    messages: list[dict[str, Any]] = []
    for i in range(PER_CHAT):
        message: dict[str, Any] = {
            "id": f"K{index}M{i}",
            "from": senders[i % len(senders)],
            "t": base + 60 * i,
            "text": f"k{index} m{i}",
        }
        if i == PER_CHAT - 2:
            message["reply_to"] = f"K{index}M{PER_CHAT - 4}"
        if i == PER_CHAT - 3:
            message["reactions"] = [{"from": members[0], "emoji": "👍"}]
        messages.append(message)
    spec["messages"] = messages
    return spec


def _contact_of(index: int) -> str:
    return CONTACTS[index + 1] if index >= 1 else CONTACTS[0]


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


async def _room_events(user: MatrixTestUser, room: str) -> list[Event]:
    """The room's whole timeline, oldest first (``/messages`` backwards, reversed)."""
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages"
    data = await user.request("GET", path, params={"dir": "b", "limit": "500"})
    return list(reversed(data["chunk"]))


def _texts(events: list[Event]) -> list[Event]:
    return [e for e in events if e.get("type") == "m.room.message"]


def _is_space(user: MatrixTestUser, room: str) -> bool:
    return any(
        e.get("type") == "m.room.create" and e.get("content", {}).get("type") == "m.space"
        for e in user.invite_state(room)
    )


async def _new_invite(user: MatrixTestUser, known: set[str]) -> str:
    """The first invite to a room (not a space) not in ``known``, syncing until one comes."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        await user.sync_once(timeout_ms=2000)
        new = [r for r in user.invited_rooms() if r not in known and not _is_space(user, r)]
        if new:
            return new[0]
    raise TimeoutError("no invite to a new room")


async def _wait_kicked(user: MatrixTestUser, room: str) -> None:
    """Until the user's membership of ``room`` is ``leave`` (each try waits on a sync)."""
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/state/m.room.member/"
    path += quote(user.user_id, safe="")
    for _ in range(60):
        if (await user.request("GET", path)).get("membership") == "leave":
            return
        await user.sync_once(1000)
    raise AssertionError(f"{user.user_id} is still in {room}")


async def _join_new_rooms(user: MatrixTestUser, known: set[str]) -> list[str]:
    await user.sync_once()
    rooms = [r for r in user.invited_rooms() if r not in known]
    for room in rooms:
        await user.join(room)
        known.add(room)
    return rooms


@pytest.mark.parametrize(
    "bridge_overrides",
    [
        {
            "bridge.history_sync.max_initial_conversations": 5,
            "bridge.history_sync.message_count": 10,
            "bridge.history_sync.dispatch_wait": "2s",
        }
    ],
)
async def test_history_becomes_portals_with_their_last_messages(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    server = synapse.server_name
    bot = synapse.bot_mxid
    now = int(time.time())
    account = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
    phone = account["phone"]
    chats = [_chat_spec(i, now) for i in range(7)]
    imported = await sim_admin(
        simulator, "POST", f"/accounts/{phone}/history", json={"chats": chats}
    )
    assert imported["messages"] == 7 * PER_CHAT
    # Quiet at login, so the broken chunk comes first and the real history after it.
    await sim_admin(simulator, "POST", f"/accounts/{phone}/history-silent", json={"silent": True})
    user, management = await user_with_management_room(matrix_user, synapse)
    scan = await qr_login(user, management, bot, simulator)
    await wait_ping(user, management, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")

    # Bad input: a truncated chunk is reported in the management room, the rest still bridges.
    await sim_admin(
        simulator,
        "POST",
        "/devices/history-corrupt",
        json={"jid": scan["jid"], "kind": "truncated"},
    )
    await user.wait_for_event(
        management, bot_notice(bot, "could not be read", "still bridged"), TIMEOUT
    )
    await sim_admin(simulator, "POST", "/devices/history-bootstrap", json={"jid": scan["jid"]})

    # A live message in a chosen chat while portals are being made lands after its history.
    await user.wait_for_event(
        management, bot_notice(bot, "Creating portals: 0 of 5 chats"), TIMEOUT
    )
    live = await sim_admin(
        simulator, "POST", f"/accounts/{_contact_of(4)}/send", json={"to": phone, "text": "live 4"}
    )
    summary = await user.wait_for_event(
        management,
        lambda e: "Created portals for 5 of 5 chats" in str(e.get("content")),
        TIMEOUT,
    )
    assert "50 messages" in str(summary["content"]), summary

    # Exactly the 5 most recent chats have portals (and the space holding them).
    known = {management}
    rooms = await _join_new_rooms(user, known)
    spaces = [r for r in rooms if _is_space(user, r)]
    portals = [r for r in rooms if r not in spaces]
    assert len(spaces) == 1 and len(portals) == 5, rooms
    space_state = await user.request(
        "GET", f"/_matrix/client/v3/rooms/{quote(spaces[0], safe='')}/state"
    )
    children = {e["state_key"] for e in space_state if e["type"] == "m.space.child"}
    assert children == set(portals)
    by_chat: dict[int, list[Event]] = {}
    room_of: dict[int, str] = {}
    for room in portals:
        texts = _texts(await _room_events(user, room))
        index = int(texts[0]["content"]["body"].split()[0][1:])
        by_chat[index] = texts
        room_of[index] = room
    assert sorted(by_chat) == [0, 1, 2, 3, 4]

    own_ghost = f"@whatsapp_{phone}:{server}"
    for index, texts in by_chat.items():
        spec = chats[index]["messages"][-10:]
        history = texts[:10]
        assert [e["content"]["body"] for e in history][:-2] == [m["text"] for m in spec][:-2]
        for event, message in zip(history, spec, strict=True):
            assert event["origin_server_ts"] == message["t"] * 1000
            sender = (
                own_ghost if message["from"] == "me" else f"@whatsapp_{message['from']}:{server}"
            )
            assert event["sender"] == sender, (event, message)
        # The reply points at the bridged target, within the backfilled history.
        reply = history[-2]
        target = history[-4]
        relates = reply["content"].get("m.relates_to", {})
        assert relates.get("m.in_reply_to", {}).get("event_id") == target["event_id"]
        assert reply["content"]["body"].endswith(f"k{index} m{PER_CHAT - 2}")

    # The reaction came along, on the right message.
    all_4 = await _room_events(user, room_of[4])
    reacted = _texts(all_4)[7]
    reactions = [e for e in all_4 if e.get("type") == "m.reaction"]
    assert [r["content"]["m.relates_to"]["event_id"] for r in reactions] == [reacted["event_id"]]
    # (with the variation selector Matrix clients expect, as live reactions get it)
    assert reactions[0]["content"]["m.relates_to"]["key"].rstrip("\ufe0f") == "👍"
    # The live message: once, after the history.
    bodies = [e["content"]["body"] for e in by_chat[4]]
    assert bodies.count("live 4") == 1 and bodies[-1] == "live 4", bodies
    assert by_chat[4][-1]["origin_server_ts"] == int(live["t"]) * 1000

    # Another chat gets its portal when a message arrives: stored history first, live last.
    await sim_admin(
        simulator, "POST", f"/accounts/{_contact_of(5)}/send", json={"to": phone, "text": "live 5"}
    )
    room_5 = await _new_invite(user, known)
    await user.join(room_5)
    await user.wait_for_event(
        room_5, lambda e: e.get("content", {}).get("body") == "live 5", TIMEOUT
    )
    bodies = [e["content"]["body"] for e in _texts(await _room_events(user, room_5))]
    expected = [m["text"] for m in chats[5]["messages"][-10:]]
    assert bodies[:-1][:8] == expected[:8] and bodies[-1] == "live 5", bodies
    assert len(bodies) == 11

    # A deleted portal made again is filled again, from the phone (on-demand history).
    known.add(room_5)
    await user.send_text(room_of[0], "!wa delete-portal")
    await _wait_kicked(user, room_of[0])
    await sim_admin(
        simulator, "POST", f"/accounts/{_contact_of(0)}/send", json={"to": phone, "text": "again"}
    )
    fresh = await _new_invite(user, known)
    await user.join(fresh)
    await user.wait_for_event(fresh, lambda e: e["content"].get("body") == "again", TIMEOUT)
    bodies = [e["content"]["body"] for e in _texts(await _room_events(user, fresh))]
    history_0 = [m["text"] for m in chats[0]["messages"]]
    # The last 10 before the live message (which may itself be the tenth), then it, once.
    assert bodies[-1] == "again" and bodies.count("again") == 1, bodies
    assert len(bodies) >= 10 and bodies[:-1] == history_0[-(len(bodies) - 1) :], bodies


DEFAULT_CHATS = 10
DEFAULT_PER_CHAT = 30


def _default_chat(index: int, now: int, photo: bytes) -> dict[str, Any]:
    """Chat ``index`` of the default-config account: 30 messages each (split by the phone
    between its first and its recent chunk), groups at 3 and 7, chats 6 to 9 two months old,
    a photo from the contact in chat 0."""
    base = now - 3600 * (index + 1) - (60 * 86400 if index >= 6 else 0)
    contact = f"155500032{index:02d}"
    if index in (3, 7):
        other = f"155500033{index:02d}"
        spec: dict[str, Any] = {
            "group": {"subject": f"Group {index}", "members": [contact, other]}
        }
        senders = [contact, "me", other]
    else:
        spec = {"with": contact}
        senders = [contact, "me"]
    messages: list[dict[str, Any]] = [
        {"id": f"D{index}M{i}", "from": senders[i % len(senders)], "t": base + 30 * i}
        | {"text": f"d{index} m{i}"}
        for i in range(DEFAULT_PER_CHAT)
    ]
    if index == 0:
        messages[DEFAULT_PER_CHAT - 5].pop("text")
        messages[DEFAULT_PER_CHAT - 5]["media"] = {
            "type": "image",
            "data": base64.b64encode(photo).decode(),
            "mimetype": "image/jpeg",
            "caption": "d0 photo",
        }
    spec["messages"] = messages
    return spec


@pytest.mark.parametrize("bridge_overrides", [{"bridge.history_sync.dispatch_wait": "1s"}])
async def test_default_backfill_survives_a_kill(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    """Default config (but a short ``dispatch_wait``): every chat gets a portal with all its
    messages, in order, from the right ghosts, with media; the bridge killed in the middle of
    the backfill completes every portal after a restart, nothing missing or doubled."""
    server = synapse.server_name
    bot = synapse.bot_mxid
    now = int(time.time())
    photo = media_samples.jpeg(64, 48)
    account = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
    phone = account["phone"]
    chats = [_default_chat(i, now, photo) for i in range(DEFAULT_CHATS)]
    await sim_admin(simulator, "POST", f"/accounts/{phone}/history", json={"chats": chats})
    user, management = await user_with_management_room(matrix_user, synapse)
    await qr_login(user, management, bot, simulator)

    # Killed once the first portal is being filled.
    started = bot_notice(bot, f"Creating portals: 0 of {DEFAULT_CHATS} chats")
    await user.wait_for_event(management, started, TIMEOUT)
    first = await _new_invite(user, {management})
    await user.join(first)  # killed once it is saved and filling (not between the two)
    await user.wait_for_event(first, lambda e: e.get("type") == "m.room.message", TIMEOUT)
    assert bridge.process is not None
    bridge.process.send_signal(signal.SIGKILL)
    bridge.process.wait()
    bridge.start()
    await user.wait_for_event(
        management, lambda e: "Created portals for" in str(e.get("content")), TIMEOUT * 2
    )

    rooms = [first, *await _join_new_rooms(user, {management, first})]
    portals = [r for r in rooms if not _is_space(user, r)]
    assert len(portals) == DEFAULT_CHATS, rooms
    own_ghost = f"@whatsapp_{phone}:{server}"
    seen: set[int] = set()
    for room in portals:
        texts = _texts(await _room_events(user, room))
        index = int(texts[0]["content"]["body"].split()[0][1:])
        seen.add(index)
        expected = chats[index]["messages"]
        assert len(texts) == len(expected), [e["content"].get("body") for e in texts]
        for event, message in zip(texts, expected, strict=True):
            assert event["origin_server_ts"] == message["t"] * 1000
            ghost = f"@whatsapp_{message['from']}:{server}"
            assert event["sender"] == (own_ghost if message["from"] == "me" else ghost)
            if "media" in message:
                assert event["content"]["msgtype"] == "m.image"
                assert await user.download_media(event["content"]["url"]) == photo
            else:
                assert event["content"]["body"] == message["text"]
    assert seen == set(range(DEFAULT_CHATS))
