"""The phone's state of its chats mirrored on the user's own Matrix account, end to end: a
double-puppeted user (the config's ``as_token:`` secret) logs in to a phone whose history has a
read chat, an unread one, an unread one older than ``unread_hours_threshold``, one marked unread
by hand, a muted, a pinned and an archived chat; the test reads, with the user's own account,
their read markers, room push rules, room tags and ``m.marked_unread``. Then the phone changes
settings (pin, mute, read) and the same things follow."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import qr_login, sim_admin, user_with_management_room, wait_ping
from tests.e2e.matrix_client import MatrixRequestError, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

TIMEOUT = 60.0
CHATS = ("read", "unread", "stale", "marked", "muted", "pinned", "archived")
LATER = "later"
"""The least recent chat: no portal at login (``max_initial_conversations``)."""
CONTACTS = {name: f"155500042{n:02d}" for n, name in enumerate((*CHATS, LATER), start=1)}
PINNED_TAG = "m.favourite"
ARCHIVE_TAG = "m.lowpriority"


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    return simulator_tls


@pytest.fixture
def bridge_overrides(synapse: SynapseInfo) -> dict[str, Any]:
    secret = f"as_token:{synapse.double_puppet_as_token}"
    return {
        "double_puppet.secrets": {synapse.server_name: secret},
        "bridge.history_sync.dispatch_wait": "2s",
        "bridge.history_sync.max_initial_conversations": len(CHATS),
        "bridge.history_sync.unread_hours_threshold": 24,
        "bridge.mute_bridging": True,
        "bridge.pinned_tag": PINNED_TAG,
        "bridge.archive_tag": ARCHIVE_TAG,
    }


def _chat_spec(name: str, now: int) -> dict[str, Any]:
    """Three messages from the contact (so no read receipt comes with the user's own)."""
    base = now - {"stale": 3 * 86400, LATER: 10 * 86400}.get(name, 3600)
    unread = name in ("unread", "stale")
    spec: dict[str, Any] = {
        "with": CONTACTS[name],
        "messages": [
            {
                "id": f"{name.upper()}{i}",
                "from": CONTACTS[name],
                "t": base + 60 * i,
                "text": f"{name} m{i}",
                "unread": unread and i > 0,
            }
            for i in range(3)
        ],
    }
    if name == "marked":
        spec["marked_unread"] = True
    if name == "muted":
        spec["muted_until"] = -1
    if name == "pinned":
        spec["pinned"] = True
    if name == "archived":
        spec["archived"] = True
    return spec


async def _get(user: MatrixTestUser, path: str) -> dict[str, Any] | None:
    """A GET that may answer 404 (None)."""
    try:
        return dict(await user.request("GET", path))
    except MatrixRequestError as e:
        if e.status == 404:
            return None
        raise


def _room_path(user: MatrixTestUser, room: str) -> str:
    return f"/_matrix/client/v3/user/{quote(user.user_id)}/rooms/{quote(room, safe='')}"


async def _fully_read(user: MatrixTestUser, room: str) -> str | None:
    marker = await _get(user, _room_path(user, room) + "/account_data/m.fully_read")
    return None if marker is None else str(marker.get("event_id"))


async def _marked_unread(user: MatrixTestUser, room: str) -> bool | None:
    data = await _get(user, _room_path(user, room) + "/account_data/m.marked_unread")
    return None if data is None else bool(data.get("unread"))


async def _tags(user: MatrixTestUser, room: str) -> set[str]:
    data = await _get(user, _room_path(user, room) + "/tags")
    return set((data or {}).get("tags", {}))


async def _push_rule(user: MatrixTestUser, room: str) -> list[Any] | None:
    rule = await _get(user, f"/_matrix/client/v3/pushrules/global/room/{quote(room, safe='')}")
    return None if rule is None else list(rule["actions"])


async def _until(user: MatrixTestUser, what: str, check: Callable[[], Awaitable[bool]]) -> None:
    """Until ``check`` holds, each try after a sync (which returns as soon as anything,
    e.g. account data, changes)."""
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"never: {what}")
        await user.sync_once(2000)


