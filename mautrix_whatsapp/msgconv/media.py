"""WhatsApp media messages (image, video, gif, audio, voice note, document, sticker) → Matrix.

As the Go bridge (``pkg/msgconv/wa-media.go``): the caption is the event's ``body`` beside a
generated ``filename`` (MSC2530), so one event carries both; ``info`` has the mimetype, size,
dimensions and duration the message declares; voice notes carry MSC3245 ``voice`` and MSC1767
``audio`` (duration in ms, waveform); gifs are videos flagged ``fi.mau.gif`` in ``info``;
stickers are ``m.sticker`` scaled to WhatsApp's 190 px. When the message has a
``JPEGThumbnail`` it is uploaded as the event's thumbnail. A download or upload failure becomes
an ``m.notice`` saying what could not be bridged and why, with the caption kept.
"""

from __future__ import annotations

import io
import logging
import mimetypes
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..formatter import FormattedText
from ..whatsapp.media.errors import MediaExpiredError
from ..whatsapp.proto import wa_e2e_pb2
from .types import ConvertedPart, ToMatrixContext

log = logging.getLogger("mau.whatsapp.msgconv.media")

MediaMessage = (
    wa_e2e_pb2.ImageMessage
    | wa_e2e_pb2.VideoMessage
    | wa_e2e_pb2.AudioMessage
    | wa_e2e_pb2.DocumentMessage
    | wa_e2e_pb2.StickerMessage
)

STICKER_SIZE = 190
"""WhatsApp shows stickers at 190 px; Matrix clients size them by ``info.w``/``info.h``."""

OLD_MEDIA_SUFFIX = "Requesting old media is not enabled on this bridge."
REQUESTED_MEDIA_SUFFIX = "Media will be automatically requested from your phone later."
"""The Go bridge's placeholder text for a backfilled file that expired (legacy ``portal.go``)."""


class MediaRequested(MediaExpiredError):
    """The file expired and will be asked of the phone later (a backfill doesn't wait for
    it): the notice is a placeholder that says so."""


# Go's exmime.ExtensionFromMimetype prefers these over Python's first guess.
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "text/plain": ".txt",
    "text/vcard": ".vcf",
    "application/was": ".was",
}


def extension_for(mimetype: str) -> str:
    """The file extension for a mimetype (parameters like ``; codecs=opus`` ignored)."""
    base = mimetype.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ""


@dataclass
class _Prepared:
    """What the message declares, before any byte is downloaded."""

    event_type: str
    content: dict[str, Any]
    type_description: str


def type_description(message: MediaMessage, *, ptv: bool = False) -> str:
    """The Go bridge's name for a media kind, used in failure notices ("photo", …)."""
    if isinstance(message, wa_e2e_pb2.ImageMessage):
        return "photo"
    if isinstance(message, wa_e2e_pb2.StickerMessage):
        return "sticker"
    if isinstance(message, wa_e2e_pb2.VideoMessage):
        return "video message" if ptv else "video attachment"
    if isinstance(message, wa_e2e_pb2.AudioMessage):
        return "voice message" if message.PTT else "audio attachment"
    return "file attachment"


def _fix_sticker_dimensions(info: dict[str, Any]) -> None:
    width, height = info.get("w", 0), info.get("h", 0)
    if width == height or not width or not height:
        info["w"] = info["h"] = STICKER_SIZE
    elif width > height:
        info["h"], info["w"] = round(height * STICKER_SIZE / width), STICKER_SIZE
    else:
        info["w"], info["h"] = round(width * STICKER_SIZE / height), STICKER_SIZE


