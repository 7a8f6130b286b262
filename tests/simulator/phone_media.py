"""The phone's media messages: building one it sends (encrypt, upload to the media store, fill
the message fields) and finding the media of a message it knows (for expiry and media retry).
"""

from __future__ import annotations

import base64
import binascii
import time
from pathlib import Path
from typing import Any

from google.protobuf.message import Message as ProtoMessage

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from .media_crypto import encrypt_media
from .media_store import get_media_store
from .people import get_people
from .phone import get_world
from .phone_memory import get_memories
from .state import AdminError, ServerState

MEDIA_KINDS = ("image", "video", "gif", "audio", "ptt", "document", "sticker")
FIELD_BY_KIND = {
    "image": "imageMessage",
    "video": "videoMessage",
    "gif": "videoMessage",
    "audio": "audioMessage",
    "ptt": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}
MEDIA_FIELDS = (
    "imageMessage",
    "videoMessage",
    "audioMessage",
    "documentMessage",
    "stickerMessage",
)
KIND_BY_FIELD = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
)
DEFAULT_MIMETYPE = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "gif": "video/mp4",
    "audio": "audio/mpeg",
    "ptt": "audio/ogg; codecs=opus",
    "document": "application/octet-stream",
    "sticker": "image/webp",
}
UPLOAD_TYPE = {"gif": "video", "ptt": "audio", "sticker": "image"}
"""The ``/mms/{type}`` a blob of each kind is uploaded under (Baileys ``MEDIA_PATH_MAP``)."""


def _plaintext(spec: dict[str, Any]) -> bytes:
    if "data" in spec:
        try:
            return base64.b64decode(str(spec["data"]), validate=True)
        except (binascii.Error, ValueError) as e:
            raise AdminError(400, f"'data' is not base64: {e}") from e
    if "path" in spec:
        try:
            return Path(str(spec["path"])).read_bytes()
        except OSError as e:
            raise AdminError(400, f"cannot read 'path': {e}") from e
    raise AdminError(400, "media needs 'data' (base64) or 'path'")


def _uint(spec: dict[str, Any], key: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AdminError(400, f"{key!r} must be a non-negative integer")
    return value


def media_message(
    state: ServerState, spec: dict[str, Any], context: wa_e2e_pb2.ContextInfo | None = None
) -> wa_e2e_pb2.Message:
    """Encrypt the file the admin ``media`` object gives, store the blob as an upload would,
    and return the message that points at it (see the README, "Media")."""
    kind = str(spec.get("type", ""))
    if kind not in MEDIA_KINDS:
        raise AdminError(400, f"media 'type' is one of {', '.join(MEDIA_KINDS)}")
    plaintext = _plaintext(spec)
    encrypted = encrypt_media(plaintext, kind)
    stored = get_media_store(state).put(encrypted.blob, UPLOAD_TYPE.get(kind, kind))
    message = wa_e2e_pb2.Message()
    media: Any = getattr(message, FIELD_BY_KIND[kind])
    media.URL = f"{_base(state)}{stored.direct_path}&mms3=true"
    media.directPath = stored.direct_path
    media.mediaKey = encrypted.media_key
    media.fileSHA256 = encrypted.file_sha256
    media.fileEncSHA256 = encrypted.file_enc_sha256
    media.fileLength = encrypted.file_length
    media.mediaKeyTimestamp = int(time.time())
    media.mimetype = str(spec.get("mimetype") or DEFAULT_MIMETYPE[kind])
    caption = spec.get("caption")
    if caption and kind in ("image", "video", "gif", "document"):
        media.caption = str(caption)
    if kind == "document":
        media.fileName = str(spec.get("file_name") or "file")
    elif spec.get("file_name"):
        raise AdminError(400, "'file_name' is for documents")
    seconds = _uint(spec, "seconds")
    if seconds is not None and kind in ("video", "gif", "audio", "ptt"):
        media.seconds = seconds
    for key in ("width", "height"):
        value = _uint(spec, key)
        if value is not None and kind in ("image", "video", "gif", "sticker"):
            setattr(media, key, value)
    if kind == "gif":
        media.gifPlayback = True
    if kind == "ptt":
        media.PTT = True
    if context is not None:
        media.contextInfo.CopyFrom(context)
    return message


def _base(state: ServerState) -> str:
    from .media import base_url  # media imports this module

    return base_url(state)


def find_media(message: wa_e2e_pb2.Message) -> tuple[str, Any] | None:
    """(kind for HKDF, the media sub-message) of a message, looking inside wrappers."""
    current: ProtoMessage = message
    for _ in range(4):
        assert isinstance(current, wa_e2e_pb2.Message)
        for name in MEDIA_FIELDS:
            if current.HasField(name):
                media: Any = getattr(current, name)
                kind = KIND_BY_FIELD[name]
                if name == "audioMessage" and media.PTT:
                    kind = "ptt"
                return kind, media
        for wrapper in WRAPPERS:
            if current.HasField(wrapper):
                current = getattr(current, wrapper).message
                break
        else:
            return None
    return None


def known_message(
    state: ServerState, phone: str, message_id: str, chat: str | None = None
) -> wa_e2e_pb2.Message | None:
    """A message the phone of ``phone`` sent, received or remembers, by id (and chat)."""
    account = get_world(state).accounts.find(phone)
    if account is None:
        return None
    person = get_people(state).of(account)
    sent = person.sent.get(message_id)
    if sent is not None and (chat is None or sent.chat == chat):
        return sent.message
    for received in reversed(person.received):
        if received.id == message_id and (chat is None or received.chat == chat):
            return _unwrap_dsm(received.message)
    memory = get_memories(state).of(account)
    chats = [chat] if chat is not None else list(memory.chats)
    for jid in chats:
        stored = memory.find(jid, message_id)
        if stored is not None:
            return stored.message
    return None


def _unwrap_dsm(message: wa_e2e_pb2.Message) -> wa_e2e_pb2.Message:
    if message.HasField("deviceSentMessage"):
        return message.deviceSentMessage.message
    return message


def find_media_path(state: ServerState, phone: str, message_id: str) -> str | None:
    message = known_message(state, phone, message_id)
    found = find_media(message) if message is not None else None
    return str(found[1].directPath) if found is not None else None
