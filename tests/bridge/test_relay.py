"""Relay mode in a group portal, with the real portal and message tables and msgconv, and fake
Matrix and WhatsApp ends: the relay's session sends a relayed user's message formatted by
``message_formats``; without a relay the user is told they aren't logged in; reactions of
relayed users are dropped; a redaction revokes only the user's own relayed message."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from mautrix.types import (
    EventID,
    EventType,
    GenericEvent,
    MessageEventContent,
    ReactionEvent,
    RedactionEvent,
    RoomID,
    TextMessageEventContent,
    UserID,
)
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, PortalRow
from mautrix_whatsapp.portal import MsgconvToMatrix, MsgconvToWhatsApp, Portal, user_jid
from mautrix_whatsapp.portal.convert import ConversionError
from mautrix_whatsapp.portal.from_matrix import handle_message as send_to_whatsapp
from mautrix_whatsapp.portal.relay import (
    apply_format,
    get_relay_user,
    handle_relayed_relation,
    html_to_text,
    needs_relay,
    set_relay_user,
)
from mautrix_whatsapp.session import SentMessage
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

GROUP = "120363000000000001@g.us"
RELAY_JID = "15559990000:4@s.whatsapp.net"
ROOM = RoomID("!group:example.org")
BOB = UserID("@bob:example.org")
CAROL = UserID("@carol:example.org")
OWNER = UserID("@owner:example.org")
FORMATS = {
    "m.text": "<b>$sender_displayname</b>: $message",
    "m.notice": "<b>$sender_displayname</b>: $message",
    "m.emote": "* <b>$sender_displayname</b> $message",
    "m.image": "<b>$sender_displayname</b> sent an image",
    "m.file": "<b>$sender_displayname</b> sent a file: $message",
}


@dataclass
class FakeIntent:
    """The room: events by sender (for the relay's own-message checks) and the bot's
    notices."""

    mxid: UserID
    senders: dict[EventID, UserID] = field(default_factory=dict)
    names: dict[UserID, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    redacted: list[EventID] = field(default_factory=list)

    async def send_message(self, room_id: RoomID, content: Any) -> EventID:
        self.notices.append(content.body)
        return EventID(f"$notice{len(self.notices)}")

    async def send_message_event(self, room_id: RoomID, event_type: Any, content: Any) -> EventID:
        """Error notices (replies to the failed message) and status events."""
        body = content.get("body") if isinstance(content, dict) else getattr(content, "body", None)
        if body is not None:
            self.notices.append(body)
        return EventID(f"$event{len(self.notices)}")

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Any:
        raw = {"type": "m.room.message", "content": {}, "room_id": room_id}
        raw |= {"event_id": event_id, "sender": self.senders[event_id]}
        return GenericEvent.deserialize(cast(Any, raw))

    async def get_room_displayname(self, room_id: RoomID, user_id: UserID) -> str | None:
        return self.names.get(user_id)

    async def redact(self, room_id: RoomID, event_id: EventID) -> EventID:
        self.redacted.append(event_id)
        return EventID("$redaction")


@dataclass
class FakeSession:
    sent: list[wa_e2e_pb2.Message] = field(default_factory=list)

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> SentMessage:
        self.sent.append(message)
        return SentMessage(id=f"3EB0RELAY{len(self.sent)}", timestamp=time.time())


def _user(mxid: UserID, jid: str | None = None) -> Any:
    """A bridge user (logged in when ``jid`` is given)."""
    return SimpleNamespace(
        mxid=mxid,
        wa_jid=jid,
        session=FakeSession() if jid else None,
        is_whitelisted=jid is not None,
        send_remote_checkpoint=lambda *args, **kwargs: None,
    )


@dataclass
class World:
    portal: Portal
    intent: FakeIntent
    relay: Any
    session: FakeSession
    config: dict[str, Any]

    async def send(self, sender: Any, event_id: str, content: MessageEventContent) -> None:
        self.intent.senders[EventID(event_id)] = sender.mxid
        await send_to_whatsapp(self.portal, sender, content, EventID(event_id))


async def _world(database: Database) -> World:
    tables = BridgeDB(database)
    intent = FakeIntent(UserID("@bot:example.org"), names={BOB: "Bob <Relay>"})
    relay = _user(OWNER, RELAY_JID)
    users = {OWNER: relay}

    async def get_user(user_id: UserID, create: bool = True) -> Any:
        return users.get(user_id)

    async def get_puppet(user_id: UserID) -> Any:
        return None

    config = {"bridge.relay.enabled": True, "bridge.relay.message_formats": FORMATS}
    bridge = SimpleNamespace(
        tables=tables,
        config=config,
        az=SimpleNamespace(intent=intent),
        get_user=get_user,
        get_puppet=get_puppet,
    )
    row = PortalRow(jid=GROUP, receiver="", mxid=ROOM)
    await tables.portals.upsert(row)
    portal = Portal(cast(Any, bridge), row, MsgconvToMatrix(), MsgconvToWhatsApp())
    return World(portal, intent, relay, relay.session, config)


def _text(body: str, html: str | None = None) -> TextMessageEventContent:
    raw: dict[str, Any] = {"msgtype": "m.text", "body": body}
    if html is not None:
        raw |= {"format": "org.matrix.custom.html", "formatted_body": html}
    return TextMessageEventContent.deserialize(cast(Any, raw))


def test_formats_text_names_and_html() -> None:
    content: dict[str, Any] = {"msgtype": "m.text", "body": "a < b\nc"}
    apply_format(FORMATS, content, BOB, "Bob <Relay>")
    assert content["formatted_body"] == "<b>Bob &lt;Relay&gt;</b>: a &lt; b<br/>c"
    assert content["body"] == "Bob <Relay>: a < b\nc"

    emote: dict[str, Any] = {"msgtype": "m.emote", "body": "waves"}
    apply_format({"m.emote": "* $sender_username ($sender_mxid) $message"}, emote, BOB, "Bob")
    assert emote == {
        "msgtype": "m.text",
        "body": "* bob (@bob:example.org) waves",
        "format": "org.matrix.custom.html",
        "formatted_body": "* bob (@bob:example.org) waves",
    }


def test_formats_media_as_caption() -> None:
    image: dict[str, Any] = {"msgtype": "m.image", "body": "cat.png", "url": "mxc://x/y"}
    apply_format(FORMATS, image, BOB, "Bob")
    assert image["filename"] == "cat.png"
    assert image["body"] == "Bob sent an image"
    # A caption the template has no place for is kept after it.
    captioned: dict[str, Any] = {"msgtype": "m.image", "body": "look", "filename": "cat.png"}
    apply_format(FORMATS, captioned, BOB, "Bob")
    assert captioned["formatted_body"] == "<b>Bob</b> sent an image: look"
    document: dict[str, Any] = {"msgtype": "m.file", "body": "notes", "filename": "a.pdf"}
    apply_format(FORMATS, document, BOB, "Bob")
    assert document["body"] == "Bob sent a file: notes"


def test_unformattable_kinds_are_refused() -> None:
    with pytest.raises(ConversionError, match=r"m\.sticker messages can't be relayed"):
        apply_format(FORMATS, {"msgtype": "m.sticker", "body": "s"}, BOB, "Bob")
    assert html_to_text("<p>one</p><p>two &amp; three</p>") == "one\ntwo & three"


async def test_relayed_message_goes_out_from_the_relay(database: Database) -> None:
    world = await _world(database)
    bob = _user(BOB)
    assert needs_relay(world.portal, bob) and not needs_relay(world.portal, world.relay)

    # No relay: Bob is told why.
    await world.send(bob, "$m1", _text("hello"))
    assert world.intent.notices == [
        "Your message was not bridged: you're not logged in to WhatsApp"
    ]
    assert world.session.sent == []

    await set_relay_user(world.portal, world.relay)
    assert await get_relay_user(world.portal) is world.relay
    await world.send(bob, "$m2", _text("hi *all*", "hi <i>all</i>"))
    [sent] = world.session.sent
    assert sent.extendedTextMessage.text == "*Bob <Relay>*: hi _all_"
    row = await world.portal.bridge.tables.messages.get_by_mxid(EventID("$m2"), ROOM)
    assert row is not None and row.sender == user_jid(RELAY_JID)

    # Relay mode switched off in the config: as if there were none.
    world.config["bridge.relay.enabled"] = False
    await world.send(bob, "$m3", _text("again"))
    assert len(world.session.sent) == 1
    assert world.intent.notices[-1].endswith("you're not logged in to WhatsApp")
    world.config["bridge.relay.enabled"] = True

    # An edit of Bob's own relayed message is formatted too; of someone else's, refused.
    # (mautrix hands over an edit's new content, with the relation.)
    edit = _text("fixed")
    edit["m.relates_to"] = {"rel_type": "m.replace", "event_id": "$m2"}
    await world.send(bob, "$m4", edit)
    edited = world.session.sent[-1].editedMessage.message.protocolMessage
    assert edited.editedMessage.extendedTextMessage.text == "*Bob <Relay>*: fixed"
    assert row.id == edited.key.ID
    carol = _user(CAROL)
    await world.send(carol, "$m5", edit)
    assert world.intent.notices[-1] == (
        "Your message was not bridged: you can only edit your own messages"
    )
    assert len(world.session.sent) == 2

    await set_relay_user(world.portal, None)
    assert await get_relay_user(world.portal) is None


async def test_relayed_reactions_and_redactions(database: Database) -> None:
    world = await _world(database)
    bob, carol = _user(BOB), _user(CAROL)
    reaction: Any = ReactionEvent.deserialize(
        cast(
            Any,
            {
                "type": "m.reaction",
                "room_id": ROOM,
                "event_id": "$r1",
                "sender": BOB,
                "origin_server_ts": 1,
                "content": {
                    "m.relates_to": {"rel_type": "m.annotation", "event_id": "$m1", "key": "👍"}
                },
            },
        )
    )
    # Without a relay: why not, as for messages.
    await handle_relayed_relation(world.portal, bob, reaction)
    assert world.intent.notices == [
        "Your reaction was not bridged: you're not logged in to WhatsApp"
    ]
    await set_relay_user(world.portal, world.relay)
    await world.send(bob, "$m1", _text("hello"))
    assert len(world.session.sent) == 1
    # With one: dropped (on WhatsApp it would be the relay's reaction).
    await handle_relayed_relation(world.portal, bob, reaction)
    assert len(world.session.sent) == 1 and len(world.intent.notices) == 1

    def redaction(sender: UserID, event_id: str) -> Any:
        return RedactionEvent.deserialize(
            cast(
                Any,
                {
                    "type": str(EventType.ROOM_REDACTION),
                    "room_id": ROOM,
                    "event_id": event_id,
                    "sender": sender,
                    "origin_server_ts": 1,
                    "redacts": "$m1",
                    "content": {"redacts": "$m1"},
                },
            )
        )

    await handle_relayed_relation(world.portal, carol, redaction(CAROL, "$x1"))
    assert world.intent.notices[-1] == (
        "Your redaction was not bridged: you can only delete your own messages"
    )
    await handle_relayed_relation(world.portal, bob, redaction(BOB, "$x2"))
    revoke = world.session.sent[-1].protocolMessage
    assert revoke.type == revoke.REVOKE and revoke.key.fromMe
    assert await world.portal.bridge.tables.messages.get_by_mxid(EventID("$m1"), ROOM) is None
