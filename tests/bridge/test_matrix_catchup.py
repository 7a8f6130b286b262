"""Finding the messages the homeserver accepted but never pushed (Synapse's recoverer race):
which events of a room count as missed, and what happens when one turns up after all. The
message and pending tables are real (SQLite and PostgreSQL); the room is a list of events."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from mautrix.types import EventID, RoomID, UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, MessageRow, PortalRow
from mautrix_whatsapp.matrix_catchup import STILL_COMING_MS, MissedEventSweep, NeverDelivered
from mautrix_whatsapp.portal.status import failure_notice

ROOM = RoomID("!portal:example.org")
USER = UserID("@alice:example.org")
GHOST = UserID("@whatsapp_1555:example.org")
BOT = UserID("@whatsappbot:example.org")
STRANGER = UserID("@eve:elsewhere.example")
SINCE = 1_700_000_000_000
CHAT = "1555@s.whatsapp.net"


def _message(event_id: str, ts: int, sender: str = USER, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "m.room.message",
        "room_id": ROOM,
        "sender": sender,
        "origin_server_ts": ts,
        "content": {"msgtype": "m.text", "body": event_id},
        **extra,
    }


class Room:
    """``/messages`` of one room, honouring the filter's types and senders: newest first, two
    events a page; and its joined members."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []  # oldest first
        self.members = [USER, GHOST, STRANGER]
        self.api = self

    async def request(self, method: Any, path: Any, query_params: dict[str, str]) -> Any:
        assert query_params["dir"] == "b"
        only = json.loads(query_params["filter"])
        newest_first = [
            e
            for e in reversed(self.events)
            if e["type"] in only["types"] and e["sender"] in only["senders"]
        ]
        start = int(query_params.get("from", "0"))
        chunk = newest_first[start : start + 2]
        return {"chunk": chunk, "end": str(start + 2) if chunk else None}

    async def get_joined_members(self, room_id: RoomID) -> dict[UserID, object]:
        return {member: object() for member in self.members}


class Portal:
    def __init__(self, room: Room) -> None:
        self.main_intent = room
        self.jobs: list[Callable[[], Awaitable[None]]] = []
        self.queue = self

    def submit(self, job: Callable[[], Awaitable[None]]) -> None:
        self.jobs.append(job)


class Bridge:
    def __init__(self, database: Database, portal: Portal) -> None:
        self.tables = BridgeDB(database)
        self.portal = portal
        self.az = type("AppService", (), {"bot_mxid": BOT})()

    async def get_portal(self, room_id: RoomID) -> Portal | None:
        return self.portal if room_id == ROOM else None

    def is_bridge_ghost(self, user_id: UserID) -> bool:
        return user_id == GHOST

    async def get_user(self, user_id: UserID, create: bool = False) -> object | None:
        return object() if user_id == USER else None


@pytest.fixture
async def world(database: Database) -> AsyncIterator[tuple[MissedEventSweep, Room, Portal]]:
    room = Room()
    portal = Portal(room)
    sweep = MissedEventSweep(cast(Any, Bridge(database, portal)))
    yield sweep, room, portal
    await sweep.stop()


async def test_only_a_bridge_users_message_no_transaction_brought_is_missed(
    world: tuple[MissedEventSweep, Room, Portal], database: Database
) -> None:
    sweep, room, portal = world
    tables = BridgeDB(database)
    arrived = _message("$arrived", SINCE + 1)
    room.events = [
        _message("$before", SINCE - 1),  # before the recovery: not its business
        arrived,
        _message("$sent_before_memory", SINCE + 2),  # bridged, then forgotten by `arrived`
        _message("$pending", SINCE + 3),
        _message("$ghost", SINCE + 6, sender=GHOST),
        _message("$stranger", SINCE + 7, sender=STRANGER),
        _message("$missed", SINCE + 8),
        {**_message("$state", SINCE + 9), "type": "m.room.topic"},
        _message("$young", SINCE + 10_000),  # may still be on its way
    ]
    sweep.arrived([arrived])
    await tables.portals.upsert(PortalRow(jid=CHAT, receiver=CHAT, mxid=ROOM))
    await tables.messages.insert(
        MessageRow(
            chat_jid=CHAT,
            receiver=CHAT,
            sender="1666@s.whatsapp.net",
            id="3EB0AA",
            mxid=EventID("$sent_before_memory"),
            mx_room=ROOM,
            timestamp=SINCE + 2,
        )
    )
    await tables.pending_matrix.insert_many([_message("$pending", SINCE + 3)])

    assert await sweep.sweep(SINCE, SINCE + 10_000) == 1
    assert len(portal.jobs) == 1
    # The next sweep, with the young one old enough, adds it alone.
    assert await sweep.sweep(SINCE, SINCE + 10_000 + STILL_COMING_MS) == 1
    assert len(portal.jobs) == 2
    # Which two: should the homeserver push the room again, only they are dropped.
    still_taken = {e["event_id"] for e in sweep.arrived(room.events)}
    assert {e["event_id"] for e in room.events} - still_taken == {"$missed", "$young"}


async def test_a_reported_message_that_turns_up_after_all_is_dropped(
    world: tuple[MissedEventSweep, Room, Portal],
) -> None:
    sweep, room, _portal = world
    late, other = _message("$late", SINCE + 1), _message("$other", SINCE + 2)
    room.events = [late]
    sweep.room_active(ROOM)
    assert await sweep.sweep(SINCE, SINCE + 60_000) == 1
    assert sweep.arrived([late, other]) == [other]


async def test_rooms_without_activity_since_the_recovery_are_not_read(
    world: tuple[MissedEventSweep, Room, Portal],
) -> None:
    sweep, room, _portal = world
    room.events = [_message("$missed", SINCE + 1)]
    # No transaction and no bridged message touched the room: nothing is read.
    assert await sweep.sweep(SINCE, SINCE + 60_000) == 0


async def test_only_what_the_homeserver_has_pushed_past_is_settled(
    world: tuple[MissedEventSweep, Room, Portal],
) -> None:
    sweep, _room, _portal = world
    assert sweep.settled_until() == 0  # nothing pushed yet: a backlog may be on its way
    sweep.arrived([_message("$backlog", SINCE + 5)])
    assert sweep.settled_until() == SINCE + 5
    sweep.arrived([_message("$live", int(time.time() * 1000))])
    assert sweep.settled_until() <= int(time.time() * 1000) - STILL_COMING_MS


def test_the_notice_tells_the_sender_to_send_again() -> None:
    assert failure_notice(NeverDelivered()) == (
        "Your message was not bridged: the homeserver did not pass it to the bridge in time; "
        "send it again"
    )
