"""The simulated phone's history syncs, read by a client we did not write: Baileys 7.0.0-rc14.

An account is given ~50 chats (DMs and groups, an image, reactions, edits, replies, a pinned, an
archived and a muted chat, and messages older than the recent window) through the admin API;
then Baileys links to it. What Baileys emits as ``messaging-history.set`` must be exactly what
the phone's memory holds within what the companion's config allows: Baileys asks for a full
sync but by default does not process ``FULL`` chunks, so it gets the recent window (90 days)
through ``INITIAL_BOOTSTRAP`` and ``RECENT``, push names, and the PN↔LID mappings. Then its
``fetchMessageHistory`` gets exactly the next N older messages of a chat, matched by request id.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.baileys_fixtures import sim_tls
from tests.baileys_peer import BaileysPeer, Event
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp.test_client_helpers import admin

__all__ = ["sim_tls"]  # fixture used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

PHONE = "15550006001"
DAY = 86400
INITIAL_BOOTSTRAP, RECENT, PUSH_NAME, NON_BLOCKING_DATA, ON_DEMAND = 0, 3, 4, 5, 6
NOW = int(time.time())
WAIT = 30.0
IMAGE = b"\xff\xd8\xff fake jpeg" * 20


def _contact(n: int) -> str:
    return str(15550006100 + n)


def _past() -> dict[str, Any]:
    """35 DMs and 15 groups; every 7th DM also has a message 200 days old (outside the window)."""
    image = base64.b64encode(IMAGE).decode()
    chats: list[dict[str, Any]] = []
    for n in range(35):
        other = _contact(n)
        messages: list[dict[str, Any]] = [
            {
                "id": f"D{n}-{i}",
                "from": other if i % 2 else "me",
                "t": NOW - n * 3600 - (30 - i) * 60,
                "text": f"dm {n} message {i}",
            }
            for i in range(30 if n == 0 else 4)
        ]
        messages[1]["reactions"] = [
            {"from": "me", "emoji": "👍"},
        ]
        messages[2]["edits"] = [f"dm {n} edited"]
        messages[3]["reply_to"] = messages[1]["id"]
        if n % 5 == 0:
            messages.append(
                {
                    "id": f"D{n}-img",
                    "from": other,
                    "t": NOW - n * 3600,
                    "media": {
                        "type": "image",
                        "data": image,
                        "mimetype": "image/jpeg",
                        "caption": f"photo {n}",
                    },
                }
            )
        if n == 0:
            messages[:0] = [
                {
                    "id": f"D0-old{k}",
                    "from": other,
                    "t": NOW - 200 * DAY + k * 60,
                    "text": f"old {k}",
                }
                for k in range(12)
            ]
        elif n % 7 == 0:
            messages.insert(
                0, {"id": f"D{n}-old", "from": other, "t": NOW - 200 * DAY, "text": "old"}
            )
        chat: dict[str, Any] = {"with": other, "name": f"Contact {n}", "messages": messages}
        if n == 1:
            chat["pinned"] = True
        if n == 2:
            chat.update(archived=True, muted_until=NOW + DAY, unread=3)
        chats.append(chat)
    for g in range(15):
        members = [_contact(g), _contact(g + 1), _contact(40 + g)]
        chats.append(
            {
                "group": {"subject": f"Group {g}", "members": members},
                "messages": [
                    {
                        "id": f"G{g}-{i}",
                        "from": (["me", *members])[i % 4],
                        "t": NOW - 40 * 3600 - g * 600 - (40 - i) * 30,
                        "text": f"group {g} message {i}",
                        **({"reactions": [{"from": members[0], "emoji": "😂"}]} if i == 5 else {}),
                    }
                    for i in range(40 if g == 0 else 6)
                ],
            }
        )
    return {"chats": chats}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def linked(
    sim_tls: SimulatorInfo, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[BaileysPeer, dict[str, Any]]]:
    """The account with its past, then Baileys linked to it; and the phone's memory."""
    status, body = await admin(sim_tls, "POST", "/accounts", {"phone": PHONE, "push_name": "Hana"})
    assert status == 200, body
    status, imported = await admin(sim_tls, "POST", f"/accounts/{PHONE}/history", _past())
    assert status == 200, imported
    status, memory = await admin(sim_tls, "GET", f"/accounts/{PHONE}/chats")
    assert status == 200
    auth = tmp_path_factory.mktemp("hana")
    async with BaileysPeer.start(sim_tls, push_name="Hana", auth_dir=auth, phone=PHONE) as peer:
        yield peer, memory


async def _history_sets(peer: BaileysPeer, expected: set[tuple[str, str]]) -> list[Event]:
    """``messaging-history.set`` events of the first-login syncs until every expected message
    came (Baileys buffers them while it syncs app state: a set may hold several chunks)."""
    sets: list[Event] = []
    got: set[tuple[str, str]] = set()
    while not expected <= got:
        event = await peer.wait_for(
            lambda e: e["event"] == "messaging-history.set" and e["syncType"] != ON_DEMAND, WAIT
        )
        sets.append(event)
        got |= {(m["key"]["remoteJid"], m["key"]["id"]) for m in event["messages"]}
    return sets


def _status_of(sync_type: int, event: Event) -> bool:
    return bool(event["event"] == "messaging-history.status" and event["syncType"] == sync_type)


