"""Matrix media events → WhatsApp media messages: download from the homeserver, convert what
WhatsApp needs in another format, upload, describe (Go ``reuploadFileToWhatsApp`` and
``constructMediaMessage``).

Pillow does the image conversions (PNG/WebP → JPEG photos, anything → square WebP stickers).
Video and audio transcoding needs an optional :class:`MediaConverter` (ffmpeg in practice); without
one, a format WhatsApp refuses is reported by name instead of being sent broken.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from ..whatsapp.media.builders import MediaFields, build_media_message
from ..whatsapp.media.metadata import (
    probe_duration,
    probe_image,
    probe_video_size,
    resample_waveform,
)
from ..whatsapp.media.types import MediaType
from ..whatsapp.proto import wa_e2e_pb2
from .from_matrix_types import ConversionError, FromMatrixContext, MediaConverter, UploadedMedia

if TYPE_CHECKING:
    from ..formatter import WhatsAppText

Message = wa_e2e_pb2.Message

MEDIA_MSGTYPES = ("m.image", "m.video", "m.audio", "m.file", "m.sticker")
VOICE_MIME = "audio/ogg; codecs=opus"
_AUDIO_OK = ("audio/aac", "audio/mp4", "audio/amr", "audio/mpeg", VOICE_MIME)
_VIDEO_OK = ("video/mp4", "video/3gpp")
_IMAGE_ERRORS = (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError)
_THUMBNAILED = (MediaType.VIDEO, MediaType.GIF, MediaType.DOCUMENT)
_PIL_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def _sniff_mime(data: bytes) -> str:
    """A mimetype for media whose event did not say (images only; else a generic one)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _PIL_MIMES.get(image.format or "", "application/octet-stream")
    except _IMAGE_ERRORS:
        return "application/octet-stream"


def _to_jpeg(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        rgb = Image.new("RGB", image.size, (255, 255, 255))
        converted = image.convert("RGBA")
        rgb.paste(converted, mask=converted.getchannel("A"))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=90)
    return out.getvalue()


