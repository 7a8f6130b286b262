"""Media message builders and metadata probes, on real files made in Python: the fields a
receiving client shows before downloading (size, dimensions, duration, waveform, thumbnail)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mautrix_whatsapp.whatsapp.media import (
    MediaFields,
    MediaType,
    UploadResult,
    build_media_message,
    probe_fields,
)
from mautrix_whatsapp.whatsapp.media.metadata import (
    probe_duration,
    probe_image,
    probe_video_size,
    probe_wav_waveform,
    resample_waveform,
)
from mautrix_whatsapp.whatsapp.message_builders import media_type
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.whatsapp import media_samples
from tests.whatsapp.media_cdn import FakeCDN, canned_for, cdn

__all__ = ["cdn"]


def upload_result(kind: MediaType, length: int = 1234) -> UploadResult:
    return UploadResult(
        url="https://mmg.example/v/x.enc?ccb=1&mms3=true",
        direct_path="/v/x.enc?ccb=1",
        media_key=b"k" * 32,
        file_sha256=b"s" * 32,
        file_enc_sha256=b"e" * 32,
        file_length=length,
        media_type=kind,
    )


def test_probes_on_real_files(tmp_path: Path) -> None:
    image = probe_image(media_samples.jpeg(320, 240))
    assert image is not None and (image.width, image.height, image.animated) == (320, 240, False)
    with Image.open(io.BytesIO(image.thumbnail)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 72
    sticker = probe_image(media_samples.animated_webp())
    assert sticker is not None and sticker.animated
    assert probe_duration(media_samples.wav(seconds=2.5)) == 3
    waveform = probe_wav_waveform(media_samples.wav())
    assert waveform is not None and len(waveform) == 64
    assert waveform[-1] == 100 and waveform[0] < 10
    assert list(waveform) == sorted(waveform)
    path = tmp_path / "clip.mp4"
    path.write_bytes(media_samples.mp4(640, 360, seconds=7))
    assert probe_duration(path) == 7
    assert probe_video_size(path) == (640, 360)
    # Garbage is "unknown", never an exception.
    for probe in (probe_image, probe_duration, probe_video_size, probe_wav_waveform):
        assert probe(b"\x00garbage" * 10) is None


def test_resample_waveform() -> None:
    assert resample_waveform([]) == bytes(64)
    assert resample_waveform([5.0]) == bytes([100]) * 64
    assert list(resample_waveform(list(range(640)))) == [
        round(100 * (i * 10 + 9) / 639) for i in range(64)
    ]


@pytest.mark.parametrize(
    ("kind", "field", "subtype"),
    [
        (MediaType.IMAGE, "imageMessage", "image"),
        (MediaType.VIDEO, "videoMessage", "video"),
        (MediaType.GIF, "videoMessage", "gif"),
        (MediaType.AUDIO, "audioMessage", "audio"),
        (MediaType.PTT, "audioMessage", "ptt"),
        (MediaType.DOCUMENT, "documentMessage", "document"),
        (MediaType.STICKER, "stickerMessage", "sticker"),
    ],
)
def test_builders_fill_each_type(kind: MediaType, field: str, subtype: str) -> None:
    quote = wa_e2e_pb2.ContextInfo(stanzaID="3EB0QUOTED", participant="1555@s.whatsapp.net")
    fields = MediaFields(
        caption="hi",
        file_name="report.pdf",
        width=10,
        height=20,
        seconds=4,
        waveform=bytes(range(64)),
        thumbnail=b"\xff\xd8thumb",
        animated=True,
        context_info=quote,
    )
    message = build_media_message(upload_result(kind), fields)
    part = getattr(message, field)
    assert part.directPath == "/v/x.enc?ccb=1" and part.fileLength == 1234
    assert part.mediaKey == b"k" * 32 and part.mediaKeyTimestamp > 0
    assert part.contextInfo.stanzaID == "3EB0QUOTED"
    # The <enc mediatype> the sender derives from it.
    assert media_type(message) == subtype
    if kind in (MediaType.IMAGE, MediaType.VIDEO, MediaType.GIF):
        assert (part.caption, part.width, part.height, part.JPEGThumbnail) == (
            "hi",
            10,
            20,
            b"\xff\xd8thumb",
        )
    if kind in (MediaType.VIDEO, MediaType.GIF):
        assert part.seconds == 4 and part.gifPlayback is (kind is MediaType.GIF)
    if kind in (MediaType.AUDIO, MediaType.PTT):
        assert part.seconds == 4 and part.PTT is (kind is MediaType.PTT)
        assert part.HasField("waveform") is (kind is MediaType.PTT)
    if kind is MediaType.DOCUMENT:
        assert (part.fileName, part.caption) == ("report.pdf", "hi")
    if kind is MediaType.STICKER:
        assert part.isAnimated and part.mimetype == "image/webp"


def test_history_blobs_are_not_messages() -> None:
    with pytest.raises(ValueError):
        build_media_message(upload_result(MediaType.HISTORY))


def test_probe_fields_per_type(tmp_path: Path) -> None:
    image = probe_fields(media_samples.jpeg(64, 48), MediaType.IMAGE)
    assert (image.width, image.height) == (64, 48) and image.thumbnail
    ptt = probe_fields(media_samples.wav(seconds=1.2), MediaType.PTT)
    assert ptt.seconds == 2 and ptt.waveform is not None and len(ptt.waveform) == 64
    video = probe_fields(media_samples.mp4(1280, 720, 3), MediaType.VIDEO)
    assert (video.width, video.height, video.seconds) == (1280, 720, 3)


async def test_prepare_message_uploads_and_describes(cdn: FakeCDN, tmp_path: Path) -> None:
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned)
    path = tmp_path / "minutes.pdf"
    path.write_bytes(b"%PDF-1.4 minutes")
    message, up = await canned.client.media.prepare_message(
        path, MediaType.DOCUMENT, MediaFields(mimetype="application/pdf")
    )
    doc = message.documentMessage
    assert (doc.fileName, doc.mimetype, doc.fileLength) == ("minutes.pdf", "application/pdf", 16)
    assert doc.directPath == up.direct_path
    message, _ = await canned.client.media.prepare_message(
        media_samples.jpeg(200, 100), MediaType.IMAGE, MediaFields(caption="look")
    )
    assert (message.imageMessage.width, message.imageMessage.caption) == (200, "look")
