"""Receipts, typing, call notices and the status broadcast room on the bridge side: the
session's translation of client events, the portal's handling with the real message table
(SQLite and PostgreSQL) and fake Matrix and WhatsApp ends, and the user's routing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from mautrix.types import EventID, EventType, MessageType, RoomID, UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.config import Config
from mautrix_whatsapp.db import BridgeDB, MessageRow, PortalRow, UserRow
from mautrix_whatsapp.msgconv.to_matrix import VIEW_ONCE_RECEIVED, VIEW_ONCE_SENT
from mautrix_whatsapp.portal import (
    PlainTextToMatrix,
    PlainTextToWhatsApp,
    Portal,
    status_broadcast,
)
from mautrix_whatsapp.portal.converters import MsgconvToMatrix
from mautrix_whatsapp.portal.receipts import (
    handle_call_offer,
    handle_matrix_receipt,
    handle_whatsapp_receipt,
)
from mautrix_whatsapp.portal.typing import MatrixTyping, handle_whatsapp_typing, send_typing
from mautrix_whatsapp.session import (
    CallOffer,
    ChatTyping,
    MessageReceived,
    ReceiptReceived,
    SendFailed,
)
from mautrix_whatsapp.user import User
from mautrix_whatsapp.wa_session import translate_event
from mautrix_whatsapp.whatsapp import call
from mautrix_whatsapp.whatsapp import events as ev
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

CONTACT = "15550001111@s.whatsapp.net"
OTHER = "15550002222@s.whatsapp.net"
ME = "15559990000@s.whatsapp.net"
GROUP = "120363025246125888@g.us"
ROOM = RoomID("!room:example.org")
T = 1_700_000_000


# ---- translation -----------------------------------------------------------------------


def test_read_receipts_are_translated_and_others_dropped() -> None:
    at = datetime.fromtimestamp(T, UTC)
    receipt = ev.Receipt(
        chat=JID.parse(CONTACT),
        sender=JID.parse("15550001111:2@s.whatsapp.net"),
        is_from_me=False,
        is_group=False,
        message_ids=("A", "B"),
        timestamp=at,
        type="read",
    )
    assert translate_event(receipt) == ReceiptReceived(
        chat=CONTACT,
        sender=CONTACT,
        message_ids=("A", "B"),
        timestamp=T,
        is_from_me=False,
        is_group=False,
    )
    own = ev.Receipt(JID.parse(CONTACT), JID.parse(ME), True, False, ("A",), at, "read-self")
    translated = translate_event(own)
    assert isinstance(translated, ReceiptReceived) and translated.is_from_me
    for other in ("", "played", "sender", "retry"):
        kind = ev.Receipt(JID.parse(CONTACT), JID.parse(CONTACT), False, False, ("A",), at, other)
        assert translate_event(kind) is None


def test_chat_presence_and_calls_are_translated() -> None:
    composing = ev.ChatPresence(
        JID.parse(GROUP), JID.parse("15550001111:3@s.whatsapp.net"), False, True, "composing"
    )
    assert translate_event(composing) == ChatTyping(GROUP, CONTACT, True, True, False)
    recording = ev.ChatPresence(
        JID.parse(CONTACT), JID.parse(CONTACT), False, False, "composing", "audio"
    )
    assert translate_event(recording) == ChatTyping(CONTACT, CONTACT, False, True, True)
    paused = ev.ChatPresence(JID.parse(CONTACT), JID.parse(CONTACT), False, False, "paused")
    assert translate_event(paused) == ChatTyping(CONTACT, CONTACT, False, False, False)
    at = datetime.fromtimestamp(T, UTC)
    offer = call.CallOffer(JID.parse(CONTACT), at, JID.parse("15550001111:5@s.whatsapp.net"), "C1")
    assert translate_event(offer) == CallOffer(CONTACT, CONTACT, "C1", T, "")
    group_call = call.CallOffer(
        JID.parse(CONTACT),
        at,
        JID.parse(CONTACT),
        "C2",
        group=JID.parse(GROUP),
        is_notice=True,
        media="audio",
        type="group",
    )
    assert translate_event(group_call) == CallOffer(GROUP, CONTACT, "C2", T, "group")
    end = call.CallTerminate(JID.parse(CONTACT), at, JID.parse(CONTACT), "C1")
    assert translate_event(end) is None


# ---- the portal side -------------------------------------------------------------------


@dataclass
class FakeIntent:
    mxid: str
    log: list[tuple[str, Any]] = field(default_factory=list)

    async def ensure_joined(self, room_id: RoomID, bot: Any = None) -> bool:
        return True

    async def mark_read(self, room_id: RoomID, event_id: EventID) -> None:
        self.log.append((self.mxid, ("read", event_id)))

    async def set_typing(self, room_id: RoomID, timeout: int = 0) -> None:
        self.log.append((self.mxid, ("typing", timeout)))

    async def send_message_event(
        self, room_id: RoomID, event_type: EventType, content: Any, timestamp: int | None = None
    ) -> EventID:
        self.log.append((self.mxid, ("send", content, timestamp)))
        return EventID(f"$call{len(self.log)}")


@dataclass
class FakeSession:
    fail: bool = False
    read: list[tuple[str, str | None, list[str]]] = field(default_factory=list)
    typing: list[tuple[str, bool]] = field(default_factory=list)

    async def mark_read(
        self, chat: str, sender: str | None, message_ids: list[str], timestamp: float
    ) -> None:
        if self.fail:
            raise SendFailed("not connected to WhatsApp")
        self.read.append((chat, sender, message_ids))

    async def send_typing(self, chat: str, typing: bool) -> None:
        if self.fail:
            raise SendFailed("not connected to WhatsApp")
        self.typing.append((chat, typing))


class FakeBridge:
    def __init__(self, database: Database, config: dict[str, Any] | None = None) -> None:
        self.tables = BridgeDB(database)
        self.log: list[tuple[str, Any]] = []
        self.az = type("AZ", (), {"intent": FakeIntent("@bot:x", self.log)})()
        self.config = config or {"bridge.call_start_notices": True}

    async def get_puppet_by_jid(self, jid: str) -> Any:
        user = jid.split("@")[0].split(":")[0]
        return type("Puppet", (), {"intent": FakeIntent(f"@whatsapp_{user}:x", self.log)})()


async def _portal(database: Database, jid: str = CONTACT) -> tuple[Portal, FakeBridge]:
    bridge = FakeBridge(database)
    row = PortalRow(jid=jid, receiver="" if jid == GROUP else ME, mxid=ROOM)
    await bridge.tables.portals.upsert(row)
    portal = Portal(cast(Any, bridge), row, PlainTextToMatrix(), PlainTextToWhatsApp())
    return portal, bridge


def _user(session: FakeSession | None = None, wa_jid: str = "15559990000:4@s.whatsapp.net") -> Any:
    return type("User", (), {"mxid": UserID("@me:x"), "wa_jid": wa_jid, "session": session})()


async def _store(
    portal: Portal, msg_id: str, ts: int, sender: str = CONTACT, part: int = 0
) -> EventID:
    mxid = EventID(f"${msg_id}.{part}")
    row = MessageRow(portal.jid, portal.receiver, sender, msg_id, mxid, ROOM, ts, part)
    await portal.bridge.tables.messages.insert(row)
    return mxid


async def test_contact_read_marks_the_newest_bridged_part(database: Database) -> None:
    portal, bridge = await _portal(database)
    await _store(portal, "OLD", 1000, ME)
    await _store(portal, "NEW", 2000, ME)
    last = await _store(portal, "NEW", 2000, ME, part=1)
    receipt = ReceiptReceived(CONTACT, CONTACT, ("OLD", "NEW", "UNKNOWN"), T, False, False)
    await handle_whatsapp_receipt(portal, _user(), receipt)
    assert bridge.log == [("@whatsapp_15550001111:x", ("read", last))]
    # Nothing bridged: nothing to mark.
    await handle_whatsapp_receipt(
        portal, _user(), ReceiptReceived(CONTACT, CONTACT, ("X",), T, False, False)
    )
    assert len(bridge.log) == 1


async def test_own_read_on_the_phone_is_stored(database: Database) -> None:
    portal, bridge = await _portal(database)
    await _store(portal, "IN", 3000)
    receipt = ReceiptReceived(CONTACT, ME, ("IN",), T, True, False)
    await handle_whatsapp_receipt(portal, _user(), receipt)
    assert bridge.log == []  # no ghost reads for the user
    assert await bridge.tables.disappearing.get_own_read("@me:x", CONTACT, ME) == ("IN", 3000)


async def test_matrix_read_marks_others_messages_since_the_last_read(database: Database) -> None:
    portal, _ = await _portal(database, GROUP)
    now = int(time.time() * 1000)
    await _store(portal, "A1", now - 3000, CONTACT)
    await _store(portal, "MINE", now - 2500, ME)
    await _store(portal, "B1", now - 2000, OTHER)
    target = await _store(portal, "A2", now - 1000, CONTACT)
    later = await _store(portal, "A3", now, CONTACT)
    session = FakeSession()
    await handle_matrix_receipt(portal, _user(session), target)
    assert sorted(session.read) == [(GROUP, CONTACT, ["A1", "A2"]), (GROUP, OTHER, ["B1"])]
    # Again on the same event: already read. Then further: only what's new.
    await handle_matrix_receipt(portal, _user(session), target)
    assert len(session.read) == 2
    await handle_matrix_receipt(portal, _user(session), later)
    assert session.read[-1] == (GROUP, CONTACT, ["A3"])
    # Not a bridged event, a failing session, no session: nothing breaks.
    await handle_matrix_receipt(portal, _user(session), EventID("$unknown"))
    await handle_matrix_receipt(portal, _user(FakeSession(fail=True)), later)
    await handle_matrix_receipt(portal, _user(None), later)
    assert len(session.read) == 3


async def test_matrix_read_in_another_users_dm_is_ignored(database: Database) -> None:
    portal, _ = await _portal(database)
    target = await _store(portal, "X", int(time.time() * 1000))
    session = FakeSession()
    await handle_matrix_receipt(portal, _user(session, "15558887777:1@s.whatsapp.net"), target)
    assert session.read == []


async def test_typing_both_ways(database: Database) -> None:
    portal, bridge = await _portal(database)
    await handle_whatsapp_typing(portal, ChatTyping(CONTACT, CONTACT, False, True))
    await handle_whatsapp_typing(portal, ChatTyping(CONTACT, CONTACT, False, False))
    ghost = "@whatsapp_15550001111:x"
    assert bridge.log == [(ghost, ("typing", 15000)), (ghost, ("typing", 0))]
    session = FakeSession()
    await send_typing(portal, _user(session), True)
    await send_typing(portal, _user(session), False)
    await send_typing(portal, _user(FakeSession(fail=True)), True)  # logged, not raised
    assert session.typing == [(CONTACT, True), (CONTACT, False)]


def test_matrix_typing_sends_only_changes() -> None:
    typing = MatrixTyping()
    a, b = UserID("@a:x"), UserID("@b:x")
    assert typing.changes(ROOM, [a]) == ({a}, set())
    assert typing.changes(ROOM, [a, b]) == ({b}, set())
    assert typing.changes(ROOM, [b]) == (set(), {a})
    assert typing.changes(ROOM, []) == (set(), {b})
    assert typing.changes(ROOM, []) == (set(), set())


async def test_call_offer_notice_once_and_not_when_old_or_off(database: Database) -> None:
    portal, bridge = await _portal(database)
    now = time.time()
    offer = CallOffer(CONTACT, CONTACT, "CALL1", now)
    await handle_call_offer(portal, _user(), offer)
    await handle_call_offer(portal, _user(), offer)  # redelivered: no second notice
    [(sender, (_, content, timestamp))] = bridge.log
    assert sender == "@whatsapp_15550001111:x"
    assert content["body"] == "Incoming call. Use the WhatsApp app to answer."
    assert timestamp == int(now * 1000)
    await handle_call_offer(portal, _user(), CallOffer(CONTACT, CONTACT, "OLD", now - 3600))
    bridge.config["bridge.call_start_notices"] = False
    await handle_call_offer(portal, _user(), CallOffer(CONTACT, CONTACT, "OFF", now))
    assert len(bridge.log) == 1
    group = CallOffer(GROUP, CONTACT, "G1", now, "group")
    bridge.config["bridge.call_start_notices"] = True
    await handle_call_offer(portal, _user(), group)
    assert bridge.log[-1][1][1]["body"] == ("Incoming group call. Use the WhatsApp app to answer.")


# ---- status broadcast ------------------------------------------------------------------


@dataclass
class RoutingPortals:
    asked: list[tuple[str, str]] = field(default_factory=list)
    handled: list[MessageReceived] = field(default_factory=list)

    async def get_by_jid(self, jid: str, receiver: str, create: bool = True) -> Any:
        self.asked.append((jid, receiver))
        handled = self.handled

        class _Portal:
            mxid = ROOM  # an existing room: ensure_room has nothing to do

            async def accept_whatsapp_message(self, source: Any, message: MessageReceived) -> None:
                handled.append(message)

        return _Portal()


class RoutingBridge:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.az = type("AZ", (), {"intent": None})()
        self.loop = None
        self.portals = RoutingPortals()


@pytest.mark.parametrize("enabled", [False, True])
async def test_status_broadcasts_only_when_enabled(config: Config, enabled: bool) -> None:
    assert config["bridge.enable_status_broadcast"] is False  # off by default
    config["bridge.enable_status_broadcast"] = enabled
    bridge = RoutingBridge(config)
    user = User(cast(Any, bridge), UserRow(mxid=UserID("@me:x"), wa_jid=ME))
    status = MessageReceived(
        chat="status@broadcast",
        sender=CONTACT,
        id="S1",
        timestamp=T,
        is_from_me=False,
        is_group=True,
        message=wa_e2e_pb2.Message(conversation="my status"),
    )
    await user.handle_event(status)
    assert bridge.portals.handled == ([status] if enabled else [])
    assert bridge.portals.asked == ([("status@broadcast", ME)] if enabled else [])


async def test_status_room_send_is_refused_by_default(config: Config) -> None:
    assert config["bridge.disable_status_broadcast_send"] is True
    portal = type(
        "P", (), {"jid": "status@broadcast", "bridge": type("B", (), {"config": config})()}
    )()
    with pytest.raises(SendFailed, match="disabled"):
        status_broadcast.check_send(cast(Any, portal))
    config["bridge.disable_status_broadcast_send"] = False
    status_broadcast.check_send(cast(Any, portal))


# ---- view-once -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("disabled", "from_me", "expected"),
    [
        (True, False, VIEW_ONCE_RECEIVED),
        (True, True, VIEW_ONCE_SENT),
        (False, False, None),  # bridged as the media it is (as mautrix-whatsapp by default)
    ],
)
async def test_view_once_media_follows_disable_view_once(
    disabled: bool, from_me: bool, expected: str | None
) -> None:
    portal = type("P", (), {"bridge": type("B", (), {"config": {}})()})()
    portal.bridge.config = {"bridge.disable_view_once": disabled}
    image = wa_e2e_pb2.ImageMessage(mimetype="image/jpeg", viewOnce=True, URL="https://x/y")
    received = MessageReceived(
        chat=CONTACT,
        sender=ME if from_me else CONTACT,
        id="V1",
        timestamp=T,
        is_from_me=from_me,
        is_group=False,
        message=wa_e2e_pb2.Message(imageMessage=image),
        is_view_once=True,
    )
    [part] = await MsgconvToMatrix().to_matrix(cast(Any, portal), received)
    body = getattr(part.content, "body", None)
    if expected is None:
        assert body not in (VIEW_ONCE_RECEIVED, VIEW_ONCE_SENT)
    else:
        assert body == expected
        assert getattr(part.content, "msgtype", None) == MessageType.NOTICE


async def test_status_room_is_made_once_by_the_bot(database: Database) -> None:
    bridge = FakeBridge(database)
    created: list[dict[str, Any]] = []

    async def create_room(**kwargs: Any) -> RoomID:
        created.append(kwargs)
        return RoomID("!status:x")

    bridge.az.intent.create_room = create_room
    row = PortalRow(jid="status@broadcast", receiver=ME)
    await bridge.tables.portals.upsert(row)
    portal = Portal(cast(Any, bridge), row, PlainTextToMatrix(), PlainTextToWhatsApp())
    # (postinit leaves the bot as the main intent: status@broadcast has no ghost)
    source = _user()
    assert await status_broadcast.ensure_room(portal, source) == "!status:x"
    assert await status_broadcast.ensure_room(portal, source) == "!status:x"
    assert created == [
        {
            "name": "WhatsApp Status Broadcast",
            "topic": "WhatsApp status updates from your contacts",
            "invitees": ["@me:x"],
        }
    ]
    saved = await bridge.tables.portals.get_by_jid("status@broadcast", ME)
    assert saved is not None and saved.mxid == "!status:x"
