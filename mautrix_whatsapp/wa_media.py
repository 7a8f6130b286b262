"""Media on the real client, for :class:`~mautrix_whatsapp.wa_session.ClientSession`: download
(with media retry for expired files) and upload through ``client.media``.

Kept apart from ``wa_session`` so the session only delegates; everything here still speaks the
seam's vocabulary (``MessageReceived``) on one side and the client's on the other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from . import session as s
from .whatsapp.binary.errors import JIDParseError
from .whatsapp.binary.jid import JID
from .whatsapp.client import Client
from .whatsapp.media import MediaError, MediaRef, MediaType, UploadResult, media_ref
from .whatsapp.message_info import MessageInfo
from .whatsapp.proto import wa_e2e_pb2

RETRY_TIMEOUT = 30.0
"""How long a download waits for the phone to re-upload expired media."""


class MediaUnavailable(MediaError):
    """The message carries no downloadable file, or the session can't download now."""


def origin_info(origin: s.MessageReceived) -> MessageInfo:
    """The client's view of a received message, as much as a media retry needs (who sent it
    where, its id): a retry receipt names the chat, the sender in groups and from-me."""
    try:
        chat, sender = JID.parse(origin.chat), JID.parse(origin.sender)
    except JIDParseError as e:
        raise MediaUnavailable(f"the message's JIDs are invalid: {e}") from e
    return MessageInfo(
        chat=chat,
        sender=sender,
        id=origin.id,
        timestamp=datetime.fromtimestamp(origin.timestamp, UTC),
        is_from_me=origin.is_from_me,
        is_group=origin.is_group,
    )


async def download_message_media(
    client: Client | None, message: wa_e2e_pb2.Message, origin: s.MessageReceived | None
) -> bytes:
    """The file of ``message``; an expired file is re-requested from the phone when the
    message it came in is known."""
    if client is None or not client.is_logged_in:
        raise MediaUnavailable("not connected to WhatsApp")
    ref: MediaRef | None = media_ref(message)
    if ref is None:
        raise MediaUnavailable("the message has no downloadable file")
    if origin is None:
        return await client.media.download(ref)
    info = origin_info(origin)
    return await client.media.download_or_retry(ref, info, timeout=RETRY_TIMEOUT)


async def upload_media_data(
    client: Client | None, data: bytes, media_type: MediaType
) -> UploadResult:
    if client is None or not client.is_logged_in:
        raise MediaUnavailable("not connected to WhatsApp")
    return await client.media.upload(data, media_type)
