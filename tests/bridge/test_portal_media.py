"""The portal's media I/O (portal/media.py) behind the msgconv converters, with fake Matrix and
WhatsApp ends: whose session downloads and uploads, size limits, encrypted attachments, the
phone failing to re-send expired media, and the ffmpeg converter's plumbing."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from mautrix.types import ContentURI, MediaMessageEventContent, MessageType

from mautrix_whatsapp.portal import ConversionError, MsgconvToMatrix, MsgconvToWhatsApp
from mautrix_whatsapp.portal.media import (
    WHATSAPP_MAX_FILE_SIZE,
    FfmpegConverter,
    MediaTransferError,
    declared_size_problem,
    decrypt_attachment,
    media_converter,
    set_media_origin,
    wrap_media,
)
from mautrix_whatsapp.session import MessageReceived
from mautrix_whatsapp.wa_media import origin_info
from mautrix_whatsapp.whatsapp.media import MediaRetryError, MediaType, UploadResult
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.whatsapp import media_samples

CONTACT = "15550001111@s.whatsapp.net"
MIB = 1024 * 1024


@dataclass
class FakeIntent:
    upload_size: int | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: list[tuple[bytes, str, str]] = field(default_factory=list)
    api: object = field(default_factory=object)

    async def get_media_repo_config(self) -> Any:
        return SimpleNamespace(upload_size=self.upload_size)

    async def upload_media(self, data: bytes, mime_type: str, filename: str) -> ContentURI:
        self.uploads.append((data, mime_type, filename))
        url = f"mxc://example.org/up{len(self.uploads)}"
        self.files[url] = data
        return ContentURI(url)

    async def download_media(self, url: ContentURI) -> bytes:
        if url not in self.files:
            info = cast(Any, SimpleNamespace(real_url="https://hs/x"))
            raise aiohttp.ClientResponseError(info, (), status=404, message="Not Found")
        return self.files[url]


@dataclass
class FakeSession:
    files: list[bytes] = field(default_factory=list)
    error: Exception | None = None
    downloads: list[tuple[wa_e2e_pb2.Message, MessageReceived | None]] = field(
        default_factory=list
    )
    uploads: list[tuple[bytes, MediaType]] = field(default_factory=list)

    async def download_media(
        self, message: wa_e2e_pb2.Message, origin: MessageReceived | None = None
    ) -> bytes:
        self.downloads.append((message, origin))
        if self.error is not None:
            raise self.error
        return self.files.pop(0)

    async def upload_media(self, data: bytes, media_type: MediaType) -> UploadResult:
        self.uploads.append((data, media_type))
        digest = hashlib.sha256(data).digest()
        return UploadResult(
            "https://mmg/x", "/v/x", os.urandom(32), digest, digest, len(data), media_type
        )


def _world(upload_size: int | None = None) -> tuple[Any, FakeIntent, FakeSession, Any]:
    intent = FakeIntent(upload_size)
    bridge = SimpleNamespace(
        az=SimpleNamespace(intent=intent), config={"bridge.disable_view_once": False}
    )
    portal = SimpleNamespace(bridge=bridge, jid=CONTACT, receiver="me", mxid=None)
    session = FakeSession()
    user = SimpleNamespace(session=session)
    return portal, intent, session, user


def _received(message: wa_e2e_pb2.Message) -> MessageReceived:
    return MessageReceived(
        chat=CONTACT,
        sender=CONTACT,
        id="3EB0MEDIA",
        timestamp=1_700_000_000.0,
        is_from_me=False,
        is_group=False,
        message=message,
    )


def _photo_message(data: bytes, caption: str = "") -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    image = message.imageMessage
    image.mimetype, image.fileLength, image.caption = "image/jpeg", len(data), caption
    image.width, image.height = 80, 60
    image.JPEGThumbnail = media_samples.jpeg(16, 12)
    image.mediaKey, image.directPath = os.urandom(32), "/v/t62/photo"
    return message


async def test_whatsapp_photo_downloaded_by_the_receiving_user_and_uploaded() -> None:
    portal, intent, session, user = _world()
    photo = media_samples.jpeg(80, 60)
    session.files.append(photo)
    message = _photo_message(photo, "look")
    received = _received(message)
    set_media_origin(user, received)
    (part,) = await MsgconvToMatrix().to_matrix(portal, received)
    content = part.content.serialize()
    assert content["msgtype"] == "m.image" and content["body"] == "look"
    assert intent.files[content["url"]] == photo
    assert intent.files[content["info"]["thumbnail_url"]] == message.imageMessage.JPEGThumbnail
    ((asked, origin),) = session.downloads
    assert asked.imageMessage == message.imageMessage and origin is received


async def test_expired_media_the_phone_cannot_resend_becomes_a_notice() -> None:
    portal, intent, session, user = _world()
    session.error = MediaRetryError("media not on the phone (code 2)", 2)
    received = _received(_photo_message(b"x" * 10, "the caption"))
    set_media_origin(user, received)
    (part,) = await MsgconvToMatrix().to_matrix(portal, received)
    content = part.content.serialize()
    assert content["msgtype"] == "m.notice"
    assert content["body"] == (
        "Failed to bridge photo, please view it on the WhatsApp app "
        "(media not on the phone (code 2))\n\nthe caption"
    )
    assert intent.uploads == []


async def test_files_larger_than_the_homeserver_takes_are_not_downloaded() -> None:
    portal, _, session, user = _world(upload_size=1 * MIB)
    message = _photo_message(b"")
    message.imageMessage.fileLength = 3 * MIB
    received = _received(message)
    set_media_origin(user, received)
    (part,) = await MsgconvToMatrix().to_matrix(portal, received)
    assert part.content.serialize()["body"] == (
        "Failed to bridge photo, please view it on the WhatsApp app (the file is too large for "
        "the homeserver (3.0 MiB; it accepts at most 1.0 MiB))"
    )
    assert session.downloads == []


def _matrix_file(url: str, **extra: Any) -> MediaMessageEventContent:
    content = {"msgtype": "m.file", "body": "a.bin", "url": url, **extra}
    return MediaMessageEventContent.deserialize(cast(Any, content))


async def test_matrix_file_uploaded_with_the_senders_session() -> None:
    portal, intent, session, user = _world()
    data = os.urandom(3000)
    intent.files["mxc://example.org/file"] = data
    set_media_origin(user)
    message = await MsgconvToWhatsApp().to_whatsapp(portal, _matrix_file("mxc://example.org/file"))
    assert message.documentMessage.fileName == "a.bin"
    assert message.documentMessage.fileLength == len(data)
    assert session.uploads == [(data, MediaType.DOCUMENT)]


async def test_matrix_media_errors_are_reasons() -> None:
    portal, _, session, user = _world()
    set_media_origin(user)
    convert = MsgconvToWhatsApp().to_whatsapp
    with pytest.raises(ConversionError) as missing:
        await convert(portal, _matrix_file("mxc://example.org/gone"))
    assert str(missing.value) == (
        "failed to download the media from Matrix: the homeserver can't serve "
        "mxc://example.org/gone (HTTP 404 Not Found)"
    )
    huge = _matrix_file("mxc://example.org/huge", info={"size": WHATSAPP_MAX_FILE_SIZE + 1})
    with pytest.raises(ConversionError, match=r"too large for WhatsApp \(2000.0 MiB; it acc"):
        await convert(portal, huge)
    unknown = MediaMessageEventContent(msgtype=MessageType("org.example.hologram"), body="x")
    with pytest.raises(ConversionError, match=r"org\.example\.hologram can't be sent"):
        await convert(portal, unknown)
    assert session.uploads == []


def _encrypt(data: bytes) -> tuple[bytes, dict[str, Any]]:
    key, iv = os.urandom(32), os.urandom(8) + bytes(8)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(data) + encryptor.finalize()
    return ciphertext, {
        "url": "mxc://example.org/enc",
        "key": {"k": base64.urlsafe_b64encode(key).decode().rstrip("="), "alg": "A256CTR"},
        "iv": base64.b64encode(iv).decode().rstrip("="),
        "hashes": {"sha256": base64.b64encode(hashlib.sha256(ciphertext).digest()).decode()},
        "v": "v2",
    }


def test_encrypted_attachments_decrypt_and_are_checked() -> None:
    data = os.urandom(1000)
    ciphertext, file = _encrypt(data)
    assert decrypt_attachment(ciphertext, file) == data
    with pytest.raises(MediaTransferError, match="hash doesn't match"):
        decrypt_attachment(ciphertext[:-1] + b"\0", file)
    with pytest.raises(MediaTransferError, match="no key or hashes"):
        decrypt_attachment(ciphertext, {**file, "key": None})
    with pytest.raises(MediaTransferError, match="iv is not base64"):
        decrypt_attachment(ciphertext, {**file, "iv": "!!"})


def test_media_parts_are_wrapped_for_the_session() -> None:
    for part, name in [
        (wa_e2e_pb2.ImageMessage(caption="c"), "imageMessage"),
        (wa_e2e_pb2.VideoMessage(seconds=3), "videoMessage"),
        (wa_e2e_pb2.AudioMessage(PTT=True), "audioMessage"),
        (wa_e2e_pb2.DocumentMessage(fileName="f"), "documentMessage"),
        (wa_e2e_pb2.StickerMessage(width=5), "stickerMessage"),
    ]:
        assert getattr(wrap_media(part), name) == part
    with pytest.raises(MediaTransferError, match="LocationMessage is not a media message"):
        wrap_media(wa_e2e_pb2.LocationMessage())
    assert declared_size_problem({"info": {"size": 10}}) is None
    assert declared_size_problem({"info": {"size": True}}) is None


def test_a_media_retry_names_the_message_as_received() -> None:
    received = MessageReceived(
        chat="123-456@g.us",
        sender="15550001111@s.whatsapp.net",
        id="ABC",
        timestamp=1_700_000_000.0,
        is_from_me=False,
        is_group=True,
        message=wa_e2e_pb2.Message(),
    )
    info = origin_info(received)
    assert (str(info.chat), str(info.sender), info.id) == (received.chat, received.sender, "ABC")
    assert info.is_group and not info.is_from_me


def _program(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-ffmpeg"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


async def test_ffmpeg_converter_runs_the_program_through_files(tmp_path: Path) -> None:
    # The last argument is the output file, the one after -i the input: "convert" by copying.
    copy = _program(
        tmp_path, 'for last; do :; done\nwhile [ "$1" != -i ]; do shift; done\ncp "$2" "$last"'
    )
    assert await FfmpegConverter(copy).convert(b"webm!", "video/webm", "video/mp4") == b"webm!"
    failing = _program(tmp_path, "echo 'Invalid data found' >&2\nexit 1")
    with pytest.raises(RuntimeError, match="ffmpeg exited with 1: Invalid data found"):
        await FfmpegConverter(failing).convert(b"x", "video/webm", "video/mp4")
    with pytest.raises(ValueError, match="can't produce image/bmp"):
        await FfmpegConverter(copy).convert(b"x", "image/png", "image/bmp")
    assert media_converter("no-such-ffmpeg-program") is None
    found = media_converter(copy)
    assert found is not None and found.program == copy
