"""Media messages: an uploaded file plus what clients show before downloading it (mimetype,
size, dimensions, duration, waveform, thumbnail, caption, file name) — Baileys
``prepareWAMessageMedia``, whatsmeow's upload examples.

:func:`build_media_message` fills a ``waE2E.Message`` from an :class:`~.upload.UploadResult` and
explicit fields; :func:`prepare_media_message` reads the fields from the file (:mod:`.metadata`),
uploads it and builds the message. Explicit arguments always win over probed values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..proto import wa_e2e_pb2
from .metadata import probe_duration, probe_image, probe_video_size, probe_wav_waveform
from .types import MediaType
from .upload import UploadResult, upload

if TYPE_CHECKING:
    from ..client import Client

Message = wa_e2e_pb2.Message

DEFAULT_MIMETYPES: dict[MediaType, str] = {
    MediaType.IMAGE: "image/jpeg",
    MediaType.VIDEO: "video/mp4",
    MediaType.GIF: "video/mp4",
    MediaType.AUDIO: "audio/mpeg",
    MediaType.PTT: "audio/ogg; codecs=opus",
    MediaType.DOCUMENT: "application/octet-stream",
    MediaType.STICKER: "image/webp",
}


@dataclass
class MediaFields:
    """The descriptive fields of a media message; None leaves a field out."""

    mimetype: str | None = None
    caption: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    seconds: int | None = None
    waveform: bytes | None = None
    """Voice notes: 64 bytes, 0 to 100 each."""
    thumbnail: bytes | None = None
    """A small JPEG shown before download."""
    animated: bool | None = None
    context_info: wa_e2e_pb2.ContextInfo | None = None
    """Quotes, mentions, forwarding: copied as is."""


_KIND_FIELDS: dict[MediaType, tuple[str, tuple[str, ...]]] = {
    MediaType.IMAGE: ("imageMessage", ("caption", "width", "height", "JPEGThumbnail")),
    MediaType.VIDEO: ("videoMessage", ("caption", "width", "height", "seconds", "JPEGThumbnail")),
    MediaType.GIF: ("videoMessage", ("caption", "width", "height", "seconds", "JPEGThumbnail")),
    MediaType.AUDIO: ("audioMessage", ("seconds",)),
    MediaType.PTT: ("audioMessage", ("seconds", "waveform")),
    MediaType.DOCUMENT: ("documentMessage", ("caption", "fileName", "title", "JPEGThumbnail")),
    MediaType.STICKER: ("stickerMessage", ("width", "height", "isAnimated")),
}
"""Which ``waE2E.Message`` field each type fills, and the descriptive fields it carries."""


def build_media_message(up: UploadResult, fields: MediaFields | None = None) -> Message:
    """The ``imageMessage``/``videoMessage``/… for an upload of a message media type."""
    fields = fields or MediaFields()
    kind = up.media_type
    if kind not in _KIND_FIELDS:
        raise ValueError(f"{kind.value} uploads are not sent as media messages")
    name, allowed = _KIND_FIELDS[kind]
    message = Message()
    part: Any = getattr(message, name)
    part.URL = up.url
    part.directPath = up.direct_path
    part.mediaKey = up.media_key
    part.fileSHA256 = up.file_sha256
    part.fileEncSHA256 = up.file_enc_sha256
    part.fileLength = up.file_length
    part.mediaKeyTimestamp = int(time.time())
    part.mimetype = fields.mimetype or DEFAULT_MIMETYPES[kind]
    if kind is MediaType.GIF:
        part.gifPlayback = True
    elif kind in (MediaType.AUDIO, MediaType.PTT):
        part.PTT = kind is MediaType.PTT
    values = {
        "caption": fields.caption,
        "width": fields.width,
        "height": fields.height,
        "seconds": fields.seconds,
        "waveform": fields.waveform,
        "JPEGThumbnail": fields.thumbnail,
        "fileName": fields.file_name,
        "title": fields.file_name,
        "isAnimated": fields.animated,
    }
    for field_name in allowed:
        if values[field_name] is not None:
            setattr(part, field_name, values[field_name])
    if fields.context_info is not None:
        part.contextInfo.CopyFrom(fields.context_info)
    return message


def probe_fields(source: bytes | str | Path, kind: MediaType) -> MediaFields:
    """What the file itself tells: image size, thumbnail and animation (images, stickers),
    duration and, for MP4, size (video), duration and WAV waveform (audio)."""
    fields = MediaFields()
    if kind in (MediaType.IMAGE, MediaType.STICKER):
        image = probe_image(source)
        if image is not None:
            fields.width, fields.height = image.width, image.height
            if kind is MediaType.STICKER:
                fields.animated = image.animated
            else:
                fields.thumbnail = image.thumbnail
    elif kind in (MediaType.VIDEO, MediaType.GIF):
        fields.seconds = probe_duration(source)
        size = probe_video_size(source)
        if size is not None:
            fields.width, fields.height = size
    elif kind in (MediaType.AUDIO, MediaType.PTT):
        fields.seconds = probe_duration(source)
        if kind is MediaType.PTT:
            fields.waveform = probe_wav_waveform(source)
    return fields


async def prepare_media_message(
    client: Client,
    source: bytes | str | Path,
    kind: MediaType,
    fields: MediaFields | None = None,
) -> tuple[Message, UploadResult]:
    """Probe ``source``, upload it and build its message; ``fields`` given override probes."""
    probed = probe_fields(source, kind)
    if fields is not None:
        for name, value in vars(fields).items():
            if value is not None:
                setattr(probed, name, value)
    if probed.file_name is None and kind is MediaType.DOCUMENT and not isinstance(source, bytes):
        probed.file_name = Path(source).name
    up = await upload(client, source, kind)
    return build_media_message(up, probed), up
