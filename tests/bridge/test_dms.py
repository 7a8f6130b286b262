"""Unit tests of the DM, portal-command and bad-input pieces: malformed Matrix events, what
Synapse refuses but another homeserver might pass (no body, a number body, no msgtype),
delivery statuses, ghost IDs, deleting a portal's rows, and unknown WhatsApp content."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from mautrix.types import (
    Event,
    EventID,
    EventType,
    MessageStatus,
    MessageStatusReason,
    RoomID,
    UserID,
)
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, MessageRow, PortalRow, PuppetRow, ReactionRow
from mautrix_whatsapp.db.portal_data import all_puppet_jids, delete_portal
from mautrix_whatsapp.matrix import MatrixHandler
from mautrix_whatsapp.portal.convert import ConversionError
from mautrix_whatsapp.portal.converters import MsgconvToWhatsApp
from mautrix_whatsapp.portal.delete import can_delete
from mautrix_whatsapp.portal.dm import jid_of_ghost
from mautrix_whatsapp.portal.from_matrix import handle_message as send_to_whatsapp
from mautrix_whatsapp.portal.malformed import malformed_reason, split_malformed
from mautrix_whatsapp.portal.status import NotLoggedIn, classify, failure_notice
from mautrix_whatsapp.session import SendFailed
from mautrix_whatsapp.whatsapp.message import _has_content
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.bridge.test_portal_messages import _setup

ROOM = "!room:example.org"


def _message(content: Any, event_type: str = "m.room.message") -> dict[str, Any]:
    return {
        "type": event_type,
        "room_id": ROOM,
        "event_id": "$ev",
        "sender": "@me:example.org",
        "origin_server_ts": 1,
        "content": content,
    }


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            {"msgtype": "m.text", "body": "x", "m.relates_to": {"m.in_reply_to": "$a"}},
            "in_reply_to",
        ),
        ({"msgtype": "m.text", "body": "x", "m.relates_to": "sideways"}, "m.relates_to is not"),
    ],
)
def test_malformed_messages_are_named(content: Any, reason: str) -> None:
    found = malformed_reason(_message(content))
    assert found is not None and reason in found


def test_parseable_and_other_events_are_left_alone() -> None:
    good = _message({"msgtype": "m.text", "body": "hi"})
    odd_but_parseable = _message({"body": 5})  # mautrix parses it; the portal refuses it
    state = {**_message({"m.relates_to": "x"}), "state_key": ""}
    member = {**_message({"membership": "join"}), "type": "m.room.member", "state_key": "@a:b"}
    events: list[Any] = [good, odd_but_parseable, state, member, "garbage"]
    keep, bad = split_malformed(events)
    assert keep == events and bad == []
    broken = _message({"msgtype": "m.text", "body": "x", "m.relates_to": {"m.in_reply_to": 1}})
    keep, bad = split_malformed([good, broken])
    assert keep == [good] and [raw for raw, _ in bad] == [broken]


def test_a_non_text_body_is_no_command() -> None:
    """mautrix's ``is_command`` raised on a number or a missing body; ours says "no"."""
    handler = MatrixHandler.__new__(MatrixHandler)
    handler.config = cast(Any, {"bridge.command_prefix": "!wa"})
    for content in ({"msgtype": "m.text", "body": 42}, {}):
        event = Event.deserialize(_message(content))
        assert handler.is_command(event.content) == (False, "")
    text = Event.deserialize(_message({"msgtype": "m.text", "body": "!wa ping"}))
    assert handler.is_command(text.content) == (True, "ping")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"msgtype": "m.text"}, "the message is empty"),
        ({"msgtype": "m.text", "body": 42}, "body is not a string"),
        ({"body": "no type"}, "without a msgtype"),
        (
            {"msgtype": "m.text", "body": "x", "m.relates_to": {"m.in_reply_to": {"event_id": 7}}},
            None,
        ),
    ],
)
async def test_what_synapse_refuses_still_gets_a_reason(
    database: Database, content: dict[str, Any], reason: str | None
) -> None:
    """Missing or wrongly typed fields, as another homeserver might let them through, are
    refused with the reason (a reply target that isn't an event id is just no reply)."""
    portal, source, shared, _ = _setup(database)
    portal.from_matrix = MsgconvToWhatsApp()
    fake_bridge = cast(Any, portal.bridge)
    fake_bridge.get_puppet, fake_bridge.get_user = _no_puppet, _no_user
    await portal.postinit()
    await portal.save()
    event = Event.deserialize(_message(content))
    await send_to_whatsapp(portal, source, event.content, EventID("$bad"))
    if reason is None:
        [(_, message)] = source.session.sent
        assert (message.conversation or message.extendedTextMessage.text) == "x"
        assert not message.extendedTextMessage.contextInfo.stanzaID
        return
    [(_, event_type, notice, _)] = shared.sent
    assert event_type == EventType.ROOM_MESSAGE
    assert notice.body == f"Your message was not bridged: {notice.body.split(': ', 1)[1]}"
    assert reason in notice.body
    assert notice.relates_to.in_reply_to.event_id == "$bad"
    assert source.session.sent == []


async def _no_puppet(user_id: UserID, create: bool = False) -> None:
    return None


async def _no_user(user_id: UserID, create: bool = True) -> None:
    return None


