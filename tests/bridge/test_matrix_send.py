"""A part whose send failed in an outage is looked for before it is sent again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from mautrix.errors import MatrixConnectionError
from mautrix.types import EventID, EventType, RoomID, UserID

from mautrix_whatsapp.matrix_catchup import MissedEventSweep
from mautrix_whatsapp.portal.matrix_send import TXN_ID_KEY, send_part

ROOM = RoomID("!room:example.org")
GHOST = UserID("@whatsapp_1555:example.org")


class FakeApi:
    """``/messages``: the events the homeserver persisted, newest first."""

    def __init__(self, room: list[dict[str, Any]]) -> None:
        self.room = room
        self.lookups = 0

    async def request(self, method: Any, path: Any, query_params: dict[str, str]) -> Any:
        self.lookups += 1
        assert query_params["dir"] == "b"
        return {"chunk": list(reversed(self.room))}


class HomeserverThatStops:
    """Persists the first send, then drops the connection before answering (a restart)."""

    def __init__(self) -> None:
        self.mxid = GHOST
        self.room: list[dict[str, Any]] = []
        self.api = FakeApi(self.room)
        self.stop_after_persisting = True

    async def send_message_event(
        self, room_id: RoomID, event_type: EventType, content: Any, **kwargs: Any
    ) -> EventID:
        event_id = EventID(f"$e{len(self.room)}")
        self.room.append({"event_id": event_id, "sender": GHOST, "content": dict(content)})
        if self.stop_after_persisting:
            self.stop_after_persisting = False
            raise MatrixConnectionError("Server disconnected")
        return event_id


class FakePortal:
    def __init__(self) -> None:
        self.uncertain_sends: set[str] = set()
        self.log = logging.getLogger("test.portal")
        self.missed = MissedEventSweep(cast(Any, None))
        self.bridge = SimpleNamespace(matrix_events=SimpleNamespace(missed=self.missed))


async def _send(portal: FakePortal, homeserver: HomeserverThatStops, txn_id: str) -> EventID:
    content = {"msgtype": "m.text", "body": "hi"}
    return await send_part(
        portal,  # type: ignore[arg-type]
        homeserver,  # type: ignore[arg-type]
        ROOM,
        EventType.ROOM_MESSAGE,
        content,
        1_700_000_000_000,
        txn_id,
    )


@pytest.fixture
async def portal() -> AsyncIterator[FakePortal]:
    portal = FakePortal()
    yield portal
    await portal.missed.stop()


async def test_a_part_persisted_before_an_outage_is_found_not_sent_twice(
    portal: FakePortal,
) -> None:
    homeserver = HomeserverThatStops()
    with pytest.raises(MatrixConnectionError):
        await _send(portal, homeserver, "txn-1")
    assert portal.uncertain_sends == {"txn-1"}
    assert portal.missed.sweeps_scheduled == 0  # the homeserver is still away
    assert await _send(portal, homeserver, "txn-1") == EventID("$e0")
    assert portal.missed.sweeps_scheduled == 1  # it answers again: look for what it hid
    assert len(homeserver.room) == 1
    assert homeserver.room[0]["content"][TXN_ID_KEY] == "txn-1"
    assert portal.uncertain_sends == set()


async def test_a_part_that_never_landed_is_sent_again(portal: FakePortal) -> None:
    homeserver = HomeserverThatStops()
    with pytest.raises(MatrixConnectionError):
        await _send(portal, homeserver, "txn-1")
    homeserver.room.clear()  # the homeserver lost it
    assert await _send(portal, homeserver, "txn-1") == EventID("$e0")
    assert homeserver.api.lookups == 1
    assert len(homeserver.room) == 1


async def test_a_send_without_an_outage_needs_no_lookup(portal: FakePortal) -> None:
    homeserver = HomeserverThatStops()
    homeserver.stop_after_persisting = False
    await _send(portal, homeserver, "txn-2")
    assert homeserver.api.lookups == 0
    assert portal.missed.sweeps_scheduled == 0
