"""WhatsApp → Matrix conversion of media: the bytes re-uploaded as they came, ``info`` from the
message, captions (MSC2530), voice notes (MSC3245), gifs, stickers, thumbnails, failures."""

from __future__ import annotations

from mautrix_whatsapp.msgconv import MentionTarget, convert_to_matrix
from mautrix_whatsapp.whatsapp.media.errors import MACMismatchError, MediaExpiredError
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.bridge.msgconv_fakes import FakeContext, jpeg

KEY = b"k" * 32
PHOTO = jpeg(320, 240)


def media_context(data: bytes = PHOTO) -> FakeContext:
    return FakeContext(media={KEY: data})


async def test_image_is_reuploaded_with_info_and_thumbnail() -> None:
    thumb = jpeg(32, 24)
    ctx = media_context()
    message = wa_e2e_pb2.Message(
        imageMessage=wa_e2e_pb2.ImageMessage(
            mediaKey=KEY,
            mimetype="image/jpeg",
            fileLength=len(PHOTO),
            width=320,
            height=240,
            JPEGThumbnail=thumb,
        )
    )
    converted = await convert_to_matrix(ctx, message)
    [part] = converted.parts
    assert part.event_type == "m.room.message"
    assert ctx.uploads[0].data == PHOTO
    assert (ctx.uploads[0].mimetype, ctx.uploads[0].filename) == ("image/jpeg", "image.jpg")
    assert ctx.uploads[1].data == thumb
    assert part.content == {
        "msgtype": "m.image",
        "body": "image.jpg",
        "filename": "image.jpg",
        "url": "mxc://test/1",
        "info": {
            "mimetype": "image/jpeg",
            "size": len(PHOTO),
            "w": 320,
            "h": 240,
            "thumbnail_url": "mxc://test/2",
            "thumbnail_info": {"mimetype": "image/jpeg", "size": len(thumb), "w": 32, "h": 24},
        },
        "m.mentions": {},
    }


