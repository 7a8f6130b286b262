"""One message each way through a portal, with the real message table and fake Matrix and
WhatsApp ends: conversion, dedupe, the stored ids, and failures as notices."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from mautrix.types import (
    EventID,
    EventType,
    MessageType,
    RoomID,
    TextMessageEventContent,
    UserID,
)
from mautrix.util.async_db import Database
from mautrix.util.message_send_checkpoint import MessageSendCheckpointStatus

from mautrix_whatsapp.db import BridgeDB, PortalRow
from mautrix_whatsapp.matrix_catchup import MissedEventSweep
from mautrix_whatsapp.portal import (
    ConversionError,
    PlainTextToMatrix,
    PlainTextToWhatsApp,
    Portal,
    portal_key,
    user_jid,
)
from mautrix_whatsapp.portal.convert import UNKNOWN_TYPE_NOTICE
from mautrix_whatsapp.portal.from_matrix import handle_message as send_to_whatsapp
from mautrix_whatsapp.portal.from_whatsapp import handle_message as bridge_to_matrix
from mautrix_whatsapp.session import MessageReceived, SendFailed, SentMessage
from mautrix_whatsapp.wa_session import translate_event
from mautrix_whatsapp.whatsapp import events as ev
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.message_info import MessageInfo
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

CONTACT = "15550001111@s.whatsapp.net"
ME = "15559990000:4@s.whatsapp.net"
ROOM = RoomID("!dm:example.org")


@dataclass
class FakeIntent:
    mxid: UserID
    sent: list[tuple[UserID, EventType, Any, int | None]] = field(default_factory=list)

    async def ensure_joined(self, room_id: RoomID, bot: Any = None) -> bool:
        return True

    async def send_message_event(
        self,
        room_id: RoomID,
        event_type: EventType,
        content: Any,
        timestamp: int | None = None,
        txn_id: str | None = None,
    ) -> EventID:
        self.sent.append((self.mxid, event_type, content, timestamp))
        return EventID(f"$event{len(self.sent)}")

    async def send_message(self, room_id: RoomID, content: Any) -> EventID:
        return await self.send_message_event(room_id, EventType.ROOM_MESSAGE, content)


@dataclass
class FakeSession:
    fail: str | None = None
    sent: list[tuple[str, wa_e2e_pb2.Message]] = field(default_factory=list)

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> SentMessage:
        if self.fail:
            raise SendFailed(self.fail)
        self.sent.append((chat, message))
        return SentMessage(id=f"3EB0{len(self.sent)}", timestamp=1_700_000_000.5)


def _setup(database: Database) -> tuple[Portal, Any, FakeIntent, dict[str, FakeIntent]]:
    """A DM portal with a room, on a fake bridge whose ghosts share one send log."""
    shared = FakeIntent(UserID("@bot:example.org"))
    ghosts: dict[str, FakeIntent] = {}

    async def get_puppet_by_jid(jid: str) -> Any:
        account = user_jid(jid)
        ghost = ghosts.setdefault(
            account, FakeIntent(UserID(f"@whatsapp_{account.split('@')[0]}:x"), shared.sent)
        )
        return SimpleNamespace(intent=ghost)

    bridge = SimpleNamespace(
        tables=BridgeDB(database),
        az=SimpleNamespace(intent=shared),
        get_puppet_by_jid=get_puppet_by_jid,
        config={},  # the defaults: error notices on, status events off
        matrix_events=SimpleNamespace(missed=MissedEventSweep(cast(Any, None))),
    )
    jid, receiver = portal_key(CONTACT, ME)
    row = PortalRow(jid=jid, receiver=receiver, mxid=ROOM)
    portal = Portal(cast(Any, bridge), row, PlainTextToMatrix(), PlainTextToWhatsApp())
    checkpoints: list[tuple[MessageSendCheckpointStatus, EventID, str | None]] = []

    def send_remote_checkpoint(
        status: MessageSendCheckpointStatus,
        event_id: EventID,
        room_id: RoomID,
        event_type: EventType,
        error: Exception | None = None,
    ) -> None:
        checkpoints.append((status, event_id, str(error) if error else None))

    source = SimpleNamespace(
        wa_jid=ME,
        mxid=UserID("@me:example.org"),
        session=FakeSession(),
        checkpoints=checkpoints,
        send_remote_checkpoint=send_remote_checkpoint,
    )
    return portal, source, shared, ghosts


def _received(msg_id: str, message: wa_e2e_pb2.Message, from_me: bool = False) -> MessageReceived:
    return MessageReceived(
        chat=CONTACT,
        sender=user_jid(ME) if from_me else CONTACT,
        id=msg_id,
        timestamp=1_700_000_123.0,
        is_from_me=from_me,
        is_group=False,
        message=message,
    )


def test_portal_keys() -> None:
    assert portal_key("15550001111:7@s.whatsapp.net", ME) == (
        CONTACT,
        "15559990000@s.whatsapp.net",
    )
    assert portal_key("123-456@g.us", ME) == ("123-456@g.us", "")


async def test_text_is_bridged_once_from_the_contacts_ghost(database: Database) -> None:
    portal, source, shared, _ = _setup(database)
    await portal.postinit()
    await portal.save()
    text = _received("3EB0AA", wa_e2e_pb2.Message(conversation="hello"))
    await bridge_to_matrix(portal, source, text)
    await bridge_to_matrix(portal, source, text)  # redelivered
    assert len(shared.sent) == 1
    sender, event_type, content, ts = shared.sent[0]
    assert sender == "@whatsapp_15550001111:x"
    assert event_type == EventType.ROOM_MESSAGE
    assert (content.msgtype, content.body) == (MessageType.TEXT, "hello")
    assert ts == 1_700_000_123_000
    [row] = await portal.bridge.tables.messages.get_parts(
        portal.jid, portal.receiver, CONTACT, "3EB0AA"
    )
    assert (row.mxid, row.mx_room, row.timestamp) == ("$event1", ROOM, 1_700_000_123_000)


async def test_own_messages_come_from_the_users_ghost(database: Database) -> None:
    portal, source, shared, _ = _setup(database)
    await portal.postinit()
    await portal.save()
    extended = wa_e2e_pb2.Message(
        extendedTextMessage=wa_e2e_pb2.ExtendedTextMessage(text="from my phone")
    )
    await bridge_to_matrix(portal, source, _received("3EB0BB", extended, from_me=True))
    assert [(s, c.body) for s, _, c, _ in shared.sent] == [
        ("@whatsapp_15559990000:x", "from my phone")
    ]


async def test_unknown_kinds_get_a_notice_and_protocol_messages_nothing(
    database: Database,
) -> None:
    portal, source, shared, _ = _setup(database)
    await portal.postinit()
    await portal.save()
    sticker = wa_e2e_pb2.Message(stickerMessage=wa_e2e_pb2.StickerMessage(mimetype="image/webp"))
    await bridge_to_matrix(portal, source, _received("S1", sticker))
    protocol = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(type=wa_e2e_pb2.ProtocolMessage.REVOKE)
    )
    await bridge_to_matrix(portal, source, _received("P1", protocol))
    assert [(c.msgtype, c.body) for _, _, c, _ in shared.sent] == [
        (MessageType.NOTICE, UNKNOWN_TYPE_NOTICE)
    ]


async def test_matrix_text_is_sent_and_mapped(database: Database) -> None:
    portal, source, shared, _ = _setup(database)
    await portal.postinit()
    await portal.save()
    content = TextMessageEventContent(msgtype=MessageType.TEXT, body="hi there")
    await send_to_whatsapp(portal, source, content, EventID("$mx1"))
    [(chat, message)] = source.session.sent
    assert (chat, message.conversation) == (CONTACT, "hi there")
    row = await portal.bridge.tables.messages.get_by_mxid(EventID("$mx1"), ROOM)
    assert row is not None
    assert (row.id, row.sender, row.timestamp) == ("3EB01", user_jid(ME), 1_700_000_000_500)
    assert shared.sent == []
    assert source.checkpoints == [(MessageSendCheckpointStatus.SUCCESS, "$mx1", None)]


@pytest.mark.parametrize(
    ("content", "fail", "reason"),
    [
        (TextMessageEventContent(msgtype=MessageType.TEXT, body="x"), "ack error 479", "479"),
        (TextMessageEventContent(msgtype=MessageType.IMAGE, body="a.png"), None, "m.image"),
        (TextMessageEventContent(msgtype=MessageType.TEXT, body=""), None, "no text body"),
        (TextMessageEventContent(msgtype=MessageType.TEXT, body="x"), None, "another user"),
    ],
)
async def test_failures_become_a_notice_in_the_room(
    database: Database, content: TextMessageEventContent, fail: str | None, reason: str
) -> None:
    portal, source, shared, _ = _setup(database)
    await portal.postinit()
    await portal.save()
    source.session.fail = fail
    if reason == "another user":
        source.wa_jid = "15558887777:2@s.whatsapp.net"
    await send_to_whatsapp(portal, source, content, EventID("$bad"))
    [(sender, _, notice, _)] = shared.sent
    assert sender == "@whatsapp_15550001111:x"  # the DM's main intent: the contact's ghost
    assert notice.msgtype == MessageType.NOTICE
    assert notice.body.startswith("Your message was not bridged: ") and reason in notice.body
    assert await portal.bridge.tables.messages.get_by_mxid(EventID("$bad"), ROOM) is None
    [(status, event_id, error)] = source.checkpoints
    assert (status, event_id) == (MessageSendCheckpointStatus.PERM_FAILURE, "$bad")
    assert error is not None and reason in error


async def test_plain_text_to_whatsapp_emote_and_errors() -> None:
    convert = PlainTextToWhatsApp()
    portal = cast(Portal, None)
    emote = TextMessageEventContent(msgtype=MessageType.EMOTE, body="waves")
    assert (await convert.to_whatsapp(portal, emote)).conversation == "/me waves"
    with pytest.raises(ConversionError, match="without a msgtype"):
        await convert.to_whatsapp(portal, TextMessageEventContent(body="no type"))


def test_client_messages_reach_the_bridge_without_devices() -> None:
    """``wa_session`` hands the bridge user JIDs (no device) and unix seconds; peer messages
    between our own devices (key shares, history) never reach a portal."""
    info = MessageInfo(
        chat=JID.parse(CONTACT),
        sender=JID.parse("15550001111:7@s.whatsapp.net"),
        id="3EB0CC",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        is_from_me=False,
        is_group=False,
        push_name="Alice",
    )
    content = wa_e2e_pb2.Message(conversation="hi")
    got = translate_event(ev.Message(info=info, message=content, raw=content))
    assert got == MessageReceived(
        chat=CONTACT,
        sender=CONTACT,
        id="3EB0CC",
        timestamp=info.timestamp.timestamp(),
        is_from_me=False,
        is_group=False,
        message=content,
        push_name="Alice",
    )
    peer = replace(info, category="peer")
    assert translate_event(ev.Message(info=peer, message=content, raw=content)) is None
