"""Matrix → WhatsApp: one Matrix message sent to the chat (run in the portal queue).

A message that can't be converted or sent gets a notice in the room with the reason; a sent one
is stored in the message table under the user's JID. Either way a remote message-send
checkpoint reports the outcome (when ``homeserver.message_send_checkpoint_endpoint`` is set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import (
    EventID,
    MessageEventContent,
)

from ..db import MessageRow
from ..session import SendFailed
from .connection_wait import send_through_drops, wait_until_connected
from .convert import ConversionError
from .counting import count_to_whatsapp
from .disappearing import add_expiration, after_matrix_message
from .edits import check_matrix_edit
from .jids import user_jid
from .media import set_media_origin
from .relay import choose_sender
from .send_once import InterruptedSend, check_not_started
from .status import NotLoggedIn, report_failure, report_success, unknown_reply_notice
from .status_broadcast import check_send as check_status_send

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
    # ---- faults ---- (a re-run after a crash, or a retried transaction: sent already)
    if await portal.bridge.tables.messages.get_by_mxid(event_id, room_id) is not None:
        portal.log.debug("Dropping %s: already sent to WhatsApp", event_id)
        return
    set_media_origin(sender)  # ---- media ---- (whose session uploads files)
    try:
        sender, content = await choose_sender(portal, sender, content)  # ---- relay ----
        await check_matrix_edit(portal, sender, content)
        check_status_send(portal)  # ---- receipts ----
        message = await portal.from_matrix.to_whatsapp(portal, content)
        timer = await add_expiration(portal, message)  # ---- receipts ----
        await wait_until_connected(sender)  # ---- faults ----
        session = sender.session
        if session is None or sender.wa_jid is None:
            raise NotLoggedIn("you're not logged in to WhatsApp")
        if not portal.is_group and user_jid(sender.wa_jid) != portal.receiver:
            raise NotLoggedIn("this is another user's private chat")
        await check_not_started(portal, event_id)  # ---- faults ----
        sent = await send_through_drops(sender, portal.jid, message)  # ---- faults ----
    except (ConversionError, SendFailed, InterruptedSend) as e:
        await report_failure(portal, sender, event_id, e)
        return
    except Exception as e:  # a converter's bug must still be reported, and not stop the queue
        portal.log.exception("Unexpected error sending %s to %s", event_id, portal.jid)
        await report_failure(portal, sender, event_id, e)
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
    await after_matrix_message(portal, room_id, event_id, sent.timestamp, timer)  # receipts
    await report_success(portal, sender, event_id)
    count_to_whatsapp(content)
    await unknown_reply_notice(portal, content, event_id)
    portal.log.debug("Sent %s to %s as %s", event_id, portal.jid, sent.id)