async def test_baileys_receives_the_history_the_config_allows(
    sim_tls: SimulatorInfo, linked: tuple[BaileysPeer, dict[str, Any]]
) -> None:
    peer, memory = linked
    window = NOW - 90 * DAY
    expected = {
        (chat["jid"], m["id"]): m
        for chat in memory["chats"]
        for m in chat["messages"]
        if m["t"] >= window
    }
    assert len(expected) > 250
    sets = await _history_sets(peer, set(expected))
    # Both phases reached their end as Baileys sees it: the bootstrap, and RECENT at 100 %.
    for sync_type in (INITIAL_BOOTSTRAP, RECENT):
        status = await peer.wait_for(functools.partial(_status_of, sync_type), WAIT)
        assert status["status"] == "complete" and status["explicit"] is True, status
    assert {s["syncType"] for s in sets} <= {
        INITIAL_BOOTSTRAP,
        PUSH_NAME,
        NON_BLOCKING_DATA,
        RECENT,
    }
    got = {(m["key"]["remoteJid"], m["key"]["id"]): m for s in sets for m in s["messages"]}
    assert set(got) == set(expected)
    assert not any("-old" in key[1] for key in got)

    for key, theirs in got.items():
        ours = expected[key]
        assert theirs["key"]["fromMe"] == ours["from_me"], key
        assert theirs["messageTimestamp"] == ours["t"], key
        if key[0].endswith("@g.us") and not ours["from_me"]:
            assert theirs["key"]["participant"] == ours["from"], key
        if not ours["from_me"]:
            assert theirs["pushName"] == ours["push_name"], key
    dm = "15550006100@s.whatsapp.net"
    # An edited message is kept as its last edit (a MESSAGE_EDIT of itself).
    edit = got[(dm, "D0-2")]["message"]["editedMessage"]["message"]["protocolMessage"]
    assert edit["key"]["id"] == "D0-2" and edit["editedMessage"]["conversation"] == "dm 0 edited"
    assert got[(dm, "D0-3")]["message"]["extendedTextMessage"]["contextInfo"]["stanzaId"] == "D0-1"
    [reaction] = got[(dm, "D0-1")]["reactions"]
    assert reaction["text"] == "👍" and reaction["key"]["fromMe"] is True
    image = got[(dm, "D0-img")]["message"]["imageMessage"]
    assert image["caption"] == "photo 0" and image["mimetype"] == "image/jpeg"
    assert image["directPath"] and image["mediaKey"]
    # The imported photo, as an upload would have left it: Baileys downloads it byte-identical.
    downloaded = await peer.request("media_download", key={"id": "D0-img"})
    assert base64.b64decode(downloaded["sha256"]) == hashlib.sha256(IMAGE).digest()

    chats = {c["id"]: c for s in sets for c in s["chats"]}
    assert set(chats) == {chat["jid"] for chat in memory["chats"]}
    names = {chat["jid"]: chat["name"] for chat in memory["chats"]}
    assert all(chats[jid]["name"] == name for jid, name in names.items())
    assert chats[_contact(1) + "@s.whatsapp.net"]["pinned"]
    archived = chats[_contact(2) + "@s.whatsapp.net"]
    assert archived["archived"] is True and archived["unreadCount"] == 3
    # The history's Conversation.muteEndTime is in seconds; the phone's app-state mute action
    # says the same in milliseconds, and Baileys folds that into the history set it still
    # buffers when its app-state sync ends first. Either way it is the same moment.
    assert archived["muteEndTime"] in (NOW + DAY, (NOW + DAY) * 1000)

    contacts: dict[str, dict[str, Any]] = {}
    for contact in (c for s in sets for c in s["contacts"]):  # merged, as Baileys' store does
        contacts.setdefault(contact["id"], {}).update(contact)
    assert contacts[dm].get("name") == "Contact 0"
    senders = {m["from"] for m in expected.values() if not m["from_me"]}
    assert {jid for jid in senders if contacts.get(jid, {}).get("notify")} == senders
    pn_users = [jid.split("@")[0] for jid in names if jid.endswith("@s.whatsapp.net")]
    stored = await peer.request("stored_lids", users=[PHONE, *pn_users])
    assert stored[PHONE] == peer.me["lid"].split("@")[0].split(":")[0]
    assert all(stored[user] for user in pn_users), stored
    # Only the first bootstrap chunk was inline: Baileys downloaded the rest from the media
    # server (its media host leads to the simulator, see peer_history.mjs).
    _, media = await admin(sim_tls, "GET", "/media")
    assert sum(blob["type"] == "md-msg-hist" for blob in media["blobs"]) >= 3


async def test_fetch_message_history_gets_exactly_the_next_older_messages(
    linked: tuple[BaileysPeer, dict[str, Any]],
) -> None:
    """Older than the recent window, so Baileys never had them (it drops history messages it
    already has, even from an on-demand answer)."""
    peer, memory = linked
    chat = next(chat for chat in memory["chats"] if chat["name"] == "Contact 0")
    anchor = next(m for m in chat["messages"] if m["id"] == "D0-0")
    key = {"remoteJid": chat["jid"], "fromMe": anchor["from_me"], "id": anchor["id"]}
    request_id = await peer.request("fetch_history", count=7, key=key, timestamp=anchor["t"])
    answer = await peer.wait_for(
        lambda e: (
            e["event"] == "messaging-history.set" and e["peerDataRequestSessionId"] == request_id
        ),
        WAIT,
    )
    assert answer["syncType"] == ON_DEMAND
    assert [m["key"]["id"] for m in answer["messages"]] == [f"D0-old{k}" for k in range(11, 4, -1)]
    # The chat itself Baileys knows already (from the bootstrap), so it may drop it here.
    assert all(c["id"] == chat["jid"] for c in answer["chats"])
