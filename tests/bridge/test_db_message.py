"""The message and reaction tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from mautrix.types import EventID, RoomID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, MessageRow, PortalRow, ReactionRow

CHAT = "15550001111@s.whatsapp.net"
RECEIVER = "15559990000@s.whatsapp.net"
ROOM = RoomID("!dm:example.org")


async def _tables(db: Database) -> BridgeDB:
    tables = BridgeDB(db)
    await tables.portals.upsert(PortalRow(jid=CHAT, receiver=RECEIVER, mxid=ROOM))
    return tables


def _message(msg_id: str, event: str, part: int = 0, ts: int = 1_000) -> MessageRow:
    return MessageRow(
        chat_jid=CHAT,
        receiver=RECEIVER,
        sender=CHAT,
        id=msg_id,
        mxid=EventID(event),
        mx_room=ROOM,
        timestamp=ts,
        part=part,
    )


async def test_message_round_trip_both_ways(database: Database) -> None:
    tables = await _tables(database)
    first = _message("3EB0A1", "$caption", part=1)
    second = _message("3EB0A1", "$image", part=0)
    assert await tables.messages.insert(first)
    assert await tables.messages.insert(second)
    parts = await tables.messages.get_parts(CHAT, RECEIVER, CHAT, "3EB0A1")
    assert parts == [second, first]
    assert await tables.messages.get_by_mxid(EventID("$caption"), ROOM) == first
    assert await tables.messages.get_by_mxid(EventID("$caption"), RoomID("!x:y")) is None
    assert await tables.messages.get_by_id(CHAT, RECEIVER, "3EB0A1") == [second, first]


async def test_message_stored_twice_is_kept_once(database: Database) -> None:
    """A redelivered message: the second insert changes nothing and says so."""
    tables = await _tables(database)
    assert await tables.messages.insert(_message("3EB0A2", "$one"))
    assert not await tables.messages.insert(_message("3EB0A2", "$other"))
    parts = await tables.messages.get_parts(CHAT, RECEIVER, CHAT, "3EB0A2")
    assert [p.mxid for p in parts] == ["$one"]


async def test_message_ids_are_per_sender_and_portal(database: Database) -> None:
    tables = await _tables(database)
    other_receiver = "15558880000@s.whatsapp.net"
    await tables.portals.upsert(PortalRow(jid=CHAT, receiver=other_receiver, mxid=RoomID("!b:x")))
    mine = _message("SAME", "$a")
    theirs = MessageRow(
        chat_jid=CHAT,
        receiver=other_receiver,
        sender=CHAT,
        id="SAME",
        mxid=EventID("$b"),
        mx_room=RoomID("!b:x"),
        timestamp=5,
    )
    from_me = MessageRow(
        chat_jid=CHAT,
        receiver=RECEIVER,
        sender=RECEIVER,
        id="SAME",
        mxid=EventID("$c"),
        mx_room=ROOM,
        timestamp=6,
    )
    for row in (mine, theirs, from_me):
        assert await tables.messages.insert(row)
    assert await tables.messages.get_parts(CHAT, RECEIVER, CHAT, "SAME") == [mine]
    assert await tables.messages.get_parts(CHAT, other_receiver, CHAT, "SAME") == [theirs]
    assert await tables.messages.get_parts(CHAT, RECEIVER, RECEIVER, "SAME") == [from_me]


async def test_last_message_and_delete(database: Database) -> None:
    tables = await _tables(database)
    assert await tables.messages.get_last(CHAT, RECEIVER) is None
    await tables.messages.insert(_message("OLD", "$old", ts=1_000))
    await tables.messages.insert(_message("NEW", "$new", ts=2_000))
    last = await tables.messages.get_last(CHAT, RECEIVER)
    assert last is not None and last.id == "NEW"
    await tables.messages.delete(CHAT, RECEIVER, CHAT, "NEW")
    last = await tables.messages.get_last(CHAT, RECEIVER)
    assert last is not None and last.id == "OLD"


async def test_messages_and_reactions_go_with_the_portal(database: Database) -> None:
    tables = await _tables(database)
    await tables.messages.insert(_message("M", "$m"))
    await tables.reactions.upsert(_reaction("$r", "👍"))
    await tables.portals.delete(CHAT, RECEIVER)
    assert await tables.messages.get_by_mxid(EventID("$m"), ROOM) is None
    assert await tables.reactions.get_by_mxid(EventID("$r"), ROOM) is None


def _reaction(event: str, emoji: str) -> ReactionRow:
    return ReactionRow(
        chat_jid=CHAT,
        receiver=RECEIVER,
        target_sender=CHAT,
        target_id="M",
        sender=RECEIVER,
        mxid=EventID(event),
        mx_room=ROOM,
        emoji=emoji,
        timestamp=7,
    )


async def test_reaction_replaces_the_senders_previous_one(database: Database) -> None:
    tables = await _tables(database)
    await tables.reactions.upsert(_reaction("$r1", "👍"))
    await tables.reactions.upsert(_reaction("$r2", "❤️"))
    got = await tables.reactions.get(CHAT, RECEIVER, CHAT, "M", RECEIVER)
    assert got == _reaction("$r2", "❤️")
    assert await tables.reactions.get_by_mxid(EventID("$r1"), ROOM) is None
    await tables.reactions.delete(CHAT, RECEIVER, CHAT, "M", RECEIVER)
    assert await tables.reactions.get(CHAT, RECEIVER, CHAT, "M", RECEIVER) is None