def _to_square_webp(data: bytes) -> tuple[bytes, int]:
    """The image centred on a transparent square (WhatsApp shows stickers square)."""
    with Image.open(io.BytesIO(data)) as image:
        converted = image.convert("RGBA")
    size = max(converted.size)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(converted, ((size - converted.width) // 2, (size - converted.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "WEBP")
    return out.getvalue(), size


def _int_field(info: Mapping[str, Any], key: str) -> int | None:
    value = info.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        return None  # also NaN
    return int(min(value, 2**32 - 1))


def _waveform(content: Mapping[str, Any]) -> tuple[bytes | None, int | None]:
    """The MSC1767 audio waveform as WhatsApp's 64 bytes of 0 to 100 (what its own clients send;
    the Go bridge passes the raw points through), and the MSC1767 duration in milliseconds."""
    audio = content.get("org.matrix.msc1767.audio")
    if not isinstance(audio, Mapping):
        return None, None
    duration = _int_field(audio, "duration")
    points = audio.get("waveform")
    if not isinstance(points, list) or not points:
        return None, duration
    values = [_int_field({"v": p}, "v") or 0 for p in points[:4096]]
    return resample_waveform(values), duration


async def _transcode(
    converter: MediaConverter | None, data: bytes, source: str, target: str, why: str
) -> bytes:
    if converter is None:
        raise ConversionError(
            f"can't convert {source} to {target}: ffmpeg isn't installed ({why})"
        )
    try:
        return await converter.convert(data, source, target)
    except Exception as error:
        raise ConversionError(
            f"{why}: converting {source} to {target} with {converter.name} failed"
        ) from error


async def _download(ctx: FromMatrixContext, content: Mapping[str, Any]) -> bytes:
    file = content.get("file")
    if file is not None:
        if not isinstance(file, dict) or not isinstance(file.get("url"), str):
            raise ConversionError("the encrypted media has no url")
        url: str = file["url"]
    else:
        raw = content.get("url")
        if not isinstance(raw, str):
            raise ConversionError("the media message has no url")
        url, file = raw, None
    if not url.startswith("mxc://"):
        raise ConversionError("the media url is not an mxc:// URI")
    try:
        return await ctx.download_mxc(url, file)
    except Exception as error:
        raise ConversionError(f"failed to download the media from Matrix: {error}") from error


async def _thumbnail(ctx: FromMatrixContext, info: Mapping[str, Any]) -> bytes | None:
    """The event's own thumbnail as WhatsApp's small inline JPEG; None when there is none or it
    cannot be fetched or read (a missing preview is no reason to fail the message, as in Go)."""
    file = info.get("thumbnail_file")
    url = file.get("url") if isinstance(file, Mapping) else info.get("thumbnail_url")
    if not isinstance(url, str) or not url.startswith("mxc://"):
        return None
    try:
        data = await ctx.download_mxc(url, dict(file) if isinstance(file, Mapping) else None)
    except Exception:
        return None
    image = probe_image(data)
    return image.thumbnail if image is not None else None


async def convert_media(
    ctx: FromMatrixContext,
    msgtype: str,
    content: Mapping[str, Any],
    caption: WhatsAppText,
    context_info: wa_e2e_pb2.ContextInfo,
    converter: MediaConverter | None,
) -> Message:
    """The image/video/audio/document/sticker message for a Matrix media event."""
    raw_info = content.get("info")
    info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
    data = await _download(ctx, content)
    declared = info.get("mimetype")
    mime = declared if isinstance(declared, str) and declared else _sniff_mime(data)
    body = str(content.get("body", ""))
    file_name = content.get("filename")
    file_name = file_name if isinstance(file_name, str) and file_name else None
    fields = MediaFields(
        width=_int_field(info, "w"), height=_int_field(info, "h"), context_info=context_info
    )
    if file_name is not None and body != file_name and caption.text:
        fields.caption = caption.text
        context_info.mentionedJID.extend(caption.mentioned_jids)
    if msgtype == "m.image" and mime == "image/gif":
        msgtype = "m.video"  # WhatsApp sends GIFs as looping MP4 videos

    try:
        kind, data, mime = await _prepare(msgtype, data, mime, content, info, fields, converter)
    except _IMAGE_ERRORS as error:
        raise ConversionError(f"the {mime} file could not be read as an image") from error

    try:
        uploaded: UploadedMedia = await ctx.upload_media(data, kind, mime)
    except Exception as error:
        raise ConversionError(f"failed to upload the media to WhatsApp: {error}") from error
    fields.mimetype = mime
    if fields.thumbnail is None and kind in _THUMBNAILED:
        fields.thumbnail = await _thumbnail(ctx, info)
    if kind is MediaType.DOCUMENT:
        fields.file_name = file_name or body or "file"
    message = build_media_message(uploaded, fields)
    if kind is MediaType.DOCUMENT and fields.caption:
        wrapped = Message()
        wrapped.documentWithCaptionMessage.message.documentMessage.CopyFrom(
            message.documentMessage
        )
        return wrapped
    return message


async def _prepare(
    msgtype: str,
    data: bytes,
    mime: str,
    content: Mapping[str, Any],
    info: Mapping[str, Any],
    fields: MediaFields,
    converter: MediaConverter | None,
) -> tuple[MediaType, bytes, str]:
    """The WhatsApp media type, data and mimetype for the file, converted where WhatsApp needs
    another format; fills the probed fields (dimensions, thumbnail, duration, waveform)."""
    if msgtype == "m.sticker":
        image = probe_image(data)
        if image is None:
            raise ConversionError("the sticker could not be read as an image")
        fields.width, fields.height, fields.animated = image.width, image.height, image.animated
        if mime != "image/webp" or image.width != image.height:
            data, side = await asyncio.to_thread(_to_square_webp, data)
            fields.width = fields.height = side
            fields.animated = False  # Pillow keeps the first frame
        fields.caption = None
        return MediaType.STICKER, data, "image/webp"
    if msgtype == "m.image":
        if mime in ("image/png", "image/webp"):
            data = await asyncio.to_thread(_to_jpeg, data)
            mime = "image/jpeg"
        elif mime != "image/jpeg":
            raise ConversionError(f"WhatsApp does not accept {mime} images")
        image = probe_image(data)
        if image is None:
            raise ConversionError("the image could not be read")
        fields.width, fields.height, fields.thumbnail = image.width, image.height, image.thumbnail
        return MediaType.IMAGE, data, mime
    if msgtype == "m.video":
        duration = _int_field(info, "duration")
        fields.seconds = duration // 1000 if duration is not None else probe_duration(data)
        gif = mime == "image/gif" or info.get("fi.mau.gif") is True
        if mime not in _VIDEO_OK:
            if mime not in ("image/gif", "video/webm", "video/quicktime"):
                raise ConversionError(f"WhatsApp does not accept {mime} videos")
            data = await _transcode(converter, data, mime, "video/mp4", "WhatsApp needs MP4")
            mime = "video/mp4"
        if fields.width is None or fields.height is None:
            video_size = probe_video_size(data)
            if video_size is not None:
                fields.width, fields.height = video_size
        return (MediaType.GIF if gif and mime == "video/mp4" else MediaType.VIDEO), data, mime
    if msgtype == "m.audio":
        waveform, audio_ms = _waveform(content)
        duration = _int_field(info, "duration") or audio_ms
        fields.seconds = duration // 1000 if duration is not None else probe_duration(data)
        voice = "org.matrix.msc3245.voice" in content
        if mime == "audio/ogg" or mime.startswith("audio/ogg;"):
            mime = VOICE_MIME  # Matrix clients record Opus; WhatsApp wants the codec named
        if voice:
            fields.waveform = waveform
            if mime != VOICE_MIME:
                data = await _transcode(
                    converter, data, mime, VOICE_MIME, "WhatsApp voice messages are Ogg Opus"
                )
                mime = VOICE_MIME
            return MediaType.PTT, data, mime
        if mime not in _AUDIO_OK:
            raise ConversionError(f"WhatsApp does not accept {mime} audio")
        return MediaType.AUDIO, data, mime
    return MediaType.DOCUMENT, data, mime
