"""Matrix → WhatsApp: one Matrix message sent to the chat (run in the portal queue).

A message that can't be converted or sent gets a notice in the room with the reason; a sent one
is stored in the message table under the user's JID. Either way a remote message-send
checkpoint reports the outcome (when ``homeserver.message_send_checkpoint_endpoint`` is set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import (
    EventID,
    EventType,
    MessageEventContent,
    MessageType,
    TextMessageEventContent,
)
from mautrix.util.message_send_checkpoint import MessageSendCheckpointStatus

from ..db import MessageRow
from ..session import SendFailed
from .convert import ConversionError
from .edits import check_matrix_edit
from .jids import user_jid
from .media import set_media_origin
from .relay import choose_sender

if TYPE_CHECKING:
    from ..user import User
    from .portal import Portal

SEND_FAILED_NOTICE = "Your message was not bridged: {}"


async def handle_message(
    portal: Portal, sender: User, content: MessageEventContent, event_id: EventID
) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    set_media_origin(sender)  # ---- media ---- (whose session uploads files)
    try:
        sender, content = await choose_sender(portal, sender, content)  # ---- relay ----
        await check_matrix_edit(portal, sender, content)
        message = await portal.from_matrix.to_whatsapp(portal, content)
        session = sender.session
        if session is None or sender.wa_jid is None:
            raise SendFailed("you're not logged in to WhatsApp")
        if not portal.is_group and user_jid(sender.wa_jid) != portal.receiver:
            raise SendFailed("this is another user's private chat")
        sent = await session.send_message(portal.jid, message)
    except (ConversionError, SendFailed) as e:
        portal.log.warning("Not sending %s to %s: %s", event_id, portal.jid, e)
        status = MessageSendCheckpointStatus.PERM_FAILURE
        sender.send_remote_checkpoint(status, event_id, room_id, EventType.ROOM_MESSAGE, error=e)
        await _notice(portal, room_id, SEND_FAILED_NOTICE.format(e))
        return
    row = MessageRow(
        chat_jid=portal.jid,
        receiver=portal.receiver,
        sender=user_jid(sender.wa_jid),
        id=sent.id,
        mxid=event_id,
        mx_room=room_id,
        timestamp=int(sent.timestamp * 1000),
    )
    await portal.bridge.tables.messages.insert(row)
    status = MessageSendCheckpointStatus.SUCCESS
    sender.send_remote_checkpoint(status, event_id, room_id, EventType.ROOM_MESSAGE)
    portal.log.debug("Sent %s to %s as %s", event_id, portal.jid, sent.id)


async def _notice(portal: Portal, room_id: str, text: str) -> None:
    content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
    try:
        await portal.main_intent.send_message(room_id, content)  # type: ignore[arg-type]
    except Exception:
        portal.log.warning("Couldn't send a notice to %s", room_id, exc_info=True)
