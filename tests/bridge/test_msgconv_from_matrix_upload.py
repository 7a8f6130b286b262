"""Converted media through the client library's real upload to a TLS stand-in CDN: the message
built around the upload downloads, decrypts and verifies to the bytes meant for WhatsApp (and
the simulator's independent crypto reads the stored blob)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mautrix_whatsapp.msgconv.from_matrix import convert_from_matrix
from mautrix_whatsapp.msgconv.from_matrix_types import UploadedMedia
from mautrix_whatsapp.whatsapp.media.download import download, media_ref
from mautrix_whatsapp.whatsapp.media.types import MediaType
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.simulator import media_crypto
from tests.whatsapp.canned_server import CannedServer
from tests.whatsapp.media_cdn import FakeCDN, canned_for, cdn

from ..whatsapp import media_samples
from .msgconv_from_matrix_fakes import FakeContext

__all__ = ["cdn"]

MXC = "mxc://example.org/upload"


@dataclass
class UploadingContext(FakeContext):
    """The fake context, but uploads go through the client library to the CDN."""

    canned: CannedServer | None = None

    async def upload_media(self, data: bytes, kind: MediaType, mimetype: str) -> UploadedMedia:
        assert self.canned is not None
        self.uploads.append((data, kind, mimetype))
        return await self.canned.client.media.upload(data, kind)


async def roundtrip(
    cdn: FakeCDN, data: bytes, event_type: str, content: dict[str, Any]
) -> tuple[wa_e2e_pb2.Message, bytes, bytes]:
    """The converted message, the bytes it downloads to, and the bytes that were uploaded."""
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned)
    ctx = UploadingContext(media={MXC: data}, canned=canned)
    message = await convert_from_matrix(ctx, event_type, {"url": MXC, **content})
    inner = (
        message.documentWithCaptionMessage.message
        if message.HasField("documentWithCaptionMessage")
        else message
    )
    ref = media_ref(inner)
    assert ref is not None and ref.direct_path is not None
    downloaded = await download(canned.client, ref)
    [(uploaded, kind, _)] = ctx.uploads
    stored = cdn.blobs[ref.direct_path.split("?")[0]]
    assert media_crypto.decrypt_media(stored, kind.value, ref.media_key) == uploaded
    return message, downloaded, uploaded


async def test_png_photo_arrives_as_the_converted_jpeg(cdn: FakeCDN) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 128, 255)).save(png, "PNG")
    content = {"msgtype": "m.image", "body": "photo.png", "info": {"mimetype": "image/png"}}
    message, downloaded, uploaded = await roundtrip(cdn, png.getvalue(), "m.room.message", content)
    assert downloaded == uploaded
    with Image.open(io.BytesIO(downloaded)) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))
        assert image.getpixel((10, 10))[2] > 240  # type: ignore[index]
    assert message.imageMessage.fileLength == len(downloaded)


async def test_document_with_caption_downloads_byte_for_byte(cdn: FakeCDN) -> None:
    pdf = b"%PDF-1.4 minutes of the meeting" * 100
    content = {
        "msgtype": "m.file",
        "body": "here are the minutes",
        "filename": "minutes.pdf",
        "info": {"mimetype": "application/pdf"},
    }
    message, downloaded, _ = await roundtrip(cdn, pdf, "m.room.message", content)
    assert downloaded == pdf
    doc = message.documentWithCaptionMessage.message.documentMessage
    assert (doc.fileName, doc.caption) == ("minutes.pdf", "here are the minutes")
    assert doc.fileLength == len(pdf)


async def test_voice_note_is_uploaded_as_ptt(cdn: FakeCDN) -> None:
    ogg = b"OggS" + bytes(range(256)) * 20
    content = {
        "msgtype": "m.audio",
        "body": "voice",
        "info": {"mimetype": "audio/ogg", "duration": 2000},
        "org.matrix.msc3245.voice": {},
    }
    message, downloaded, _ = await roundtrip(cdn, ogg, "m.room.message", content)
    assert downloaded == ogg
    assert (message.audioMessage.PTT, message.audioMessage.seconds) == (True, 2)


async def test_sticker_is_uploaded_as_webp(cdn: FakeCDN) -> None:
    content = {"body": "sticker", "info": {"mimetype": "image/jpeg"}}
    _, downloaded, _ = await roundtrip(cdn, media_samples.jpeg(120, 80), "m.sticker", content)
    with Image.open(io.BytesIO(downloaded)) as image:
        assert (image.format, image.size) == ("WEBP", (120, 120))