async def _portals(user: MatrixTestUser) -> dict[str, tuple[str, str]]:
    """Chat name → (room, its last message's event ID), over the rooms the user's account
    joined (the double puppet accepted the invites) that hold a backfilled chat."""
    joined = await user.request("GET", "/_matrix/client/v3/joined_rooms")
    found: dict[str, tuple[str, str]] = {}
    for room in joined["joined_rooms"]:
        path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages"
        data = await user.request("GET", path, params={"dir": "b", "limit": "50"})
        texts = [e for e in data["chunk"] if e.get("type") == "m.room.message"]
        name = str(texts[0]["content"].get("body", "")).split(" ")[0] if texts else ""
        if name in (*CHATS, LATER):
            found[name] = (room, texts[0]["event_id"])  # newest first
    return found


async def test_chat_state_is_mirrored_through_the_double_puppet(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    bot = synapse.bot_mxid
    now = int(time.time())
    account = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
    phone = account["phone"]
    chats = [_chat_spec(name, now) for name in (*CHATS, LATER)]
    await sim_admin(simulator, "POST", f"/accounts/{phone}/history", json={"chats": chats})
    user, management = await user_with_management_room(matrix_user, synapse)
    await qr_login(user, management, bot, simulator)
    await wait_ping(user, management, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")
    await user.wait_for_event(
        management,
        lambda e: f"Created portals for {len(CHATS)} of {len(CHATS)} chats" in str(e["content"]),
        TIMEOUT,
    )
    portals = await _portals(user)
    assert sorted(portals) == sorted(CHATS), portals
    room = {name: portals[name][0] for name in CHATS}
    last = {name: portals[name][1] for name in CHATS}

    # Read on the phone (or older than the threshold): read up to the last message.
    for name in ("read", "stale", "muted", "pinned", "archived"):
        assert await _fully_read(user, room[name]) == last[name], name
    for name in ("unread", "marked"):
        assert await _fully_read(user, room[name]) is None, name
    assert await _marked_unread(user, room["marked"]) is True
    assert await _marked_unread(user, room["unread"]) is None

    # Muted: a room rule that doesn't notify; the others have none.
    assert await _push_rule(user, room["muted"]) == ["dont_notify"]
    for name in ("read", "unread", "pinned", "archived"):
        assert await _push_rule(user, room[name]) is None, name

    # Pinned and archived: the configured tags, nowhere else.
    assert await _tags(user, room["pinned"]) == {PINNED_TAG}
    assert await _tags(user, room["archived"]) == {ARCHIVE_TAG}
    for name in ("read", "unread", "muted", "marked"):
        assert await _tags(user, room[name]) == set(), name

    # Live, from the phone's app state: pin one chat, unpin another, mute one, unmute one,
    # read the one marked unread.
    async def settings(name: str, **body: Any) -> None:
        jid = f"{CONTACTS[name]}@s.whatsapp.net"
        await sim_admin(simulator, "POST", f"/accounts/{phone}/chats/{jid}/settings", json=body)

    await settings(LATER, pinned=True)  # before the others: the same collection, in order
    await settings("read", pinned=True)
    await settings("pinned", pinned=False)
    await settings("unread", muted=True)
    await settings("muted", muted=False)
    await settings("marked", read=True)

    async def pinned_moved() -> bool:
        return await _tags(user, room["read"]) == {PINNED_TAG} and not await _tags(
            user, room["pinned"]
        )

    async def mute_moved() -> bool:
        return await _push_rule(user, room["unread"]) == ["dont_notify"] and (
            await _push_rule(user, room["muted"]) is None
        )

    async def marked_read() -> bool:
        return await _fully_read(user, room["marked"]) == last["marked"] and (
            await _marked_unread(user, room["marked"]) is False
        )

    await _until(user, "the pin moved to the read chat", pinned_moved)
    await _until(user, "the mute moved to the unread chat", mute_moved)
    await _until(user, "the chat marked unread was read", marked_read)
    assert await _tags(user, room["archived"]) == {ARCHIVE_TAG}

    # A chat pinned while it had no portal: its portal, made by a new message, is pinned.
    contact = CONTACTS[LATER]
    await sim_admin(
        simulator, "POST", f"/accounts/{contact}/send", json={"to": phone, "text": "later live"}
    )

    async def later_portal() -> bool:
        return LATER in await _portals(user)

    await _until(user, "the later chat's portal", later_portal)
    later_room = (await _portals(user))[LATER][0]
    await _until(user, "the later chat is pinned", lambda: _has_tags(user, later_room))


async def _has_tags(user: MatrixTestUser, room: str) -> bool:
    return await _tags(user, room) == {PINNED_TAG}
