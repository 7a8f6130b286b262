"""Edits, reactions, revokes/redactions and polls through a portal, with the real message and
reaction tables and msgconv, and fake Matrix and WhatsApp ends: the right target is found (also
by a new portal object: a restart), the right events are sent, redacted and stored, and what
can't be bridged gets a notice."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from mautrix.types import (
    Event,
    EventID,
    EventType,
    GenericEvent,
    MessageType,
    ReactionEvent,
    RedactionEvent,
    RoomID,
    TextMessageEventContent,
    UserID,
)
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, MessageRow, PortalRow, ReactionRow
from mautrix_whatsapp.matrix_catchup import MissedEventSweep
from mautrix_whatsapp.msgconv import poll_option_id
from mautrix_whatsapp.portal import (
    MsgconvToMatrix,
    MsgconvToWhatsApp,
    Portal,
    portal_key,
    user_jid,
)
from mautrix_whatsapp.portal.from_matrix import handle_message as send_to_whatsapp
from mautrix_whatsapp.portal.from_whatsapp import handle_message as bridge_to_matrix
from mautrix_whatsapp.portal.relation_events import handle_matrix_event, is_relation_event
from mautrix_whatsapp.session import MessageReceived, SentMessage
from mautrix_whatsapp.whatsapp.proto import wa_common_pb2, wa_e2e_pb2

CONTACT = "15550001111@s.whatsapp.net"
ME = "15559990000:4@s.whatsapp.net"
OWN = user_jid(ME)
ROOM = RoomID("!dm:example.org")
POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
NOW = time.time()


@dataclass
class Log:
    sent: list[tuple[UserID, str, dict[str, Any]]] = field(default_factory=list)
    redacted: list[tuple[UserID, EventID]] = field(default_factory=list)
    events: dict[EventID, dict[str, Any]] = field(default_factory=dict)


@dataclass
class FakeIntent:
    mxid: UserID
    log: Log

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
        raw = content if isinstance(content, dict) else content.serialize()
        self.log.sent.append((self.mxid, str(event_type), raw))
        event_id = EventID(f"$event{len(self.log.sent)}")
        self.log.events[event_id] = {"type": str(event_type), "content": raw}
        return event_id

    async def send_message(self, room_id: RoomID, content: Any) -> EventID:
        return await self.send_message_event(room_id, EventType.ROOM_MESSAGE, content)

    async def redact(self, room_id: RoomID, event_id: EventID) -> EventID:
        self.log.redacted.append((self.mxid, event_id))
        return EventID("$redaction")

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Any:
        raw: dict[str, Any] = {**self.log.events[event_id], "room_id": room_id}
        return GenericEvent.deserialize(cast(Any, {**raw, "event_id": event_id}))


@dataclass
class FakeSession:
    sent: list[wa_e2e_pb2.Message] = field(default_factory=list)
    votes: list[tuple[str, str, str, list[str]]] = field(default_factory=list)
    decrypted: list[bytes] = field(default_factory=list)

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> SentMessage:
        self.sent.append(message)
        return SentMessage(id=f"3EB0SENT{len(self.sent)}", timestamp=NOW)

    async def decrypt_poll_vote(
        self, chat: str, voter: str, update: wa_e2e_pb2.PollUpdateMessage
    ) -> list[bytes]:
        return self.decrypted

    async def send_poll_vote(
        self, chat: str, poll_id: str, poll_sender: str, options: list[str]
    ) -> SentMessage:
        self.votes.append((chat, poll_id, poll_sender, options))
        return SentMessage(id="3EB0VOTE", timestamp=NOW)


@dataclass
class World:
    portal: Portal
    source: Any
    log: Log

    def texts(self) -> list[str]:
        return [c.get("body", "") for _, t, c in self.log.sent if t == "m.room.message"]

    async def receive(self, msg_id: str, message: wa_e2e_pb2.Message) -> None:
        await bridge_to_matrix(self.portal, self.source, _received(msg_id, message))

    async def reaction(self, target: str) -> ReactionRow | None:
        tables = self.portal.bridge.tables
        return await tables.reactions.get(
            self.portal.jid, self.portal.receiver, CONTACT, target, CONTACT
        )

    async def stored(self, msg_id: str, sender: str = CONTACT) -> list[MessageRow]:
        tables = self.portal.bridge.tables
        return await tables.messages.get_parts(
            self.portal.jid, self.portal.receiver, sender, msg_id
        )


async def _world(database: Database, log: Log | None = None) -> World:
    """A DM portal with a room; a second call on the same DB is the bridge after a restart."""
    log = log or Log()
    bot = FakeIntent(UserID("@bot:example.org"), log)

    async def get_puppet_by_jid(jid: str, create: bool = True) -> Any:
        intent = FakeIntent(UserID(f"@whatsapp_{user_jid(jid).split('@')[0]}:x"), log)
        return SimpleNamespace(intent=intent, mxid=intent.mxid, displayname=None, jid=jid)

    bridge = SimpleNamespace(
        tables=BridgeDB(database),
        az=SimpleNamespace(intent=bot),
        get_puppet_by_jid=get_puppet_by_jid,
        config={"bridge.disable_view_once": False, "bridge.disable_status_broadcast_send": True},
        matrix_events=SimpleNamespace(missed=MissedEventSweep(cast(Any, None))),
    )
    jid, receiver = portal_key(CONTACT, ME)
    registry_row = PortalRow(jid=jid, receiver=receiver, mxid=ROOM)
    portal = Portal(cast(Any, bridge), registry_row, MsgconvToMatrix(), MsgconvToWhatsApp())
    await portal.postinit()
    await portal.save()
    checkpoints: list[Any] = []
    source = SimpleNamespace(
        wa_jid=ME,
        mxid=UserID("@me:example.org"),
        session=FakeSession(),
        checkpoints=checkpoints,
        send_remote_checkpoint=lambda *args, **kwargs: checkpoints.append(args),
    )
    return World(portal, source, log)


def _received(
    msg_id: str, message: wa_e2e_pb2.Message, *, from_me: bool = False, ts: float = NOW
) -> MessageReceived:
    return MessageReceived(
        chat=CONTACT,
        sender=OWN if from_me else CONTACT,
        id=msg_id,
        timestamp=ts,
        is_from_me=from_me,
        is_group=False,
        message=message,
    )


def _key(msg_id: str, from_me: bool = False) -> wa_common_pb2.MessageKey:
    return wa_common_pb2.MessageKey(remoteJID=OWN, fromMe=from_me, ID=msg_id)


def _reaction(target: str, emoji: str) -> wa_e2e_pb2.Message:
    return wa_e2e_pb2.Message(
        reactionMessage=wa_e2e_pb2.ReactionMessage(key=_key(target, from_me=True), text=emoji)
    )


def _notices(log: Log) -> list[str]:
    return [c["body"] for _, _, c in log.sent if c.get("msgtype") == "m.notice"]


async def _matrix(world: World, event: dict[str, Any]) -> None:
    base = {"room_id": ROOM, "sender": "@me:example.org", "origin_server_ts": 1}
    evt = Event.deserialize({**base, **event})
    assert is_relation_event(evt)
    await handle_matrix_event(world.portal, world.source, evt)


async def test_whatsapp_reactions_one_per_person(database: Database) -> None:
    world = await _world(database)
    await world.receive("M1", wa_e2e_pb2.Message(conversation="hi"))
    [target] = await world.stored("M1")
    ghost = "@whatsapp_15550001111:x"
    await world.receive("R1", _reaction("M1", "👍"))
    await world.receive("R1", _reaction("M1", "👍"))
    sender, event_type, content = world.log.sent[-1]
    assert (sender, event_type) == (ghost, "m.reaction")
    assert content["m.relates_to"] == {
        "rel_type": "m.annotation",
        "event_id": target.mxid,
        "key": "👍\ufe0f",
    }
    assert len(world.log.sent) == 2  # the redelivery changed nothing
    first = EventID("$event2")
    # A new emoji redacts the old one; an empty one only redacts.
    await world.receive("R2", _reaction("M1", "❤️"))
    assert world.log.redacted == [(ghost, first)]
    assert world.log.sent[-1][2]["m.relates_to"]["key"] == "❤️"
    tables = world.portal.bridge.tables
    row = await tables.reactions.get(
        world.portal.jid, world.portal.receiver, CONTACT, "M1", CONTACT
    )
    assert row is not None and (row.mxid, row.emoji) == ("$event3", "❤️")
    await world.receive("R3", _reaction("M1", ""))
    assert world.log.redacted[-1] == (ghost, "$event3")
    assert (
        await tables.reactions.get(world.portal.jid, world.portal.receiver, CONTACT, "M1", CONTACT)
        is None
    )
    # A reaction to a message never bridged: nothing sent, nothing breaks.
    await world.receive("R4", _reaction("NOPE", "😮"))
    assert len(world.log.sent) == 3


async def test_whatsapp_revoke_redacts_every_part(database: Database) -> None:
    world = await _world(database)
    tables = world.portal.bridge.tables
    for part in (0, 1):
        await tables.messages.insert(
            MessageRow(
                world.portal.jid,
                world.portal.receiver,
                CONTACT,
                "M1",
                EventID(f"$p{part}"),
                ROOM,
                1,
                part,
            )
        )
    revoke = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            key=_key("M1", from_me=True), type=wa_e2e_pb2.ProtocolMessage.REVOKE
        )
    )
    await world.receive("X1", revoke)
    assert [event for _, event in world.log.redacted] == ["$p0", "$p1"]
    assert await world.stored("M1") == []


async def test_whatsapp_edit_after_a_restart(database: Database) -> None:
    world = await _world(database)
    await world.receive("M1", wa_e2e_pb2.Message(conversation="typo"))
    [target] = await world.stored("M1")
    after_restart = await _world(database, world.log)
    edit = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            key=_key("M1", from_me=True),
            type=wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT,
            editedMessage=wa_e2e_pb2.Message(conversation="fixed"),
        )
    )
    await bridge_to_matrix(after_restart.portal, after_restart.source, _received("E1", edit))
    _, event_type, content = world.log.sent[-1]
    assert event_type == "m.room.message"
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": target.mxid}
    assert (content["body"], content["m.new_content"]["body"]) == ("* fixed", "fixed")
    assert len(await world.stored("E1")) == 1  # a redelivered edit is dropped


async def _own_message(world: World, msg_id: str, event_id: str, age: float) -> None:
    row = MessageRow(
        world.portal.jid,
        world.portal.receiver,
        OWN,
        msg_id,
        EventID(event_id),
        ROOM,
        int((NOW - age) * 1000),
    )
    await world.portal.bridge.tables.messages.insert(row)


def _edit(target: str, body: str) -> TextMessageEventContent:
    """An edit as mautrix hands it over: the new content, marked as replacing ``target``."""
    content = TextMessageEventContent(msgtype=MessageType.TEXT, body=body)
    content.set_edit(EventID(target))
    return content


async def test_matrix_edits_within_15_minutes_of_own_messages(database: Database) -> None:
    world = await _world(database)
    await _own_message(world, "OLD", "$old", 16 * 60)
    await _own_message(world, "NEW", "$new", 60)
    await world.receive("THEIRS", wa_e2e_pb2.Message(conversation="x"))
    [theirs] = await world.stored("THEIRS")
    for target in ("$old", "$unknown", theirs.mxid):
        await send_to_whatsapp(world.portal, world.source, _edit(target, "no"), EventID("$e"))
    assert _notices(world.log) == [
        "Your message was not bridged: can't edit messages older than 15 minutes",
        "Your message was not bridged: the edited message isn't known to the bridge",
        "Your message was not bridged: you can only edit your own messages",
    ]
    await send_to_whatsapp(world.portal, world.source, _edit("$new", "yes"), EventID("$e2"))
    [sent] = world.source.session.sent
    protocol = sent.editedMessage.message.protocolMessage
    assert (protocol.key.ID, protocol.key.fromMe) == ("NEW", True)
    edited = protocol.editedMessage
    assert (edited.conversation or edited.extendedTextMessage.text) == "yes"


async def test_matrix_reactions_and_redactions(database: Database) -> None:
    world = await _world(database)
    session = world.source.session
    await world.receive("THEIRS", wa_e2e_pb2.Message(conversation="x"))
    [theirs] = await world.stored("THEIRS")
    await _own_message(world, "MINE", "$mine", 60)

    def react(event_id: str, target: str, key: str) -> dict[str, Any]:
        relates = {"rel_type": "m.annotation", "event_id": target, "key": key}
        return {"type": "m.reaction", "event_id": event_id, "content": {"m.relates_to": relates}}

    await _matrix(world, react("$r1", theirs.mxid, "👍"))
    await _matrix(world, react("$r2", theirs.mxid, "🎉"))
    first, second = (m.reactionMessage for m in session.sent)
    assert (first.key.ID, first.key.fromMe, first.text) == ("THEIRS", False, "👍")
    assert second.text == "🎉"
    assert world.log.redacted == [("@whatsapp_15550001111:x", "$r1")]  # one per person
    await _matrix(world, react("$r3", "$unknown", "👍"))

    def redact(event_id: str, target: str) -> dict[str, Any]:
        return {"type": "m.room.redaction", "event_id": event_id, "redacts": target, "content": {}}

    await _matrix(world, redact("$x1", "$r2"))
    await _matrix(world, redact("$x2", "$mine"))
    await _matrix(world, redact("$x3", theirs.mxid))
    await _matrix(world, redact("$x4", "$nothing"))
    removal, revoke = session.sent[2].reactionMessage, session.sent[3].protocolMessage
    assert (removal.key.ID, removal.text) == ("THEIRS", "")
    assert (revoke.type, revoke.key.ID, revoke.key.fromMe) == (revoke.REVOKE, "MINE", True)
    assert len(session.sent) == 4
    assert _notices(world.log) == [
        "Your reaction was not bridged: the message isn't known to the bridge",
        "Your redaction was not bridged: only your own messages can be deleted on WhatsApp",
        "Your redaction was not bridged: the redacted event isn't known to the bridge",
    ]
    tables = world.portal.bridge.tables
    assert await tables.reactions.get_by_mxid(EventID("$r2"), ROOM) is None
    assert await tables.messages.get_by_mxid(EventID("$mine"), ROOM) is None


async def test_polls_both_ways_map_answer_ids(database: Database) -> None:
    world = await _world(database)
    session = world.source.session
    # A poll started on Matrix: its own answer ids, which WhatsApp votes name by hash.
    poll = {
        POLL_START: {
            "question": {"org.matrix.msc1767.text": "Colour?"},
            "answers": [
                {"id": "red", "org.matrix.msc1767.text": "Red"},
                {"id": "blue", "org.matrix.msc1767.text": "Blue"},
            ],
        }
    }
    world.log.events[EventID("$poll")] = {"type": POLL_START, "content": poll}
    await _matrix(world, {"type": POLL_START, "event_id": "$poll", "content": poll})
    [created] = session.sent
    assert [o.optionName for o in created.pollCreationMessageV3.options] == ["Red", "Blue"]
    session.decrypted = [bytes.fromhex(poll_option_id("Blue"))]
    update = wa_e2e_pb2.PollUpdateMessage(pollCreationMessageKey=_key("3EB0SENT1", from_me=False))
    vote = _received("V1", wa_e2e_pb2.Message(pollUpdateMessage=update))
    await bridge_to_matrix(world.portal, world.source, vote)
    sender, event_type, content = world.log.sent[-1]
    assert (sender, event_type) == ("@whatsapp_15550001111:x", POLL_RESPONSE)
    assert content["m.relates_to"] == {"rel_type": "m.reference", "event_id": "$poll"}
    assert content[POLL_RESPONSE]["answers"] == ["blue"]
    # The user's vote: answer ids back to option names, for the client to encrypt.
    relates = {"rel_type": "m.reference", "event_id": "$poll"}
    response: dict[str, Any] = {
        "m.relates_to": relates,
        POLL_RESPONSE: {"answers": ["red"]},
    }
    await _matrix(world, {"type": POLL_RESPONSE, "event_id": "$vote", "content": response})
    assert session.votes == [(CONTACT, "3EB0SENT1", OWN, ["Red"])]
    relates["event_id"] = "$unknown"
    await _matrix(world, {"type": POLL_RESPONSE, "event_id": "$vote2", "content": response})
    assert _notices(world.log) == ["Your vote was not bridged: the poll isn't known to the bridge"]


def test_only_relation_events_are_handled() -> None:
    base = {"room_id": ROOM, "sender": "@me:x", "event_id": "$e", "origin_server_ts": 1}
    other = Event.deserialize({**base, "type": "com.example.thing", "content": {}})
    assert not is_relation_event(other)
    assert isinstance(
        Event.deserialize({**base, "type": "m.reaction", "content": {}}), ReactionEvent
    )
    assert isinstance(
        Event.deserialize({**base, "type": "m.room.redaction", "redacts": "$x", "content": {}}),
        RedactionEvent,
    )
