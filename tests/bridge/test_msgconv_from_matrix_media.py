"""Matrix → WhatsApp media: what is downloaded, converted, uploaded, and the message built
around the upload (images with real Pillow conversions, stickers, video, voice, documents)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from mautrix_whatsapp.msgconv.from_matrix import ConversionError, convert_from_matrix
from mautrix_whatsapp.whatsapp.media.types import MediaType

from ..whatsapp import media_samples
from .msgconv_from_matrix_fakes import ALICE, FakeContext, fake_formatter

MXC = "mxc://example.org/media"


def image_bytes(fmt: str, size: tuple[int, int] = (40, 20), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else (200, 10, 10, 128)).save(out, fmt)
    return out.getvalue()


def media(msgtype: str, mimetype: str | None, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {} if mimetype is None else {"mimetype": mimetype}
    info.update(extra.pop("info", {}))
    return {
        "msgtype": msgtype,
        "body": extra.pop("body", "file"),
        "url": MXC,
        "info": info,
        **extra,
    }


class FakeConverter:
    name = "fake-ffmpeg"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def convert(self, data: bytes, source_mime: str, target_mime: str) -> bytes:
        self.calls.append((source_mime, target_mime))
        return b"converted:" + data


async def test_png_image_is_converted_to_jpeg_with_size_and_thumbnail() -> None:
    ctx = FakeContext(media={MXC: image_bytes("PNG", mode="RGBA")})
    msg = await convert_from_matrix(ctx, "m.room.message", media("m.image", "image/png"))
    [(data, kind, mime)] = ctx.uploads
    assert (kind, mime) == (MediaType.IMAGE, "image/jpeg")
    with Image.open(io.BytesIO(data)) as uploaded:
        assert (uploaded.format, uploaded.size) == ("JPEG", (40, 20))
    image = msg.imageMessage
    assert (image.mimetype, image.width, image.height) == ("image/jpeg", 40, 20)
    assert image.JPEGThumbnail.startswith(b"\xff\xd8")
    assert (image.directPath, image.fileLength) == ("/v/t62/blob", len(data) + 10)
    assert image.caption == ""


async def test_jpeg_is_sent_unchanged_with_caption_and_mentions() -> None:
    jpeg = image_bytes("JPEG")
    ctx = FakeContext(media={MXC: jpeg})
    content = media(
        "m.image",
        "image/jpeg",
        body="look",
        filename="photo.jpg",
        format="org.matrix.custom.html",
        formatted_body='look <a href="https://matrix.to/#/@whatsapp_15550000002:example.org">A</a>',
    )
    msg = await convert_from_matrix(ctx, "m.room.message", content, formatter=fake_formatter)
    assert ctx.uploads[0][0] == jpeg
    assert msg.imageMessage.caption == "look @15550000002"
    assert list(msg.imageMessage.contextInfo.mentionedJID) == [ALICE]


async def test_sticker_becomes_a_square_webp() -> None:
    ctx = FakeContext(media={MXC: image_bytes("PNG", (30, 10))})
    content = {"body": "sticker", "url": MXC, "info": {"mimetype": "image/png", "w": 30, "h": 10}}
    msg = await convert_from_matrix(ctx, "m.sticker", content)
    [(data, kind, mime)] = ctx.uploads
    assert (kind, mime) == (MediaType.STICKER, "image/webp")
    with Image.open(io.BytesIO(data)) as uploaded:
        assert (uploaded.format, uploaded.size) == ("WEBP", (30, 30))
    sticker = msg.stickerMessage
    assert (sticker.mimetype, sticker.width, sticker.height, sticker.isAnimated) == (
        "image/webp",
        30,
        30,
        False,
    )


async def test_mp4_video_and_gif_playback() -> None:
    ctx = FakeContext(media={MXC: b"mp4 data"})
    content = media("m.video", "video/mp4", info={"duration": 4500, "w": 640, "h": 360})
    msg = await convert_from_matrix(ctx, "m.room.message", content)
    video = msg.videoMessage
    assert (video.seconds, video.width, video.height, video.gifPlayback) == (4, 640, 360, False)
    assert ctx.uploads[0][1:] == (MediaType.VIDEO, "video/mp4")
    gif = media("m.video", "video/mp4", info={"fi.mau.gif": True})
    assert (await convert_from_matrix(ctx, "m.room.message", gif)).videoMessage.gifPlayback


async def test_webm_needs_a_converter_and_names_it() -> None:
    ctx = FakeContext(media={MXC: b"webm"})
    with pytest.raises(
        ConversionError, match="convert video/webm to video/mp4: ffmpeg isn't installed"
    ):
        await convert_from_matrix(ctx, "m.room.message", media("m.video", "video/webm"))
    assert ctx.uploads == []
    converter = FakeConverter()
    msg = await convert_from_matrix(
        ctx, "m.room.message", media("m.video", "video/webm"), converter=converter
    )
    assert converter.calls == [("video/webm", "video/mp4")]
    assert ctx.uploads[0] == (b"converted:webm", MediaType.VIDEO, "video/mp4")
    assert msg.videoMessage.mimetype == "video/mp4"


async def test_gif_image_is_sent_as_a_gif_video_through_the_converter() -> None:
    ctx = FakeContext(media={MXC: image_bytes("GIF")})
    with pytest.raises(ConversionError, match="image/gif to video/mp4"):
        await convert_from_matrix(ctx, "m.room.message", media("m.image", "image/gif"))
    msg = await convert_from_matrix(
        ctx, "m.room.message", media("m.image", "image/gif"), converter=FakeConverter()
    )
    assert msg.videoMessage.gifPlayback
    assert ctx.uploads[0][1] == MediaType.GIF


async def test_voice_message_with_waveform() -> None:
    ctx = FakeContext(media={MXC: b"OggS opus"})
    content = media(
        "m.audio",
        "audio/ogg",
        info={"duration": 3000},
        **{
            "org.matrix.msc3245.voice": {},
            "org.matrix.msc1767.audio": {"duration": 3000, "waveform": [0, 512, 1024]},
        },
    )
    msg = await convert_from_matrix(ctx, "m.room.message", content)
    audio = msg.audioMessage
    assert (audio.PTT, audio.seconds, audio.mimetype) == (True, 3, "audio/ogg; codecs=opus")
    assert len(audio.waveform) == 64
    assert (audio.waveform[0], audio.waveform[30], audio.waveform[-1]) == (0, 50, 100)
    assert ctx.uploads[0][1] == MediaType.PTT


async def test_voice_in_another_format_needs_a_converter() -> None:
    ctx = FakeContext(media={MXC: b"aac"})
    content = media("m.audio", "audio/mp4", **{"org.matrix.msc3245.voice": {}})
    with pytest.raises(
        ConversionError, match=r"ffmpeg isn't installed \(WhatsApp voice messages are Ogg Opus"
    ):
        await convert_from_matrix(ctx, "m.room.message", content)
    plain = await convert_from_matrix(ctx, "m.room.message", media("m.audio", "audio/mp4"))
    assert (plain.audioMessage.PTT, plain.audioMessage.mimetype) == (False, "audio/mp4")


async def test_file_with_caption_is_wrapped_as_document_with_caption() -> None:
    ctx = FakeContext(media={MXC: b"%PDF-1.4"})
    bare = await convert_from_matrix(
        ctx, "m.room.message", media("m.file", "application/pdf", body="report.pdf")
    )
    assert (bare.documentMessage.fileName, bare.documentMessage.mimetype) == (
        "report.pdf",
        "application/pdf",
    )
    content = media("m.file", "application/pdf", body="see this", filename="report.pdf")
    wrapped = await convert_from_matrix(ctx, "m.room.message", content)
    doc = wrapped.documentWithCaptionMessage.message.documentMessage
    assert (doc.fileName, doc.caption) == ("report.pdf", "see this")
    assert not wrapped.HasField("documentMessage")


async def test_encrypted_file_is_downloaded_with_its_key_info() -> None:
    ctx = FakeContext(media={MXC: b"data"})
    file = {"url": MXC, "key": {"k": "x"}, "iv": "y", "hashes": {}, "v": "v2"}
    content = {"msgtype": "m.file", "body": "a.bin", "file": file}
    msg = await convert_from_matrix(ctx, "m.room.message", content)
    assert ctx.downloads == [(MXC, file)]
    assert msg.documentMessage.mimetype == "application/octet-stream"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"msgtype": "m.image", "body": "x"}, "no url"),
        ({"msgtype": "m.image", "body": "x", "url": "https://x"}, "mxc://"),
        ({"msgtype": "m.image", "body": "x", "url": "mxc://example.org/gone"}, "download"),
        (media("m.image", "image/tiff"), "does not accept image/tiff"),
        (media("m.image", "image/png"), "could not be read"),
        (media("m.audio", "audio/flac"), "does not accept audio/flac"),
        (media("m.video", "video/x-msvideo"), "does not accept video/x-msvideo"),
    ],
)
async def test_media_failures_are_conversion_errors(content: dict[str, Any], reason: str) -> None:
    ctx = FakeContext(media={MXC: b"not an image"})
    with pytest.raises(ConversionError, match=reason):
        await convert_from_matrix(ctx, "m.room.message", content)


async def test_upload_failure_is_a_conversion_error() -> None:
    ctx = FakeContext(media={MXC: b"x"}, upload_error=OSError("media host down"))
    with pytest.raises(ConversionError, match="upload the media to WhatsApp: media host down"):
        await convert_from_matrix(ctx, "m.room.message", media("m.file", None))


async def test_video_thumbnail_comes_from_the_events_thumbnail() -> None:
    thumb = "mxc://example.org/thumb"
    ctx = FakeContext(media={MXC: b"mp4", thumb: image_bytes("PNG", (320, 180))})
    content = media("m.video", "video/mp4", info={"thumbnail_url": thumb})
    msg = await convert_from_matrix(ctx, "m.room.message", content)
    with Image.open(io.BytesIO(msg.videoMessage.JPEGThumbnail)) as preview:
        assert preview.format == "JPEG"
        assert max(preview.size) == 72
    missing = media("m.video", "video/mp4", info={"thumbnail_url": "mxc://example.org/gone"})
    msg = await convert_from_matrix(ctx, "m.room.message", missing)
    assert not msg.videoMessage.JPEGThumbnail


async def test_video_without_info_is_probed() -> None:
    ctx = FakeContext(media={MXC: media_samples.mp4(480, 270, 9)})
    msg = await convert_from_matrix(ctx, "m.room.message", media("m.video", "video/mp4"))
    video = msg.videoMessage
    assert (video.width, video.height, video.seconds) == (480, 270, 9)


async def test_square_animated_webp_sticker_is_sent_unchanged() -> None:
    webp = media_samples.animated_webp(96)
    ctx = FakeContext(media={MXC: webp})
    content = {"body": "party", "url": MXC, "info": {"mimetype": "image/webp"}}
    msg = await convert_from_matrix(ctx, "m.sticker", content)
    assert ctx.uploads[0][0] == webp
    sticker = msg.stickerMessage
    assert (sticker.width, sticker.height, sticker.isAnimated) == (96, 96, True)
