"""History sync in the bridge's vocabulary: the client's chunks become :class:`~.session.
HistoryChunk` events (the client side of the seam, beside ``wa_session``).

Each stored ``WebMessageInfo`` becomes the :class:`~.session.MessageReceived` a live delivery
of it would have been (wrappers taken off as the client does, people named by phone number
where the LID map knows it), so the bridge converts history with its live path. Reactions the
phone keeps aggregated on a message become reaction messages of their own, after it.
"""

from __future__ import annotations

from . import session as s
from .whatsapp.binary import BinaryError
from .whatsapp.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, JID
from .whatsapp.client import Client
from .whatsapp.events import HistoryConversation, HistorySyncChunk, HistorySyncFailed
from .whatsapp.events import HistorySyncType as SyncType
from .whatsapp.message import strip_wrappers
from .whatsapp.proto import wa_e2e_pb2, wa_web_pb2


def _parse(text: str) -> JID | None:
    if not text:
        return None
    try:
        return JID.parse(text).to_non_ad()
    except BinaryError:
        return None


async def _person(client: Client, jid: JID) -> str:
    """A user as the bridge names them: the phone-number JID when the LID map knows it."""
    if jid.server == HIDDEN_USER_SERVER:
        pn = await client.lids.get_pn(jid)
        if pn is not None:
            return str(pn.to_non_ad())
    return str(jid)


def unwrap_history(message: wa_e2e_pb2.Message) -> tuple[wa_e2e_pb2.Message, bool]:
    """The content as a live delivery hands it over (the client's order), and view-once."""
    content, _, view_once, _ = strip_wrappers(message)
    return content, view_once


def applied_edit(content: wa_e2e_pb2.Message, message_id: str) -> tuple[wa_e2e_pb2.Message, str]:
    """The phone keeps an edited message as its last edit (a ``MESSAGE_EDIT`` protocol
    message): like whatsmeow's ``ParseWebMessage``, it becomes the edited message's own id with
    the new content, so the room shows the message as it reads now."""
    protocol = content.protocolMessage
    if (
        content.HasField("protocolMessage")
        and protocol.HasField("type")
        and protocol.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
        and protocol.HasField("editedMessage")
    ):
        return protocol.editedMessage, protocol.key.ID or message_id
    return content, message_id


async def _messages(
    client: Client, chat: str, is_group: bool, own: str, info: wa_web_pb2.WebMessageInfo
) -> list[s.HistoryMessage]:
    """The message (none for stubs and empty ones) and its aggregated reactions."""
    if not info.key.ID or not info.HasField("message"):
        return []
    content, view_once = unwrap_history(info.message)
    content, message_id = applied_edit(content, info.key.ID)
    if content.ByteSize() == 0:
        return []
    if info.key.fromMe:
        sender = own
    elif is_group:
        jid = _parse(info.key.participant) or _parse(info.participant)
        if jid is None:
            return []
        sender = await _person(client, jid)
    else:
        sender = chat
    received = s.MessageReceived(
        chat=chat,
        sender=sender,
        id=message_id,
        timestamp=float(info.messageTimestamp),
        is_from_me=info.key.fromMe,
        is_group=is_group,
        message=content,
        push_name=info.pushName,
        is_view_once=view_once,
    )
    out = [s.HistoryMessage(received, info.SerializeToString())]
    for reaction in info.reactions:
        if not reaction.text:
            continue
        if reaction.key.fromMe:
            reactor = own
        elif is_group:
            jid = _parse(reaction.key.participant)
            if jid is None:
                continue
            reactor = await _person(client, jid)
        else:
            reactor = chat
        react = wa_e2e_pb2.Message()
        react.reactionMessage.key.remoteJID = info.key.remoteJID
        react.reactionMessage.key.fromMe = info.key.fromMe
        react.reactionMessage.key.ID = message_id
        if info.key.participant:
            react.reactionMessage.key.participant = info.key.participant
        react.reactionMessage.text = reaction.text
        react.reactionMessage.senderTimestampMS = reaction.senderTimestampMS
        at = reaction.senderTimestampMS / 1000 or float(info.messageTimestamp)
        reaction_msg = s.MessageReceived(
            chat=chat,
            sender=reactor,
            id=f"history-reaction-{message_id}-{reactor.split('@', 1)[0]}",
            timestamp=at,
            is_from_me=reactor == own,
            is_group=is_group,
            message=react,
        )
        out.append(s.HistoryMessage(reaction_msg, reaction_to=message_id))
    return out


async def _chat(client: Client, conv: HistoryConversation, own: str) -> s.HistoryChat:
    jid = conv.chat.to_non_ad()
    if jid.server == HIDDEN_USER_SERVER and conv.alt_jid is not None:
        jid = conv.alt_jid.to_non_ad()  # a DM named by LID: the bridge keys it by number
    chat = await _person(client, jid) if jid.server != DEFAULT_USER_SERVER else str(jid)
    messages: list[s.HistoryMessage] = []
    for info in reversed(conv.messages):  # the phone lists them newest first
        messages.extend(await _messages(client, chat, jid.is_group, own, info))
    last = max((m.message.timestamp for m in messages if not m.reaction_to), default=0.0)
    last = max(last, float(conv.raw.lastMsgTimestamp), float(conv.raw.conversationTimestamp))
    mute = conv.mute_end
    return s.HistoryChat(
        chat=chat,
        name=conv.name,
        last_message_at=last,
        unread_count=conv.unread_count,
        marked_unread=conv.marked_as_unread,
        archived=conv.archived,
        pinned_at=conv.pinned_at.timestamp() if conv.pinned_at else 0.0,
        mute_end=0.0 if mute is None else (-1.0 if mute.year == 9999 else mute.timestamp()),
        messages=tuple(messages),
    )


async def translate_history_event(
    client: Client, event: object
) -> s.HistoryChunk | s.HistoryFailed | None:
    """A history chunk (or its failure) for the bridge; None for every other event."""
    match event:
        case HistorySyncChunk() if client.device.jid is not None:
            own = str(client.device.jid.to_non_ad())
            chats = [await _chat(client, conv, own) for conv in event.conversations]
            return s.HistoryChunk(
                sync_type=event.sync_type.name,
                chunk_order=event.chunk_order,
                progress=event.progress,
                chats=tuple(chats),
                on_demand=event.sync_type == SyncType.ON_DEMAND,
            )
        case HistorySyncFailed():
            return s.HistoryFailed(event.sync_type.name, event.chunk_order, str(event.error))
    return None
