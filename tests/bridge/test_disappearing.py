"""Disappearing messages and read state, on the real database (SQLite and PostgreSQL) with fake
Matrix intents: the tables, the expiry loop (also what a previous process scheduled), timer
changes from WhatsApp messages and the timer on messages going to WhatsApp."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from mautrix.types import EventID, EventType, RoomID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, MessageRow, PortalRow
from mautrix_whatsapp.db.disappearing import PortalTimer
from mautrix_whatsapp.portal import PlainTextToMatrix, PlainTextToWhatsApp, Portal
from mautrix_whatsapp.portal.disappearing import (
    EXPIRED_REASON,
    DisappearingLoop,
    add_expiration,
    after_matrix_message,
    after_whatsapp_message,
    timer_change_of,
    timer_of,
)
from mautrix_whatsapp.session import MessageReceived
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

CONTACT = "15550001111@s.whatsapp.net"
ME = "15559990000@s.whatsapp.net"
ROOM = RoomID("!dm:example.org")
T = 1_700_000_000


@dataclass
class FakeIntent:
    mxid: str = "@ghost:example.org"
    redacted: list[tuple[RoomID, EventID, str | None]] = field(default_factory=list)
    sent: list[tuple[EventType, Any]] = field(default_factory=list)
    redaction: asyncio.Event = field(default_factory=asyncio.Event)

    async def redact(self, room_id: RoomID, event_id: EventID, reason: str | None = None) -> None:
        self.redacted.append((room_id, event_id, reason))
        self.redaction.set()

    async def send_message_event(
        self, room_id: RoomID, event_type: EventType, content: Any, **_: Any
    ) -> EventID:
        self.sent.append((event_type, content))
        return EventID(f"$sent{len(self.sent)}")


class FakeBridge:
    def __init__(self, database: Database) -> None:
        self.db = database
        self.tables = BridgeDB(database)
        self.intent = FakeIntent()
        self.az = type("AZ", (), {"intent": self.intent})()
        self.portal: Portal | None = None
        self.portals = self
        self.disappearing = DisappearingLoop(cast(Any, self))

    async def get_by_mxid(self, room_id: RoomID) -> Portal | None:
        return self.portal if self.portal is not None and self.portal.mxid == room_id else None


async def _portal(database: Database) -> tuple[Portal, FakeBridge]:
    bridge = FakeBridge(database)
    row = PortalRow(jid=CONTACT, receiver=ME, mxid=ROOM)
    await bridge.tables.portals.upsert(row)
    portal = Portal(cast(Any, bridge), row, PlainTextToMatrix(), PlainTextToWhatsApp())
    bridge.portal = portal
    return portal, bridge


def _received(msg_id: str, message: wa_e2e_pb2.Message, ts: float = T) -> MessageReceived:
    return MessageReceived(
        chat=CONTACT,
        sender=CONTACT,
        id=msg_id,
        timestamp=ts,
        is_from_me=False,
        is_group=False,
        message=message,
    )


def _ephemeral_text(text: str, seconds: int, set_at: int = 0) -> wa_e2e_pb2.Message:
    info = wa_e2e_pb2.ContextInfo(expiration=seconds, ephemeralSettingTimestamp=set_at)
    inner = wa_e2e_pb2.Message(
        extendedTextMessage=wa_e2e_pb2.ExtendedTextMessage(text=text, contextInfo=info)
    )
    return wa_e2e_pb2.Message(ephemeralMessage=wa_e2e_pb2.FutureProofMessage(message=inner))


def _timer_setting(seconds: int, set_at: int = 0) -> wa_e2e_pb2.Message:
    protocol = wa_e2e_pb2.ProtocolMessage(
        type=wa_e2e_pb2.ProtocolMessage.EPHEMERAL_SETTING,
        ephemeralExpiration=seconds,
        ephemeralSettingTimestamp=set_at,
    )
    return wa_e2e_pb2.Message(protocolMessage=protocol)


async def _store(bridge: FakeBridge, msg_id: str, mxid: str, ts: int, sender: str) -> None:
    row = MessageRow(CONTACT, ME, sender, msg_id, EventID(mxid), ROOM, ts)
    await bridge.tables.messages.insert(row)


# ---- tables ----------------------------------------------------------------------------


async def test_portal_timer_is_kept_apart_from_the_portal_row(database: Database) -> None:
    portal, bridge = await _portal(database)
    table = bridge.tables.disappearing
    assert await table.get_timer(CONTACT, ME) == PortalTimer()
    await table.set_timer(CONTACT, ME, PortalTimer(86400, T))
    portal.row.name = "renamed"
    await portal.save()  # the portal's own upsert must not reset the timer
    assert await table.get_timer(CONTACT, ME) == PortalTimer(86400, T)
    assert await table.get_timer("nobody@s.whatsapp.net", ME) == PortalTimer()


async def test_expiry_queries(database: Database) -> None:
    table = BridgeDB(database).disappearing
    assert await table.next_expiry() is None
    await table.insert(ROOM, EventID("$late"), T + 50)
    await table.insert(ROOM, EventID("$early"), T + 10)
    await table.insert(ROOM, EventID("$early"), T + 5)  # rescheduled, not duplicated
    assert await table.next_expiry() == T + 5
    assert [r.event_id for r in await table.get_expired(T + 10)] == ["$early"]
    await table.delete(ROOM, EventID("$early"))
    assert [r.event_id for r in await table.get_expired(T + 100)] == ["$late"]


async def test_own_read_keeps_the_newest_and_unread_leaves_out_the_reader(
    database: Database,
) -> None:
    _, bridge = await _portal(database)
    table = bridge.tables.disappearing
    user = "@me:example.org"
    await table.set_own_read(user, CONTACT, ME, "B", 2000)
    await table.set_own_read(user, CONTACT, ME, "A", 1000)  # older: ignored
    assert await table.get_own_read(user, CONTACT, ME) == ("B", 2000)
    for msg_id, ts, sender in (
        ("A", 1000, CONTACT),
        ("B", 2000, CONTACT),
        ("MINE", 2500, ME),
        ("call-XYZ", 2600, CONTACT),
        ("C", 3000, CONTACT),
        ("D", 4000, CONTACT),
    ):
        await _store(bridge, msg_id, f"${msg_id}", ts, sender)
    unread = await table.unread_between(CONTACT, ME, 1000, 3000, ME)
    assert unread == [(CONTACT, "B"), (CONTACT, "C")]


# ---- the loop --------------------------------------------------------------------------


async def test_loop_redacts_what_a_previous_process_scheduled_and_what_comes_due(
    database: Database,
) -> None:
    _, bridge = await _portal(database)
    now = int(time.time())
    # Scheduled "before a restart": one already overdue.
    await bridge.tables.disappearing.insert(ROOM, EventID("$overdue"), now - 30)
    loop = bridge.disappearing
    loop.start()
    try:
        await asyncio.wait_for(bridge.intent.redaction.wait(), 10)
        assert bridge.intent.redacted == [(ROOM, EventID("$overdue"), EXPIRED_REASON)]
        bridge.intent.redaction.clear()
        # One added while the loop sleeps with nothing to do: it wakes up for it.
        await loop.add(ROOM, EventID("$soon"), int(time.time()) + 1)
        await asyncio.wait_for(bridge.intent.redaction.wait(), 10)
        assert bridge.intent.redacted[-1] == (ROOM, EventID("$soon"), EXPIRED_REASON)
        # The loop is sequential: once a later one is redacted, the earlier rows are gone.
        bridge.intent.redaction.clear()
        await loop.add(ROOM, EventID("$now"), int(time.time()))
        await asyncio.wait_for(bridge.intent.redaction.wait(), 10)
        left = await bridge.tables.disappearing.get_expired(int(time.time()) + 3600)
        assert {r.event_id for r in left} <= {EventID("$now")}
        assert len(bridge.intent.redacted) == 3
    finally:
        await loop.stop()


# ---- timers from WhatsApp --------------------------------------------------------------


def test_timer_of_messages() -> None:
    assert timer_of(_ephemeral_text("x", 3600, T)) == (3600, T)
    assert timer_of(wa_e2e_pb2.Message(conversation="plain")) == (0, 0)
    assert timer_change_of(_timer_setting(604800, T)) == (604800, T)
    assert timer_change_of(_ephemeral_text("x", 3600)) is None


async def test_timer_change_is_stored_unless_older(database: Database) -> None:
    portal, bridge = await _portal(database)
    table = bridge.tables.disappearing
    await after_whatsapp_message(portal, _received("S1", _timer_setting(86400, T)))
    assert await table.get_timer(CONTACT, ME) == PortalTimer(86400, T)
    await after_whatsapp_message(portal, _received("S2", _timer_setting(0, T - 100)))
    assert await table.get_timer(CONTACT, ME) == PortalTimer(86400, T)
    await after_whatsapp_message(portal, _received("S3", _timer_setting(0)))  # no timestamp
    assert await table.get_timer(CONTACT, ME) == PortalTimer(0, 0)


async def test_disappearing_message_is_scheduled_per_part(database: Database) -> None:
    portal, bridge = await _portal(database)
    await _store(bridge, "M1", "$part0", T * 1000, CONTACT)
    await bridge.tables.messages.insert(
        MessageRow(CONTACT, ME, CONTACT, "M1", EventID("$part1"), ROOM, T * 1000, part=1)
    )
    await after_whatsapp_message(portal, _received("M1", _ephemeral_text("bye", 3600)))
    rows = await bridge.tables.disappearing.get_expired(T + 3600)
    assert sorted(r.event_id for r in rows) == ["$part0", "$part1"]
    assert {r.expire_at for r in rows} == {T + 3600}
    # Without a newer setting timestamp, the message's timer doesn't change the chat's.
    assert await bridge.tables.disappearing.get_timer(CONTACT, ME) == PortalTimer()
    assert bridge.intent.sent == []


async def test_newer_implied_timer_changes_the_chat_with_a_notice(database: Database) -> None:
    portal, bridge = await _portal(database)
    await _store(bridge, "M2", "$m2", T * 1000, CONTACT)
    await after_whatsapp_message(portal, _received("M2", _ephemeral_text("hi", 604800, T)))
    assert await bridge.tables.disappearing.get_timer(CONTACT, ME) == PortalTimer(604800, T)
    [(event_type, content)] = bridge.intent.sent
    assert event_type == EventType.ROOM_MESSAGE
    assert content["body"] == (
        "Automatically enabled disappearing message timer (7 days) because incoming message "
        "is disappearing"
    )
    assert content["com.beeper.action_message"]["implicit"] is True


# ---- timers to WhatsApp ----------------------------------------------------------------


async def test_messages_to_whatsapp_carry_the_chats_timer(database: Database) -> None:
    portal, bridge = await _portal(database)
    plain = wa_e2e_pb2.Message(conversation="no timer yet")
    assert await add_expiration(portal, plain) == 0
    assert plain.conversation == "no timer yet"
    await bridge.tables.disappearing.set_timer(CONTACT, ME, PortalTimer(86400, T))
    message = wa_e2e_pb2.Message(conversation="with a timer")
    assert await add_expiration(portal, message) == 86400
    assert not message.HasField("conversation")
    assert message.extendedTextMessage.text == "with a timer"
    assert message.extendedTextMessage.contextInfo.expiration == 86400
    location = wa_e2e_pb2.Message(
        locationMessage=wa_e2e_pb2.LocationMessage(degreesLatitude=1.0, degreesLongitude=2.0)
    )
    await add_expiration(portal, location)
    assert location.locationMessage.contextInfo.expiration == 86400


@pytest.mark.parametrize("seconds", [0, 60])
async def test_sent_matrix_messages_disappear_only_with_a_timer(
    database: Database, seconds: int
) -> None:
    portal, bridge = await _portal(database)
    await after_matrix_message(portal, ROOM, EventID("$mine"), T, seconds)
    expected = [EventID("$mine")] if seconds else []
    assert [r.event_id for r in await bridge.tables.disappearing.get_expired(T + 60)] == expected