def prepare(message: MediaMessage, *, ptv: bool = False) -> _Prepared:
    """The event type and content (without ``url``) the message's own fields give."""
    mimetype = message.mimetype
    info: dict[str, Any] = {}
    if mimetype:
        info["mimetype"] = mimetype
    if message.fileLength:
        info["size"] = message.fileLength
    sized = wa_e2e_pb2.ImageMessage | wa_e2e_pb2.VideoMessage | wa_e2e_pb2.StickerMessage
    if isinstance(message, sized) and message.width and message.height:
        info["w"], info["h"] = message.width, message.height
    if isinstance(message, wa_e2e_pb2.StickerMessage):
        _fix_sticker_dimensions(info)
    if isinstance(message, wa_e2e_pb2.VideoMessage | wa_e2e_pb2.AudioMessage) and message.seconds:
        info["duration"] = message.seconds * 1000
    content: dict[str, Any] = {"info": info}
    event_type = "m.room.message"
    ext = extension_for(mimetype)
    if isinstance(message, wa_e2e_pb2.ImageMessage):
        content["msgtype"], filename = "m.image", "image" + ext
    elif isinstance(message, wa_e2e_pb2.StickerMessage):
        event_type, filename = "m.sticker", "sticker" + ext
    elif isinstance(message, wa_e2e_pb2.VideoMessage):
        content["msgtype"], filename = "m.video", "video" + ext
        paired = message.contextInfo.pairedMediaType
        motion = {
            wa_e2e_pb2.ContextInfo.MOTION_PHOTO_PARENT,
            wa_e2e_pb2.ContextInfo.MOTION_PHOTO_CHILD,
        }
        if message.gifPlayback or paired in motion:
            for flag in ("gif", "loop", "autoplay", "hide_controls", "no_audio"):
                info[f"fi.mau.{flag}"] = True
    elif isinstance(message, wa_e2e_pb2.AudioMessage):
        content["msgtype"], filename = "m.audio", "audio" + ext
        content["org.matrix.msc1767.audio"] = {
            "duration": message.seconds * 1000,
            "waveform": list(message.waveform),
        }
        if message.PTT:
            content["org.matrix.msc3245.voice"] = {}
            filename = "Voice message" + ext
    else:
        content["msgtype"] = "m.file"
        filename = message.fileName or message.title or "file" + ext
    caption = (
        getattr(message, "caption", "") if "caption" in message.DESCRIPTOR.fields_by_name else ""
    )
    if event_type != "m.sticker":
        content["filename"] = filename
    content["body"] = caption or filename
    return _Prepared(event_type, content, type_description(message, ptv=ptv))


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return width, height
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None


async def upload_thumbnail(ctx: ToMatrixContext, jpeg: bytes, info: dict[str, Any]) -> None:
    """Upload a message's ``JPEGThumbnail`` into ``info`` (a failure only loses the preview)."""
    try:
        info["thumbnail_url"] = await ctx.upload_media(jpeg, "image/jpeg", "thumbnail.jpg")
    except Exception as e:
        log.warning("Failed to upload thumbnail: %s", e)
        return
    thumbnail_info: dict[str, Any] = {"mimetype": "image/jpeg", "size": len(jpeg)}
    if size := _image_size(jpeg):
        thumbnail_info["w"], thumbnail_info["h"] = size
    info["thumbnail_info"] = thumbnail_info


def _failure_notice(prepared: _Prepared, error: Exception) -> ConvertedPart:
    """The Go bridge's failure notice, with the reason, keeping the caption."""
    kind = prepared.type_description
    if isinstance(error, MediaRequested):
        text = f"Old {kind}. {REQUESTED_MEDIA_SUFFIX}"
    elif isinstance(error, MediaExpiredError):
        text = f"Old {kind}. {OLD_MEDIA_SUFFIX}"
    else:
        reason = str(error) or type(error).__name__
        text = f"Failed to bridge {kind}, please view it on the WhatsApp app ({reason})"
    content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
    body, filename = prepared.content["body"], prepared.content.get("filename")
    if "formatted_body" in prepared.content:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = f"{text}<br><br>{prepared.content['formatted_body']}"
        content["body"] = f"{text}\n\n{body}"
    elif filename and body != filename:
        content["body"] = f"{text}\n\n{body}"
    return ConvertedPart("m.room.message", content)


async def convert_media(
    ctx: ToMatrixContext,
    message: MediaMessage,
    *,
    ptv: bool = False,
    caption: FormattedText | None = None,
) -> ConvertedPart:
    """Download, re-upload and describe one media message; never raises for bad media.

    ``caption`` is the message's caption rendered by the formatter (mentions resolved).
    """
    prepared = prepare(message, ptv=ptv)
    content = prepared.content
    if caption is not None and caption.body and content.get("filename") != content["body"]:
        content["body"] = caption.body
        if caption.html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = caption.html
    info: dict[str, Any] = content["info"]
    try:
        data = await ctx.download_media(message)
        mimetype = info.get("mimetype") or Image.MIME.get(_format_of(data) or "", "")
        mimetype = mimetype or "application/octet-stream"
        info["mimetype"] = mimetype
        info.setdefault("size", len(data))
        filename = content.get("filename") or "sticker" + extension_for(mimetype)
        content["url"] = await ctx.upload_media(data, mimetype, filename)
    except Exception as e:
        log.warning("Failed to bridge WhatsApp %s: %s", prepared.type_description, e)
        return _failure_notice(prepared, e)
    jpeg = getattr(message, "JPEGThumbnail", b"")
    if jpeg and prepared.event_type != "m.sticker":
        await upload_thumbnail(ctx, jpeg, info)
    return ConvertedPart(prepared.event_type, content)


def _format_of(data: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None