def test_failures_are_classified_like_the_go_bridge() -> None:
    refused = classify(ConversionError("the message is empty"))
    assert (refused.status, refused.reason, refused.certain) == (
        MessageStatus.FAIL,
        MessageStatusReason.UNSUPPORTED,
        True,
    )
    assert classify(NotLoggedIn("x")).reason == MessageStatusReason.NO_PERMISSION
    assert classify(SendFailed("ack error 479")).status == MessageStatus.RETRIABLE
    assert not classify(RuntimeError("boom")).certain
    assert failure_notice(ConversionError("nope")) == "Your message was not bridged: nope"
    assert failure_notice(RuntimeError("boom")) == "Your message may not have been bridged: boom"
    assert failure_notice(SendFailed("x"), EventType.REACTION).startswith("Your reaction was")


def test_ghost_ids_map_to_jids() -> None:
    bridge = cast(
        Any,
        SimpleNamespace(
            config={
                "bridge.username_template": "whatsapp_{userid}",
                "homeserver.domain": "example.org",
            }
        ),
    )
    assert jid_of_ghost(bridge, UserID("@whatsapp_15551234567:example.org")) == (
        "15551234567@s.whatsapp.net"
    )
    assert jid_of_ghost(bridge, UserID("@whatsapp_lid-1234:example.org")) == "1234@lid"
    assert jid_of_ghost(bridge, UserID("@whatsapp_15551234567:elsewhere.org")) is None
    assert jid_of_ghost(bridge, UserID("@someone:example.org")) is None
    assert jid_of_ghost(bridge, UserID("@whatsapp_not-a-number:example.org")) is None


async def test_deleting_a_portal_deletes_its_rows_only(database: Database) -> None:
    tables = BridgeDB(database)
    room = RoomID("!a:example.org")
    for jid in ("1@s.whatsapp.net", "2@s.whatsapp.net"):
        await tables.portals.upsert(PortalRow(jid=jid, receiver="9@s.whatsapp.net", mxid=None))
        message = MessageRow(jid, "9@s.whatsapp.net", jid, "M1", EventID(f"$m{jid}"), room, 1)
        await tables.messages.insert(message)
        reaction = ReactionRow(
            jid, "9@s.whatsapp.net", jid, "M1", jid, EventID(f"$r{jid}"), room, "👍", 1
        )
        await tables.reactions.upsert(reaction)
    await delete_portal(database, "1@s.whatsapp.net", "9@s.whatsapp.net")
    assert await tables.portals.get_by_jid("1@s.whatsapp.net", "9@s.whatsapp.net") is None
    assert await tables.messages.get_by_id("1@s.whatsapp.net", "9@s.whatsapp.net", "M1") == []
    assert await tables.reactions.get_by_mxid(EventID("$r1@s.whatsapp.net"), room) is None
    assert await tables.portals.get_by_jid("2@s.whatsapp.net", "9@s.whatsapp.net") is not None
    assert await tables.messages.get_by_id("2@s.whatsapp.net", "9@s.whatsapp.net", "M1")
    assert await tables.reactions.get_by_mxid(EventID("$r2@s.whatsapp.net"), room) is not None

    await tables.puppets.upsert(PuppetRow(jid="5@s.whatsapp.net", phone="5"))
    await tables.puppets.upsert(PuppetRow(jid="3@lid", phone=None))
    assert await all_puppet_jids(database) == ["3@lid", "5@s.whatsapp.net"]


def test_a_message_of_unknown_fields_is_content() -> None:
    """A kind newer than our schema (only unknown fields) is content to hand on, unlike a bare
    sender-key distribution."""
    unknown = wa_e2e_pb2.Message()
    unknown.MergeFromString(bytes([0xC2, 0x3E, 0x02, 0x08, 0x01]))  # field 1000, 2 bytes
    assert _has_content(unknown)
    skdm = wa_e2e_pb2.Message(
        senderKeyDistributionMessage=wa_e2e_pb2.SenderKeyDistributionMessage(groupID="g")
    )
    assert not _has_content(skdm)


class _Members:
    """The portal's main intent, as far as ``can_delete`` reads it."""

    def __init__(self, members: list[str]) -> None:
        self.members = [UserID(m) for m in members]

    async def get_room_members(self, room_id: RoomID) -> list[UserID]:
        return self.members


async def _can_delete(members: list[str], *, admin: bool, logged_in: set[str]) -> bool:
    async def get_user(user_id: UserID, create: bool = True) -> Any:
        async def is_logged_in() -> bool:
            return user_id in logged_in

        return SimpleNamespace(is_logged_in=is_logged_in)

    bridge = SimpleNamespace(
        az=SimpleNamespace(bot_mxid="@bot:x"),
        is_bridge_ghost=lambda user_id: user_id.startswith("@whatsapp_"),
        get_user=get_user,
    )
    portal = SimpleNamespace(
        mxid=RoomID("!r:x"), main_intent=_Members(members), bridge=bridge, log=None
    )
    user = SimpleNamespace(mxid=UserID("@me:x"), is_admin=admin)
    return await can_delete(cast(Any, portal), cast(Any, user))


async def test_only_admins_delete_portals_shared_with_other_users() -> None:
    """As the Go bridge: other logged-in Matrix users in the room make it admin-only; ghosts,
    the bot and users without a login don't count."""
    alone = ["@me:x", "@bot:x", "@whatsapp_1:x", "@guest:x"]
    assert await _can_delete(alone, admin=False, logged_in={"@me:x"})
    shared = [*alone, "@other:x"]
    assert not await _can_delete(shared, admin=False, logged_in={"@me:x", "@other:x"})
    assert await _can_delete(shared, admin=True, logged_in={"@me:x", "@other:x"})
