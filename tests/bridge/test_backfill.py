"""History sync for backfill without a network: the client's chunk in the bridge's terms
(``wa_history``), and the stored history (``db/history.py``, v12) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from mautrix.types import UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.backfill.history_store import received_of, store_chunk
from mautrix_whatsapp.db import BridgeDB, UserRow
from mautrix_whatsapp.session import HistoryChunk, HistoryFailed
from mautrix_whatsapp.wa_history import translate_history_event
from mautrix_whatsapp.whatsapp.binary.jid import DEFAULT_USER_SERVER, JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import HistorySyncFailed, HistorySyncType
from mautrix_whatsapp.whatsapp.history_sync import HistoryInflateError, build_chunk
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2, wa_web_pb2

OWN = "15550000001@s.whatsapp.net"
BOB = "15550000002@s.whatsapp.net"
CAROL_LID = "200000000000003@lid"
CAROL = "15550000003@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
ALICE = UserID("@alice:example.org")


class _Lids:
    async def get_pn(self, lid: JID) -> JID | None:
        return JID("15550000003", DEFAULT_USER_SERVER) if str(lid) == CAROL_LID else None


@dataclass
class _Device:
    jid: JID | None = field(default_factory=lambda: JID.parse("15550000001:7@s.whatsapp.net"))


@dataclass
class _Client:
    device: _Device = field(default_factory=_Device)
    lids: _Lids = field(default_factory=_Lids)


def _info(chat: str, msg_id: str, t: int, **fields: Any) -> wa_web_pb2.WebMessageInfo:
    info = wa_web_pb2.WebMessageInfo(messageTimestamp=t)
    info.key.remoteJID = chat
    info.key.ID = msg_id
    info.key.fromMe = bool(fields.pop("from_me", False))
    if "participant" in fields:
        info.key.participant = fields.pop("participant")
    if "text" in fields:
        info.message.conversation = fields.pop("text")
    if "ephemeral_text" in fields:
        info.message.ephemeralMessage.message.conversation = fields.pop("ephemeral_text")
    for sender, emoji in fields.pop("reactions", []):
        reaction = info.reactions.add(text=emoji, senderTimestampMS=t * 1000 + 5)
        reaction.key.remoteJID = chat
        if sender == OWN:
            reaction.key.fromMe = True
        else:
            reaction.key.participant = sender
    if fields.pop("revoked", False):
        info.messageStubType = wa_web_pb2.WebMessageInfo.REVOKE
    assert not fields, fields
    return info


def _sync() -> wa_history_sync_pb2.HistorySync:
    sync = wa_history_sync_pb2.HistorySync(
        syncType=wa_history_sync_pb2.HistorySync.INITIAL_BOOTSTRAP, chunkOrder=0, progress=100
    )
    group = sync.conversations.add(ID=GROUP, name="Book club", unreadCount=2, archived=True)
    # newest first, as phones list them
    for info in (
        _info(
            GROUP, "G3", 1030, from_me=True, ephemeral_text="mine", reactions=[(CAROL_LID, "❤")]
        ),
        _info(GROUP, "G2", 1020, participant=CAROL_LID, text="from carol by lid"),
        _info(GROUP, "G1", 1010, participant=BOB, revoked=True),
    ):
        group.messages.add().message.CopyFrom(info)
    dm = sync.conversations.add(ID=BOB, pinned=1000)
    dm.messages.add().message.CopyFrom(_info(BOB, "D1", 900, text="hi"))
    return sync


async def test_a_chunk_in_the_bridges_terms() -> None:
    chunk = build_chunk(_sync(), wa_e2e_pb2.HistorySyncNotification(), "notify-1")
    event = await translate_history_event(cast(Client, _Client()), chunk)
    assert isinstance(event, HistoryChunk)
    assert event.sync_type == "INITIAL_BOOTSTRAP" and not event.on_demand
    group, dm = event.chats
    assert (group.chat, group.name, group.unread_count, group.archived) == (
        GROUP,
        "Book club",
        2,
        True,
    )
    assert group.last_message_at == 1030
    # Oldest first; the revoked stub has nothing to show; LIDs named by phone number.
    [carol, mine, reaction] = group.messages
    assert (carol.message.id, carol.message.sender, carol.message.is_group) == ("G2", CAROL, True)
    assert carol.message.message.conversation == "from carol by lid"
    assert (mine.message.sender, mine.message.is_from_me) == (OWN, True)
    assert mine.message.message.conversation == "mine"  # the ephemeral wrapper is off
    assert mine.raw and wa_web_pb2.WebMessageInfo.FromString(mine.raw).key.ID == "G3"
    # The aggregated reaction is a reaction message of its own, after its target.
    assert reaction.reaction_to == "G3"
    assert reaction.message.sender == CAROL
    assert reaction.message.message.reactionMessage.key.ID == "G3"
    assert reaction.message.message.reactionMessage.text == "❤"
    assert dm.pinned_at == 1000 and [m.message.sender for m in dm.messages] == [BOB]


async def test_a_broken_chunk_is_reported() -> None:
    failed = HistorySyncFailed("m1", HistorySyncType.RECENT, 3, HistoryInflateError("truncated"))
    event = await translate_history_event(cast(Client, _Client()), failed)
    assert event == HistoryFailed("RECENT", 3, "truncated")
    assert await translate_history_event(cast(Client, _Client()), object()) is None


async def test_history_is_stored_until_bridged(database: Database) -> None:
    tables = BridgeDB(database)
    await tables.users.upsert(UserRow(mxid=ALICE))
    chunk = build_chunk(_sync(), wa_e2e_pb2.HistorySyncNotification(), "notify-1")
    event = await translate_history_event(cast(Client, _Client()), chunk)
    assert isinstance(event, HistoryChunk)
    assert await store_chunk(tables.history, ALICE, event) == 4
    assert await store_chunk(tables.history, ALICE, event) == 4  # a redelivery: no doubles
    history = tables.history
    pending = await history.pending_conversations(ALICE)
    assert [c.chat_jid for c in pending] == [GROUP, BOB]  # most recent first
    # The newest message only (reactions not counted), then the reactions to it.
    rows = await history.last_messages(ALICE, GROUP, 1)
    assert [(r.id, r.reaction_to) for r in rows] == [("G3", ""), (rows[1].id, "G3")]
    message = received_of(rows[0], is_group=True)
    assert (message.sender, message.is_from_me, message.timestamp) == (OWN, True, 1030.0)
    assert message.message.conversation == "mine"
    assert [r.id for r in await history.last_messages(ALICE, GROUP, 10)][:2] == ["G2", "G3"]

    await history.choose(ALICE, [GROUP])
    assert [c.chat_jid for c in await history.chosen_pending(ALICE)] == [GROUP]
    await history.mark_backfilled(ALICE, GROUP)
    assert await history.count_messages(ALICE, GROUP) == 0
    assert await history.chosen_pending(ALICE) == []
    # Later chunks don't refill a filled chat; an on-demand one (asked for) does.
    await store_chunk(history, ALICE, event)
    assert await history.count_messages(ALICE, GROUP) == 0
    on_demand = HistoryChunk("ON_DEMAND", 0, 100, event.chats[:1], on_demand=True)
    await store_chunk(history, ALICE, on_demand)
    assert await history.count_messages(ALICE, GROUP) == 3
    conv = await history.get_conversation(ALICE, GROUP)
    assert conv is not None and not conv.backfilled

    progress = await history.get_progress(ALICE)
    progress.chunks, progress.space_room = 3, "!space:example.org"
    await history.put_progress(progress)
    assert (await history.get_progress(ALICE)).chunks == 3
