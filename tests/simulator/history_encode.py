"""The phone's memory as ``HistorySync`` protobufs: what each sync type holds, in chunks.

Written from whatsmeow ``proto/waHistorySync`` and Baileys ``src/Utils/history.ts`` (how a
companion reads them):

- a message is a ``WebMessageInfo`` (key with ``participant`` in groups, ``messageTimestamp``,
  ``pushName`` for others' messages, ``participant``, ``status``, ``reactions``, the message;
  a revoked one is a ``REVOKE`` stub without content, an edited one its last edit, see
  :func:`edit_of`);
- a chat is a ``Conversation`` (``ID``, messages newest first, ``name`` = group subject or
  contact name, ``lidJID`` of a DM, unread count, pinned, archived, ``muteEndTime``,
  timestamps);
- ``INITIAL_BOOTSTRAP`` holds the most recent chats with their last messages, ``RECENT`` the
  rest of the recent window, ``FULL`` (companions with ``requireFullSync``) what is older, within
  ``fullSyncDaysLimit`` and the size limits; ``PUSH_NAME`` the push names; ``NON_BLOCKING_DATA``
  the PN→LID mappings; ``ON_DEMAND`` the next older messages of one chat.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.proto import (
    wa_companion_reg_pb2,
    wa_e2e_pb2,
    wa_history_sync_pb2,
    wa_web_pb2,
)

from .phone_memory import Chat, PhoneMemory, StoredMessage

HistorySync = wa_history_sync_pb2.HistorySync
HistorySyncConfig = wa_companion_reg_pb2.DeviceProps.HistorySyncConfig

BOOTSTRAP_CHATS = 100
"""Chats in the initial bootstrap (the most recent ones; the rest come with RECENT)."""
BOOTSTRAP_MESSAGES = 20
"""Messages per chat in the initial bootstrap, unless ``initialSyncMaxMessagesPerChat`` says."""
RECENT_DAYS = 90
"""The recent window when the companion sets no ``recentSyncDaysLimit`` (about 3 months, as
mautrix-whatsapp documents for a companion without full sync)."""
FULL_DAYS = 365
"""The full-sync window when the companion sets no ``fullSyncDaysLimit`` (one year)."""
CHUNK_BYTES = 256 * 1024
"""Serialized size after which a sync is cut into another chunk."""
DAY = 86400


@dataclass(frozen=True)
class SyncPlan:
    """Which messages of a memory go to one companion, by sync type."""

    bootstrap: list[tuple[Chat, list[StoredMessage]]]
    recent: list[tuple[Chat, list[StoredMessage]]]
    full: list[tuple[Chat, list[StoredMessage]]]


def web_message(stored: StoredMessage, own_jid: str = "") -> wa_web_pb2.WebMessageInfo:
    info = wa_web_pb2.WebMessageInfo()
    info.key.remoteJID = stored.chat
    info.key.fromMe = stored.from_me
    info.key.ID = stored.id
    group = stored.chat.endswith("@g.us")
    if group and not stored.from_me:
        info.key.participant = stored.sender
        info.participant = stored.sender
    info.messageTimestamp = stored.timestamp
    info.status = stored.status  # type: ignore[assignment]
    if stored.push_name and not stored.from_me:
        info.pushName = stored.push_name
    if stored.revoked:
        info.messageStubType = wa_web_pb2.WebMessageInfo.REVOKE
    elif stored.edited:
        info.message.CopyFrom(edit_of(stored))
    else:
        info.message.CopyFrom(stored.message)
    for reaction in stored.reactions:
        added = info.reactions.add()
        added.key.remoteJID = stored.chat
        added.key.fromMe = reaction.sender == own_jid
        if group:
            added.key.participant = reaction.sender
        added.text = reaction.emoji
        added.senderTimestampMS = reaction.timestamp * 1000
    return info


def edit_of(stored: StoredMessage) -> wa_e2e_pb2.Message:
    """An edited message as the phone keeps it for history: the edit itself (an
    ``editedMessage`` wrapping a ``protocolMessage`` ``MESSAGE_EDIT`` whose key is the original
    message and whose ``editedMessage`` is the latest content), under the original's key and
    timestamp; whatsmeow's ``ParseWebMessage`` turns it back into the original id with the new
    content."""
    edit = wa_e2e_pb2.Message()
    protocol = edit.editedMessage.message.protocolMessage
    protocol.type = wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
    protocol.key.remoteJID = stored.chat
    protocol.key.fromMe = stored.from_me
    protocol.key.ID = stored.id
    if stored.chat.endswith("@g.us") and not stored.from_me:
        protocol.key.participant = stored.sender
    protocol.editedMessage.CopyFrom(stored.message)
    protocol.timestampMS = stored.edited_at_ms or stored.timestamp * 1000
    return edit


def conversation(
    chat: Chat, messages: list[StoredMessage], own_jid: str, lid: str = "", name: str = ""
) -> wa_history_sync_pb2.Conversation:
    """``messages`` oldest first, as the memory keeps them; the conversation lists them newest
    first, as phones do (Baileys takes the first one as the chat's last message)."""
    conv = wa_history_sync_pb2.Conversation(ID=chat.jid)
    for order, stored in enumerate(reversed(messages), start=1):
        conv.messages.add(msgOrderID=order).message.CopyFrom(web_message(stored, own_jid))
    if name or chat.name:
        conv.name = name or chat.name
    if lid:
        conv.lidJID = lid
    if chat.last_timestamp:
        conv.lastMsgTimestamp = chat.last_timestamp
        conv.conversationTimestamp = chat.last_timestamp
    conv.unreadCount = chat.unread_count
    if chat.marked_unread:
        conv.markedAsUnread = True
    if chat.pinned:
        conv.pinned = chat.pinned
    if chat.archived:
        conv.archived = True
    if chat.mute_end:
        conv.muteEndTime = chat.mute_end if chat.mute_end > 0 else 0xFFFFFFFFFFFFFFFF >> 1
    if chat.ephemeral_expiration:
        conv.ephemeralExpiration = chat.ephemeral_expiration
    return conv


def plan(
    memory: PhoneMemory, config: HistorySyncConfig, full: bool, now: int | None = None
) -> SyncPlan:
    """Split the memory between the sync types for a companion with this config."""
    now = int(time.time()) if now is None else now
    recent_days = config.recentSyncDaysLimit or RECENT_DAYS
    recent_since = now - recent_days * DAY
    per_chat = config.initialSyncMaxMessagesPerChat or BOOTSTRAP_MESSAGES
    chats = [chat for chat in memory.recent_chats() if chat.messages or chat.name]
    bootstrap: list[tuple[Chat, list[StoredMessage]]] = []
    recent: list[tuple[Chat, list[StoredMessage]]] = []
    older: list[tuple[Chat, list[StoredMessage]]] = []
    for rank, chat in enumerate(chats):
        window = [m for m in chat.messages if m.timestamp >= recent_since]
        rest = [m for m in chat.messages if m.timestamp < recent_since]
        if rank < BOOTSTRAP_CHATS:
            bootstrap.append((chat, window[-per_chat:]))
            window = window[:-per_chat] if len(window) > per_chat else []
        if window:
            recent.append((chat, window))
        if rest:
            older.append((chat, rest))
    return SyncPlan(bootstrap, recent, _full_part(older, config, now) if full else [])


def _full_part(
    older: list[tuple[Chat, list[StoredMessage]]], config: HistorySyncConfig, now: int
) -> list[tuple[Chat, list[StoredMessage]]]:
    """Older messages within ``fullSyncDaysLimit``, newest first across chats until the
    smallest of ``fullSyncSizeMbLimit`` and ``storageQuotaMb`` is reached."""
    since = now - (config.fullSyncDaysLimit or FULL_DAYS) * DAY
    limits = [mb for mb in (config.fullSyncSizeMbLimit, config.storageQuotaMb) if mb]
    budget = min(limits) * 1024 * 1024 if limits else None
    candidates = sorted(
        ((m, chat) for chat, messages in older for m in messages if m.timestamp >= since),
        key=lambda pair: pair[0].timestamp,
        reverse=True,
    )
    kept: dict[str, list[StoredMessage]] = {}
    chats: dict[str, Chat] = {}
    for stored, chat in candidates:
        if budget is not None:
            budget -= web_message(stored).ByteSize()
            if budget < 0:
                break
        kept.setdefault(chat.jid, []).append(stored)
        chats[chat.jid] = chat
    return [(chats[jid], sorted(ms, key=lambda m: m.timestamp)) for jid, ms in kept.items()]


def chunks(
    sync_type: wa_history_sync_pb2.HistorySync.HistorySyncType,
    conversations: list[wa_history_sync_pb2.Conversation],
    limit: int = CHUNK_BYTES,
) -> list[HistorySync]:
    """Cut conversations into ``HistorySync`` chunks of about ``limit`` bytes (a chat whose
    messages alone are larger is split between chunks), ``chunkOrder`` and ``progress`` set."""
    result: list[HistorySync] = []
    current = HistorySync(syncType=sync_type)
    for conv in conversations:
        if conv.ByteSize() > limit and len(conv.messages) > 1:
            parts = _split(conv, limit)
        else:
            parts = [conv]
        for part in parts:
            if current.conversations and current.ByteSize() + part.ByteSize() > limit:
                result.append(current)
                current = HistorySync(syncType=sync_type)
            current.conversations.append(part)
    result.append(current)
    number(result)
    return result


def _split(
    conv: wa_history_sync_pb2.Conversation, limit: int
) -> list[wa_history_sync_pb2.Conversation]:
    parts: list[wa_history_sync_pb2.Conversation] = []
    head = wa_history_sync_pb2.Conversation()
    head.CopyFrom(conv)
    del head.messages[:]
    current = wa_history_sync_pb2.Conversation()
    current.CopyFrom(head)
    for msg in conv.messages:
        if current.messages and current.ByteSize() + msg.ByteSize() > limit:
            parts.append(current)
            current = wa_history_sync_pb2.Conversation(ID=conv.ID)
        current.messages.append(msg)
    parts.append(current)
    return parts


def number(syncs: list[HistorySync]) -> None:
    for order, sync in enumerate(syncs):
        sync.chunkOrder = order
        sync.progress = (order + 1) * 100 // len(syncs)


def push_names(memory: PhoneMemory) -> HistorySync:
    sync = HistorySync(syncType=HistorySync.PUSH_NAME, chunkOrder=0, progress=100)
    for jid, name in sorted(memory.push_names.items()):
        sync.pushnames.add(ID=jid, pushname=name)
    return sync


def lid_mappings(pairs: list[tuple[str, str]]) -> HistorySync:
    sync = HistorySync(syncType=HistorySync.NON_BLOCKING_DATA, chunkOrder=0, progress=100)
    for pn, lid in pairs:
        sync.phoneNumberToLidMappings.add(pnJID=pn, lidJID=lid)
    return sync


def compress(sync: HistorySync) -> bytes:
    return zlib.compress(sync.SerializeToString())
