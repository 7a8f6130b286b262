"""One media request: ask the phone for an expired file, and replace the placeholder.

The phone is asked through the session's media retry (it re-uploads the file and answers
with its new path, or says it can't); this waits outside the portal's queue, so live messages
go on meanwhile. The file is then converted by the live path's converter (caption, thumbnail,
encryption as any media message) and the placeholder is edited into it: an ``m.replace``
whose ``m.new_content`` is the media content, as the mautrix bridges do. If the phone can't,
the placeholder is edited to say so (the Go bridge's text). Either way the request is done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mautrix.types import EventID, EventType, RoomID

from .. import double_puppet
from ..portal.from_whatsapp import _sender_intent as sender_intent
from ..portal.media import prefetched_media, set_media_origin
from ..session import MessageReceived
from ..wa_media import MediaUnavailable
from ..whatsapp.media.errors import MediaError
from ..whatsapp.proto import wa_e2e_pb2

if TYPE_CHECKING:
    from ..db.media_request import MediaRequestRow
    from ..portal.portal import Portal
    from ..user import User

RETRY_FAILED_NOTICE = "Failed to bridge media after re-requesting it from your phone: {}"
"""The Go bridge's text when the phone could not supply the file."""
_CAPTION_FIELDS = ("imageMessage", "videoMessage", "documentMessage")


def received_of(row: MediaRequestRow) -> MessageReceived:
    """The requested message as the live path would receive it."""
    return MessageReceived(
        chat=row.chat_jid,
        sender=row.sender,
        id=row.message_id,
        timestamp=row.timestamp / 1000,
        is_from_me=row.from_me,
        is_group=row.is_group,
        message=wa_e2e_pb2.Message.FromString(row.content),
    )


def _caption(message: wa_e2e_pb2.Message) -> str:
    for name in _CAPTION_FIELDS:
        if message.HasField(name):
            return str(getattr(message, name).caption)
    return ""


def failure_content(message: wa_e2e_pb2.Message, reason: str) -> dict[str, Any]:
    """The placeholder's final text when the phone could not supply the file."""
    body = RETRY_FAILED_NOTICE.format(reason)
    caption = _caption(message)
    return {"msgtype": "m.notice", "body": f"{body}\n\n{caption}" if caption else body}


def replacement(event_id: str, new_content: dict[str, Any]) -> dict[str, Any]:
    """An ``m.replace`` of ``event_id`` showing ``new_content`` (no reply relation inside)."""
    new_content = {k: v for k, v in new_content.items() if k != "m.relates_to"}
    return {
        **new_content,
        "m.new_content": new_content,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


async def fill_media_request(user: User, row: MediaRequestRow) -> None:
    """Handle one pending request; it stays pending when the session is not connected
    (taken up again on the next connection)."""
    table = user.bridge.tables.media_requests
    portal = await user.bridge.portals.get_by_jid(row.chat_jid, row.receiver)
    if portal is None or portal.mxid is None or str(portal.mxid) != row.mx_room:
        await table.finish(row, "the portal is gone")
        return
    session = user.session
    if session is None:
        return
    received = received_of(row)
    try:
        data = await session.download_media(received.message, received)
    except MediaUnavailable as e:
        user.log.debug("Media request for %s waits for a connection: %s", row.message_id, e)
        return
    except MediaError as e:
        user.log.info("The phone could not supply the media of %s: %s", row.message_id, e)
        reason = str(e) or type(e).__name__
        await portal.queue.run(
            lambda: _edit(portal, user, row, received, failure_content(received.message, reason))
        )
        await table.finish(row, reason)
        return

    async def replace() -> None:
        await _edit(portal, user, row, received, await _converted(portal, user, row, data))

    await portal.queue.run(replace)
    await table.finish(row)


async def _converted(
    portal: Portal, user: User, row: MediaRequestRow, data: bytes
) -> dict[str, Any]:
    """The media content of the message (its ``row.part``), converted with the file given."""
    received = received_of(row)
    set_media_origin(user, received)
    token = prefetched_media.set(data)
    try:
        parts = await portal.to_matrix.to_matrix(portal, received)
    finally:
        prefetched_media.reset(token)
    if not parts:
        return failure_content(received.message, "nothing to show")
    part = parts[min(row.part, len(parts) - 1)]
    content: Any = part.content
    serialized = content.serialize() if hasattr(content, "serialize") else content
    return dict(serialized)


async def _edit(
    portal: Portal,
    user: User,
    row: MediaRequestRow,
    received: MessageReceived,
    new_content: dict[str, Any],
) -> None:
    intent = await sender_intent(portal, user, received)
    content: Any = replacement(row.event_id, new_content)
    double_puppet.mark_edit(intent, content)
    event_id: EventID = await intent.send_message_event(
        RoomID(row.mx_room), EventType.ROOM_MESSAGE, content
    )
    portal.log.debug("Placeholder %s of %s replaced by %s", row.event_id, row.message_id, event_id)
