"""Media types: each one's HKDF info string, the ``mms-type`` of its URLs and upload path.

WhatsApp derives a media file's keys from its 32-byte media key under an info string chosen by
the kind of file (whatsmeow ``MediaType``, Baileys ``MEDIA_HKDF_KEY_MAPPING``); the CDN files
uploads under ``/mms/{mms type}`` (whatsmeow ``mediaTypeToMMSType``). Stickers share the image
keys and path, GIFs the video ones, voice notes the audio ones.
"""

from __future__ import annotations

import enum


class MediaType(enum.Enum):
    """A kind of uploaded file; ``value`` is a short name, the rest are properties."""

    IMAGE = "image"
    VIDEO = "video"
    GIF = "gif"
    AUDIO = "audio"
    PTT = "ptt"
    DOCUMENT = "document"
    STICKER = "sticker"
    HISTORY = "md-msg-hist"
    APP_STATE = "md-app-state"
    LINK_THUMBNAIL = "thumbnail-link"

    @property
    def hkdf_info(self) -> bytes:
        return _INFO[self]

    @property
    def mms_type(self) -> str:
        """The ``/mms/{type}/`` upload path segment and the ``mms-type`` download parameter."""
        return _MMS_TYPE[self]


_INFO: dict[MediaType, bytes] = {
    MediaType.IMAGE: b"WhatsApp Image Keys",
    MediaType.STICKER: b"WhatsApp Image Keys",
    MediaType.VIDEO: b"WhatsApp Video Keys",
    MediaType.GIF: b"WhatsApp Video Keys",
    MediaType.AUDIO: b"WhatsApp Audio Keys",
    MediaType.PTT: b"WhatsApp Audio Keys",
    MediaType.DOCUMENT: b"WhatsApp Document Keys",
    MediaType.HISTORY: b"WhatsApp History Keys",
    MediaType.APP_STATE: b"WhatsApp App State Keys",
    MediaType.LINK_THUMBNAIL: b"WhatsApp Link Thumbnail Keys",
}

_MMS_TYPE: dict[MediaType, str] = {
    MediaType.IMAGE: "image",
    MediaType.STICKER: "image",
    MediaType.VIDEO: "video",
    MediaType.GIF: "video",
    MediaType.AUDIO: "audio",
    MediaType.PTT: "audio",
    MediaType.DOCUMENT: "document",
    MediaType.HISTORY: "md-msg-hist",
    MediaType.APP_STATE: "md-app-state",
    MediaType.LINK_THUMBNAIL: "thumbnail-link",
}
