"""History chunks into the database (v12) as they arrive: chats with the phone's state of
them, and their messages until they are bridged. Push names and LID mappings are kept where
the bridge already keeps them (contacts, the client's LID map)."""

from __future__ import annotations

from ..db.history import HistoryConversationRow, HistoryMessageRow, HistoryTable
from ..session import HistoryChat, HistoryChunk, HistoryMessage, MessageReceived
from ..whatsapp.proto import wa_e2e_pb2


def conversation_row(user: str, chat: HistoryChat) -> HistoryConversationRow:
    return HistoryConversationRow(
        user_mxid=user,
        chat_jid=chat.chat,
        name=chat.name,
        last_message_at=int(chat.last_message_at),
        unread_count=chat.unread_count,
        marked_unread=chat.marked_unread,
        archived=chat.archived,
        pinned_at=int(chat.pinned_at),
        mute_end=int(chat.mute_end),
    )


def message_row(user: str, item: HistoryMessage) -> HistoryMessageRow:
    msg = item.message
    return HistoryMessageRow(
        user_mxid=user,
        chat_jid=msg.chat,
        sender=msg.sender,
        id=msg.id,
        timestamp=int(msg.timestamp * 1000),
        from_me=msg.is_from_me,
        push_name=msg.push_name,
        view_once=msg.is_view_once,
        reaction_to=item.reaction_to,
        content=msg.message.SerializeToString(),
        web_message_info=item.raw or None,
    )


def received_of(row: HistoryMessageRow, is_group: bool) -> MessageReceived:
    """A stored message as a live delivery would hand it to the portal."""
    content = wa_e2e_pb2.Message()
    content.ParseFromString(row.content)
    return MessageReceived(
        chat=row.chat_jid,
        sender=row.sender,
        id=row.id,
        timestamp=row.timestamp / 1000,
        is_from_me=row.from_me,
        is_group=is_group,
        message=content,
        push_name=row.push_name,
        is_view_once=row.view_once,
    )


async def store_chunk(table: HistoryTable, user: str, chunk: HistoryChunk) -> int:
    """Store one chunk; returns how many messages it held."""
    count = 0
    for chat in chunk.chats:
        await table.put_conversation(conversation_row(user, chat))
        stored = await table.get_conversation(user, chat.chat)
        if stored is not None and stored.backfilled:
            if not chunk.on_demand:
                continue  # older messages of a filled portal: not bridged into its past
            await table.reset_conversation(user, chat.chat)  # asked for: fill it again
        rows = [message_row(user, m) for m in chat.messages]
        await table.put_messages(rows)
        count += len(rows)
    return count
