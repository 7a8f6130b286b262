"""Groups end to end: a group with the bridge user, Baileys (Alice) and a simulated phone (Pat);
messages between all three; membership, admins, name, topic and picture both ways; refusals as
notices; the user removed from the group; and ``create-group`` from a Matrix room."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from PIL import Image

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import dm_world
from tests.e2e.helpers import command, sim_admin
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

ALICE = "15550003001"
PAT = "15550003002"
TIMEOUT = 60.0


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


World = tuple[BaileysPeer, MatrixTestUser, str, str]


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[World]:
    """Alice on Baileys, Pat as a simulated phone, and a linked Matrix user:
    ``(alice, user, management room, the user's phone)``."""
    await sim_admin(simulator, "POST", "/accounts", json={"phone": PAT, "push_name": "Pat"})
    async for w in dm_world(synapse, simulator, matrix_user, tmp_path, alice_phone=ALICE):
        yield w.alice, w.user, w.management, w.phone


def ghost(synapse: SynapseInfo, phone: str) -> str:
    return f"@whatsapp_{phone}:{synapse.server_name}"


def jpeg(colour: tuple[int, int, int], side: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, format="JPEG")
    return out.getvalue()


def state(event_type: str, check: Callable[[dict[str, Any]], bool]) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.get("type") == event_type and check(event.get("content", {}))

    return match


def levels_of(user_id: str, level: int | None) -> Callable[[Event], bool]:
    """A power-levels event giving ``user_id`` that level (None: no entry)."""
    return state("m.room.power_levels", lambda c: c.get("users", {}).get(user_id) == level)


def member(user_id: str, membership: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return (
            event.get("type") == "m.room.member"
            and event.get("state_key") == user_id
            and event.get("content", {}).get("membership") == membership
        )

    return match


def notice(*needles: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        body = event.get("content", {}).get("body", "")
        return event.get("content", {}).get("msgtype") == "m.notice" and all(
            n in body for n in needles
        )

    return match


async def put_state(user: MatrixTestUser, room: str, event_type: str, content: Any) -> None:
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/state/{event_type}/"
    await user.request("PUT", path, json=content)


async def get_state(user: MatrixTestUser, room: str, event_type: str, key: str = "") -> Any:
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/state/{event_type}/{quote(key)}"
    return await user.request("GET", path)


async def wait_kicked(user: MatrixTestUser, room: str) -> dict[str, Any]:
    """The user's own membership once it is no longer join (a kicked user's sync shows the room
    under ``leave``, which the test client doesn't keep; the state API still answers)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        content: dict[str, Any] = await get_state(user, room, "m.room.member", user.user_id)
        if content.get("membership") != "join":
            return content
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{user.user_id} is still in {room}")
        await asyncio.sleep(0.2)


async def wait_group(
    simulator: SimulatorInfo, jid: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The simulator's view of the group, polled until ``check`` accepts it."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        group: dict[str, Any] = await sim_admin(simulator, "GET", f"/groups/{jid}")
        if check(group):
            return group
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the group stayed {group}")
        await asyncio.sleep(0.2)


def participant(group: dict[str, Any], phone: str) -> dict[str, Any] | None:
    return next((p for p in group["participants"] if p["phone"] == phone), None)


async def pat_received(simulator: SimulatorInfo, message_id: str) -> dict[str, Any]:
    path = f"/accounts/{PAT}/received?id={message_id}&timeout=30"
    got: dict[str, Any] = await sim_admin(simulator, "GET", path)
    return next(m for m in got["messages"] if m["id"] == message_id)


async def test_group_both_ways(
    world: World, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    alice, user, management, our_phone = world
    alice_ghost, pat_ghost = ghost(synapse, ALICE), ghost(synapse, PAT)
    ours, pat = f"{our_phone}@s.whatsapp.net", f"{PAT}@s.whatsapp.net"
    group = await alice.group_create("Trip", [ours, pat])
    jid = group["id"]

    # Being added makes the portal at once (no message needed), named after the group, with
    # the members' ghosts in it and the creator as moderator.
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert room != management
    names = [
        e["content"].get("name") for e in user.invite_state(room) if e["type"] == "m.room.name"
    ]
    assert names == ["Trip"]
    await user.join(room)
    await user.wait_for_event(room, member(alice_ghost, "join"), TIMEOUT)
    await user.wait_for_event(room, member(pat_ghost, "join"), TIMEOUT)
    levels = await user.wait_for_event(
        room, state("m.room.power_levels", lambda c: alice_ghost in c.get("users", {})), TIMEOUT
    )
    assert levels["content"]["users"][alice_ghost] == 50
    assert pat_ghost not in levels["content"]["users"]

    # Everyone sees everyone: Pat's phone, Alice on Baileys, the user on Matrix.
    sent = await sim_admin(
        simulator, "POST", f"/accounts/{PAT}/send", json={"to": jid, "text": "Pat here"}
    )
    from_pat = await user.wait_for_event(room, lambda e: text_of_event(e) == "Pat here", TIMEOUT)
    assert from_pat["sender"] == pat_ghost
    await alice.wait_message(lambda e: text_of(e) == "Pat here", timeout=TIMEOUT)
    assert sent["chat"] == jid
    key = await alice.send_text(jid, "Alice here")
    from_alice = await user.wait_for_event(
        room, lambda e: text_of_event(e) == "Alice here", TIMEOUT
    )
    assert from_alice["sender"] == alice_ghost
    assert text_of_message(await pat_received(simulator, key["id"])) == "Alice here"
    await user.send_text(room, "Matrix here")
    received = await alice.wait_message(lambda e: text_of(e) == "Matrix here", timeout=TIMEOUT)
    assert received["key"]["remoteJid"] == jid
    assert text_of_message(await pat_received(simulator, received["key"]["id"])) == "Matrix here"

    # WhatsApp → Matrix: name, topic, admins and removal, each from Alice's ghost.
    await alice.group_update_subject(jid, "Trip 2027")
    renamed = await user.wait_for_event(
        room, state("m.room.name", lambda c: c.get("name") == "Trip 2027"), TIMEOUT
    )
    assert renamed["sender"] == alice_ghost
    await alice.group_update_description(jid, "Bring boots")
    topic = await user.wait_for_event(
        room, state("m.room.topic", lambda c: c.get("topic") == "Bring boots"), TIMEOUT
    )
    assert topic["sender"] == alice_ghost
    await alice.group_participants_update(jid, [pat], "promote")
    await user.wait_for_event(
        room,
        state("m.room.power_levels", lambda c: c.get("users", {}).get(pat_ghost) == 50),
        TIMEOUT,
    )
    await alice.group_participants_update(jid, [pat], "demote")
    await user.wait_for_event(
        room, state("m.room.power_levels", lambda c: pat_ghost not in c.get("users", {})), TIMEOUT
    )
    await alice.group_participants_update(jid, [pat], "remove")
    kicked = await user.wait_for_event(room, member(pat_ghost, "leave"), TIMEOUT)
    assert kicked["sender"] == alice_ghost
    await alice.group_participants_update(jid, [pat], "add")
    await user.wait_for_event(room, member(pat_ghost, "join"), TIMEOUT)
    await alice.group_participants_update(jid, [pat], "remove")
    await user.wait_for_event(room, member(pat_ghost, "leave"), TIMEOUT)

    # Matrix → WhatsApp refused: the user isn't an admin, so adding Pat back fails with a notice
    # and the ghost doesn't stay.
    await user.invite(room, pat_ghost)
    refused = await user.wait_for_event(room, notice("Couldn't add", "only admins"), TIMEOUT)
    assert refused["sender"] == synapse.bot_mxid
    await user.wait_for_event(room, member(pat_ghost, "leave"), TIMEOUT)
    assert participant(await sim_admin(simulator, "GET", f"/groups/{jid}"), PAT) is None

    # Once Alice makes the user an admin, the user's Matrix actions reach WhatsApp.
    await alice.group_participants_update(jid, [ours], "promote")
    await user.wait_for_event(
        room,
        state("m.room.power_levels", lambda c: c.get("users", {}).get(user.user_id) == 50),
        TIMEOUT,
    )
    await user.invite(room, pat_ghost)
    await user.wait_for_event(room, member(pat_ghost, "join"), TIMEOUT)
    await wait_group(simulator, jid, lambda g: participant(g, PAT) is not None)

    await user.request(
        "POST",
        f"/_matrix/client/v3/rooms/{quote(room, safe='')}/kick",
        json={"user_id": pat_ghost, "reason": "bye"},
    )
    await wait_group(simulator, jid, lambda g: participant(g, PAT) is None)
    await user.invite(room, pat_ghost)
    await wait_group(simulator, jid, lambda g: participant(g, PAT) is not None)
    await user.wait_for_event(room, member(pat_ghost, "join"), TIMEOUT)
    levels = await get_state(user, room, "m.room.power_levels")
    levels["users"][pat_ghost] = 50
    await put_state(user, room, "m.room.power_levels", levels)
    await wait_group(simulator, jid, lambda g: (participant(g, PAT) or {}).get("admin") == "admin")

    await put_state(user, room, "m.room.name", {"name": "Trip from Matrix"})
    update = await alice.wait_for(
        lambda e: (
            e.get("event") == "groups.update"
            and any(g.get("subject") == "Trip from Matrix" for g in e["data"])
        ),
        timeout=TIMEOUT,
    )
    assert update["data"][0]["id"] == jid
    await put_state(user, room, "m.room.topic", {"topic": "Bring tents"})
    await wait_group(simulator, jid, lambda g: g["description"] == "Bring tents")

    picture = jpeg((200, 30, 30))
    mxc = await user.upload(picture, "image/jpeg", "red.jpg")
    await put_state(user, room, "m.room.avatar", {"url": mxc})
    await wait_group(simulator, jid, lambda g: bool(g.get("picture_id")))
    assert await download_group_picture(simulator, jid) == picture

    # A picture set on WhatsApp becomes the room's avatar, from Alice's ghost.
    blue = jpeg((30, 30, 200))
    picture_id = await alice.request(
        "group_set_picture", jid=jid, jpeg=base64.b64encode(blue).decode()
    )
    assert picture_id
    avatar = await user.wait_for_event(
        room, state("m.room.avatar", lambda c: bool(c.get("url")) and c["url"] != mxc), TIMEOUT
    )
    assert avatar["sender"] == alice_ghost
    assert await user.download_media(avatar["content"]["url"]) == blue

    # Pat leaving on WhatsApp: Pat's ghost leaves the room itself.
    await sim_admin(simulator, "POST", f"/groups/{jid}/leave", json={"phone": PAT})
    await user.wait_for_event(
        room, lambda e: member(pat_ghost, "leave")(e) and e["sender"] == pat_ghost, TIMEOUT
    )

    # The user removed from the group on WhatsApp is kicked from the room, with the reason.
    await alice.group_participants_update(jid, [ours], "remove")
    gone = await wait_kicked(user, room)
    assert gone == {"membership": "leave", "reason": "You were removed from the WhatsApp group"}


async def test_create_group_from_a_matrix_room(
    world: World, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    """``create-group`` in a room with Alice's and Pat's ghosts makes a WhatsApp group named
    and described after the room; the room is its portal from then on."""
    alice, user, _, our_phone = world
    alice_ghost, pat_ghost = ghost(synapse, ALICE), ghost(synapse, PAT)
    bot = synapse.bot_mxid
    room = await user.create_room(name="Book club", invite=[bot])
    await user.wait_for_join(room, bot, timeout=TIMEOUT)
    await put_state(user, room, "m.room.topic", {"topic": "One book a month"})
    for ghost_id in (alice_ghost, pat_ghost):
        await user.invite(room, ghost_id)
        await user.wait_for_join(room, ghost_id, timeout=TIMEOUT)

    reply = await command(
        user, room, bot, "!wa create-group", "Successfully created WhatsApp group", timeout=TIMEOUT
    )
    jid = reply["content"]["body"].split("`")[1]
    # The bot joined the user's room without power: the reply says what to give it.
    assert "Give the bridge bot power level 100 in this room" in reply["content"]["body"]
    assert jid.endswith("@g.us")
    group = await wait_group(simulator, jid, lambda g: g["description"] == "One book a month")
    assert group["subject"] == "Book club"
    assert {p["phone"] for p in group["participants"]} == {our_phone, ALICE, PAT}
    assert (participant(group, our_phone) or {}).get("admin") == "superadmin"
    joined = await alice.wait_for(
        lambda e: e.get("event") == "groups.upsert" and e["data"][0]["id"] == jid,
        timeout=TIMEOUT,
    )
    assert joined["data"][0]["subject"] == "Book club"

    # The room is the group's portal: messages go both ways in it, and no second room appears.
    await alice.send_text(jid, "Hello club")
    message = await user.wait_for_event(room, lambda e: text_of_event(e) == "Hello club", TIMEOUT)
    assert message["sender"] == alice_ghost
    await user.send_text(room, "Welcome")
    received = await alice.wait_message(lambda e: text_of(e) == "Welcome", timeout=TIMEOUT)
    assert received["key"]["remoteJid"] == jid
    await user.wait_for_event(room, lambda e: text_of_event(e) == "Welcome", TIMEOUT)
    texts = [text_of_event(e) for e in user.events(room) if text_of_event(e) in WORDS]
    assert texts == ["Hello club", "Welcome"]
    # The same command again is refused.
    await command(user, room, bot, "!wa create-group", "This room is already a portal room.")


WORDS = ("Hello club", "Welcome")


def text_of_event(event: Event) -> str | None:
    if event.get("type") != "m.room.message":
        return None
    body = event.get("content", {}).get("body")
    return body if isinstance(body, str) else None


def text_of_message(received: dict[str, Any]) -> str | None:
    message = received.get("message", {})
    text = message.get("conversation") or message.get("extendedTextMessage", {}).get("text")
    return text if isinstance(text, str) else None


async def download_group_picture(simulator: SimulatorInfo, jid: str) -> bytes:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{simulator.admin_url}/groups/{jid}/picture", ssl=simulator.ssl_context() or True
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.read()