async def test_caption_is_the_body_beside_the_filename_with_mentions() -> None:
    alice = "15550001@s.whatsapp.net"
    ctx = media_context()
    ctx.mentions[alice] = MentionTarget("@whatsapp_15550001:example.org", "Alice")
    message = wa_e2e_pb2.Message(
        imageMessage=wa_e2e_pb2.ImageMessage(
            mediaKey=KEY,
            mimetype="image/jpeg",
            caption="look @15550001",
            contextInfo=wa_e2e_pb2.ContextInfo(mentionedJID=[alice]),
        )
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["body"] == "look Alice"
    assert content["filename"] == "image.jpg"
    assert 'href="https://matrix.to/#/@whatsapp_15550001:example.org"' in content["formatted_body"]
    assert content["m.mentions"] == {"user_ids": ["@whatsapp_15550001:example.org"]}
    assert content["info"]["size"] == len(PHOTO)


async def test_voice_note_has_msc3245_and_waveform() -> None:
    audio = b"OggS fake opus"
    ctx = media_context(audio)
    message = wa_e2e_pb2.Message(
        audioMessage=wa_e2e_pb2.AudioMessage(
            mediaKey=KEY,
            mimetype="audio/ogg; codecs=opus",
            seconds=7,
            PTT=True,
            waveform=bytes([0, 10, 99]),
            fileLength=len(audio),
        )
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["msgtype"] == "m.audio"
    assert content["org.matrix.msc3245.voice"] == {}
    assert content["org.matrix.msc1767.audio"] == {"duration": 7000, "waveform": [0, 10, 99]}
    assert content["info"] == {
        "mimetype": "audio/ogg; codecs=opus",
        "size": len(audio),
        "duration": 7000,
    }
    assert content["body"] == content["filename"] == "Voice message.ogg"
    assert ctx.uploads[0].data == audio


async def test_plain_audio_is_not_a_voice_note() -> None:
    ctx = media_context(b"ID3 mp3")
    message = wa_e2e_pb2.Message(
        audioMessage=wa_e2e_pb2.AudioMessage(mediaKey=KEY, mimetype="audio/mpeg", seconds=3)
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert "org.matrix.msc3245.voice" not in content
    assert content["filename"] == "audio.mp3"
    assert content["org.matrix.msc1767.audio"]["duration"] == 3000


async def test_video_and_gif() -> None:
    ctx = media_context(b"mp4 data")
    video = wa_e2e_pb2.VideoMessage(
        mediaKey=KEY, mimetype="video/mp4", seconds=12, width=640, height=360, caption="clip"
    )
    content = (
        (await convert_to_matrix(ctx, wa_e2e_pb2.Message(videoMessage=video))).parts[0].content
    )
    assert content["msgtype"] == "m.video"
    assert (content["body"], content["filename"]) == ("clip", "video.mp4")
    assert content["info"]["duration"] == 12000
    assert (content["info"]["w"], content["info"]["h"]) == (640, 360)
    assert "fi.mau.gif" not in content["info"]
    video.gifPlayback = True
    gif = (await convert_to_matrix(ctx, wa_e2e_pb2.Message(videoMessage=video))).parts[0].content
    for flag in ("gif", "loop", "autoplay", "hide_controls", "no_audio"):
        assert gif["info"][f"fi.mau.{flag}"] is True


async def test_document_keeps_its_file_name() -> None:
    pdf = b"%PDF-1.4 ..."
    ctx = media_context(pdf)
    message = wa_e2e_pb2.Message(
        documentMessage=wa_e2e_pb2.DocumentMessage(
            mediaKey=KEY, mimetype="application/pdf", fileName="report.pdf", fileLength=len(pdf)
        )
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["msgtype"] == "m.file"
    assert content["body"] == content["filename"] == "report.pdf"
    assert ctx.uploads[0].filename == "report.pdf"
    assert ctx.uploads[0].data == pdf


async def test_document_with_caption_wrapper_is_unwrapped() -> None:
    ctx = media_context(b"data")
    inner = wa_e2e_pb2.Message(
        documentMessage=wa_e2e_pb2.DocumentMessage(
            mediaKey=KEY, mimetype="text/plain", fileName="a.txt", caption="see this"
        )
    )
    message = wa_e2e_pb2.Message(
        documentWithCaptionMessage=wa_e2e_pb2.FutureProofMessage(message=inner)
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert (content["body"], content["filename"]) == ("see this", "a.txt")


async def test_sticker_is_m_sticker_scaled_to_whatsapp_size() -> None:
    ctx = media_context(b"RIFF....WEBP")
    message = wa_e2e_pb2.Message(
        stickerMessage=wa_e2e_pb2.StickerMessage(
            mediaKey=KEY, mimetype="image/webp", width=512, height=256
        )
    )
    [part] = (await convert_to_matrix(ctx, message)).parts
    assert part.event_type == "m.sticker"
    assert "msgtype" not in part.content and "filename" not in part.content
    assert part.content["body"] == "sticker.webp"
    assert (part.content["info"]["w"], part.content["info"]["h"]) == (190, 95)
    assert ctx.uploads[0].filename == "sticker.webp"


async def test_missing_mimetype_is_sniffed_from_the_bytes() -> None:
    ctx = media_context()
    message = wa_e2e_pb2.Message(imageMessage=wa_e2e_pb2.ImageMessage(mediaKey=KEY))
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["info"]["mimetype"] == "image/jpeg"
    assert ctx.uploads[0].mimetype == "image/jpeg"


async def test_download_failure_is_a_notice_with_the_reason_and_caption() -> None:
    ctx = FakeContext(download_error=MACMismatchError("media MAC mismatch"))
    message = wa_e2e_pb2.Message(
        imageMessage=wa_e2e_pb2.ImageMessage(mediaKey=KEY, mimetype="image/jpeg", caption="hi")
    )
    [part] = (await convert_to_matrix(ctx, message)).parts
    assert part.content["msgtype"] == "m.notice"
    assert part.content["body"] == (
        "Failed to bridge photo, please view it on the WhatsApp app (media MAC mismatch)\n\nhi"
    )
    assert ctx.uploads == []


async def test_expired_media_says_it_is_old() -> None:
    ctx = FakeContext(download_error=MediaExpiredError("gone", 404))
    message = wa_e2e_pb2.Message(
        audioMessage=wa_e2e_pb2.AudioMessage(mediaKey=KEY, mimetype="audio/ogg", PTT=True)
    )
    [part] = (await convert_to_matrix(ctx, message)).parts
    assert part.content["body"] == (
        "Old voice message. Requesting old media is not enabled on this bridge."
    )


async def test_upload_failure_is_a_notice() -> None:
    ctx = media_context()
    ctx.upload_error = RuntimeError("M_TOO_LARGE")
    message = wa_e2e_pb2.Message(
        videoMessage=wa_e2e_pb2.VideoMessage(mediaKey=KEY, mimetype="video/mp4")
    )
    [part] = (await convert_to_matrix(ctx, message)).parts
    assert part.content["msgtype"] == "m.notice"
    assert "Failed to bridge video attachment" in part.content["body"]
    assert "M_TOO_LARGE" in part.content["body"]


async def test_view_once_is_bridged_unless_disabled() -> None:
    ctx = media_context()
    image = wa_e2e_pb2.Message(
        imageMessage=wa_e2e_pb2.ImageMessage(mediaKey=KEY, mimetype="image/jpeg", viewOnce=True)
    )
    shown = await convert_to_matrix(ctx, image, is_view_once=True)
    assert shown.parts[0].content["msgtype"] == "m.image"
    hidden = await convert_to_matrix(ctx, image, is_view_once=True, disable_view_once=True)
    assert hidden.parts[0].content["body"] == (
        "You received a view once message. For added privacy, you can only open it on the "
        "WhatsApp app."
    )
    own = await convert_to_matrix(
        ctx, image, is_view_once=True, disable_view_once=True, is_from_me=True
    )
    assert own.parts[0].content["body"] == "You sent a view once message from another device."


async def test_forwarded_media_without_caption_moves_the_name() -> None:
    ctx = media_context()
    message = wa_e2e_pb2.Message(
        imageMessage=wa_e2e_pb2.ImageMessage(
            mediaKey=KEY,
            mimetype="image/jpeg",
            contextInfo=wa_e2e_pb2.ContextInfo(isForwarded=True),
        )
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["body"] == "↷ Forwarded"
    assert content["filename"] == "image.jpg"
