"""Media through the bridge, end to end: Baileys as the contact, a real Synapse, the bridge as a
process and the TLS simulator. One world per direction: every kind WhatsApp sends arrives in
Matrix with the same bytes (downloaded back from Synapse) and the right ``info``; every kind the
Matrix user sends reaches Baileys, whose own download gives the same bytes (or a valid file of
the format WhatsApp needs)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

from tests.baileys_peer import BaileysPeer
from tests.e2e.helpers import sim_admin
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.e2e.test_bridging_text import (  # noqa: F401 (fixtures)
    TIMEOUT,
    World,
    _portal_invite,
    simulator,
    world,
)
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp import media_samples

NOT_BRIDGED = "Your message was not bridged: "


async def _send_declared(
    alice: BaileysPeer, jid: str, kind: str, data: bytes, **fields: Any
) -> Event:
    result: Event = await alice.request(
        "send_media_declared",
        jid=jid,
        kind=kind,
        data=base64.b64encode(data).decode(),
        fields=fields,
        timeout=30,
    )
    return result


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _message(msgtype: str, extra: str | None = None) -> Any:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return (
            event.get("type") == "m.room.message"
            and content.get("msgtype") == msgtype
            and (extra is None or extra in content or extra in content.get("info", {}))
        )

    return match


async def _file(user: MatrixTestUser, content: dict[str, Any]) -> bytes:
    return await user.download_media(content["url"])


async def test_media_from_whatsapp(
    world: World,  # noqa: F811
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    alice, user, management, our_phone = world
    ours = f"{our_phone}@s.whatsapp.net"

    # A photo with a caption and an inline thumbnail; the first message makes the portal.
    photo, thumb = media_samples.jpeg(160, 120), media_samples.jpeg(32, 24)
    await _send_declared(
        alice,
        ours,
        "image",
        photo,
        caption="a picture",
        width=160,
        height=120,
        jpegThumbnail=_b64(thumb),
    )
    room = await _portal_invite(user, management)
    await user.join(room)
    image = (await user.wait_for_event(room, _message("m.image"), TIMEOUT))["content"]
    assert image["body"] == "a picture" and image["filename"] == "image.jpg"
    info = image["info"]
    assert (info["mimetype"], info["size"], info["w"], info["h"]) == (
        "image/jpeg",
        len(photo),
        160,
        120,
    )
    assert await _file(user, image) == photo
    assert await user.download_media(info["thumbnail_url"]) == thumb
    assert info["thumbnail_info"]["w"] == 32

    clip = media_samples.mp4(640, 360, 4)
    await _send_declared(alice, ours, "video", clip, seconds=4, width=640, height=360)
    video = (await user.wait_for_event(room, _message("m.video"), TIMEOUT))["content"]
    assert await _file(user, video) == clip
    assert (video["info"]["duration"], video["info"]["w"]) == (4000, 640)
    assert "fi.mau.gif" not in video["info"]

    loop = media_samples.mp4(200, 200, 2)
    await _send_declared(alice, ours, "video", loop, seconds=2, gifPlayback=True)
    gif = (await user.wait_for_event(room, _message("m.video", "fi.mau.gif"), TIMEOUT))["content"]
    assert await _file(user, gif) == loop and gif["info"]["fi.mau.loop"] is True

    song = media_samples.wav(1.0)
    await _send_declared(alice, ours, "audio", song, seconds=1, mimetype="audio/wav")
    audio = (await user.wait_for_event(room, _message("m.audio"), TIMEOUT))["content"]
    assert await _file(user, audio) == song and audio["info"]["mimetype"] == "audio/wav"
    assert "org.matrix.msc3245.voice" not in audio

    voice_data, waveform = media_samples.wav(1.5), bytes(range(0, 64))
    await _send_declared(
        alice,
        ours,
        "audio",
        voice_data,
        seconds=2,
        ptt=True,
        waveform=_b64(waveform),
        mimetype="audio/ogg; codecs=opus",
    )
    voice_event = await user.wait_for_event(
        room, _message("m.audio", "org.matrix.msc3245.voice"), TIMEOUT
    )
    voice = voice_event["content"]
    assert await _file(user, voice) == voice_data
    assert voice["org.matrix.msc3245.voice"] == {}
    assert voice["org.matrix.msc1767.audio"] == {"duration": 2000, "waveform": list(waveform)}
    assert voice["info"]["duration"] == 2000

    blob = os.urandom(50_000)
    await _send_declared(
        alice, ours, "document", blob, fileName="report.bin", mimetype="application/x-report"
    )
    document = (await user.wait_for_event(room, _message("m.file"), TIMEOUT))["content"]
    assert (document["body"], document["filename"]) == ("report.bin", "report.bin")
    assert document["info"] == {"mimetype": "application/x-report", "size": len(blob)}
    assert await _file(user, document) == blob

    sticker_data = media_samples.animated_webp(96)
    await _send_declared(alice, ours, "sticker", sticker_data, width=96, height=96)
    sticker_event = await user.wait_for_event(
        room, lambda e: e.get("type") == "m.sticker", TIMEOUT
    )
    sticker = sticker_event["content"]
    assert await _file(user, sticker) == sticker_data
    assert (sticker["info"]["w"], sticker["info"]["h"]) == (190, 190)
    assert sticker["info"]["mimetype"] == "image/webp"

    await alice.send_location(ours, 52.52, 13.405, name="Fernsehturm")
    location = (await user.wait_for_event(room, _message("m.location"), TIMEOUT))["content"]
    assert location["geo_uri"] == "geo:52.52000,13.40500"
    assert location["body"].startswith("Location: Fernsehturm")

    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Carol\nTEL;type=CELL:+15550003003\nEND:VCARD"
    await alice.send_contact(ours, "Carol", vcard)
    card = (await user.wait_for_event(room, _message("m.file", "url"), TIMEOUT))["content"]
    assert (card["body"], card["info"]["mimetype"]) == ("Carol.vcf", "text/vcard")
    assert (await _file(user, card)).decode() == vcard

    preview_thumb = media_samples.jpeg(48, 48)
    await alice.request(
        "send_link_preview",
        jid=ours,
        text="look https://example.com/page",
        url="https://example.com/page",
        title="An example",
        description="A page",
        thumbnail=_b64(preview_thumb),
    )
    text = (await user.wait_for_event(room, _message("m.text"), TIMEOUT))["content"]
    (preview,) = text["com.beeper.linkpreviews"]
    assert preview["matched_url"] == "https://example.com/page"
    assert (preview["og:title"], preview["og:description"]) == ("An example", "A page")
    assert await user.download_media(preview["og:image"]) == preview_thumb

    # Media whose file expired before the bridge got to it: the user's phone uploads it again
    # (media retry), and the photo arrives all the same.
    late = media_samples.jpeg(64, 64)
    prepared = await alice.request(
        "media_prepare", kind="image", data=_b64(late), caption="late photo", timeout=30
    )
    await sim_admin(
        simulator, "POST", "/media/expire", json={"direct_path": prepared["direct_path"]}
    )
    await alice.request("media_send_prepared", jid=ours, handle=prepared["handle"])
    late_event = await user.wait_for_event(
        room, lambda e: e.get("content", {}).get("body") == "late photo", TIMEOUT
    )
    assert late_event["content"]["msgtype"] == "m.image"
    assert await _file(user, late_event["content"]) == late


def _encrypt_attachment(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """The Matrix spec's attachment encryption (AES-256-CTR), as an encrypting client does."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, iv = os.urandom(32), os.urandom(8) + bytes(8)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(data) + encryptor.finalize()
    file = {
        "v": "v2",
        "key": {
            "kty": "oct",
            "alg": "A256CTR",
            "ext": True,
            "key_ops": ["encrypt", "decrypt"],
            "k": base64.urlsafe_b64encode(key).decode().rstrip("="),
        },
        "iv": base64.b64encode(iv).decode().rstrip("="),
        "hashes": {"sha256": base64.b64encode(hashlib.sha256(ciphertext).digest()).decode()},
    }
    return ciphertext, file


async def _downloaded(alice: BaileysPeer, event: Event) -> bytes:
    got = await alice.request("media_download", key=event["key"], timeout=30)
    return base64.b64decode(got["data"])


def _has(field: str) -> Any:
    return lambda event: field in (event.get("message") or {})


async def test_media_from_matrix(
    world: World,  # noqa: F811
    synapse: SynapseInfo,
    tmp_path: Path,
) -> None:
    alice, user, management, our_phone = world
    await alice.send_text(f"{our_phone}@s.whatsapp.net", "send me files")
    room = await _portal_invite(user, management)
    await user.join(room)

    async def send(msgtype: str, body: str, data: bytes, mime: str, **extra: Any) -> None:
        """Upload ``data`` and send it as ``msgtype`` (``m.sticker``: that event type);
        ``info`` keys come in ``extra["info"]``; ``encrypt`` sends it as an encrypted room's
        ``file``."""
        content: dict[str, Any] = {"msgtype": msgtype, "body": body, **extra}
        content["info"] = {"mimetype": mime, **extra.get("info", {})}
        if content.pop("encrypt", False):
            ciphertext, content["file"] = _encrypt_attachment(data)
            content["file"]["url"] = await user.upload(ciphertext)
        else:
            content["url"] = await user.upload(data, mime, body)
        event_type = "m.room.message"
        if msgtype == "m.sticker":
            event_type = content.pop("msgtype")
        await user.send_event(room, event_type, content)

    photo = media_samples.jpeg(200, 100)
    await send("m.image", "photo.jpg", photo, "image/jpeg", info={"w": 200, "h": 100})
    image = await alice.wait_message(_has("imageMessage"), timeout=TIMEOUT)
    assert await _downloaded(alice, image) == photo
    part = image["message"]["imageMessage"]
    assert (part["width"], part["height"], part["mimetype"]) == (200, 100, "image/jpeg")

    clip = media_samples.mp4(640, 360, 4)
    await send("m.video", "clip.mp4", clip, "video/mp4", info={"duration": 4000})
    video = await alice.wait_message(_has("videoMessage"), timeout=TIMEOUT)
    assert await _downloaded(alice, video) == clip
    assert video["message"]["videoMessage"]["seconds"] == 4

    recording = b"OggS" + os.urandom(3000)
    await send(
        "m.audio",
        "Voice message.ogg",
        recording,
        "audio/ogg",
        info={"duration": 2500},
        **{
            "org.matrix.msc1767.audio": {"duration": 2500, "waveform": [0, 512, 1024]},
            "org.matrix.msc3245.voice": {},
        },
    )
    voice = await alice.wait_message(_has("audioMessage"), timeout=TIMEOUT)
    assert await _downloaded(alice, voice) == recording
    audio = voice["message"]["audioMessage"]
    assert audio["ptt"] is True and audio["seconds"] == 2
    assert audio["mimetype"] == "audio/ogg; codecs=opus"
    assert len(base64.b64decode(audio["waveform"])) == 64

    blob = os.urandom(40_000)
    await send("m.file", "data.bin", blob, "application/octet-stream")
    document = await alice.wait_message(_has("documentMessage"), timeout=TIMEOUT)
    assert await _downloaded(alice, document) == blob
    assert document["message"]["documentMessage"]["fileName"] == "data.bin"

    # An encrypted room's attachment (``file`` with its key): WhatsApp gets the plaintext.
    secret = os.urandom(20_000)
    await send("m.file", "secret.bin", secret, "application/octet-stream", encrypt=True)
    secret_event = await alice.wait_message(_has("documentMessage"), timeout=TIMEOUT)
    assert await _downloaded(alice, secret_event) == secret

    # A sticker (event type m.sticker): WhatsApp wants a square WebP.
    png = io.BytesIO()
    Image.new("RGBA", (100, 60), (200, 30, 30, 255)).save(png, "PNG")
    await send("m.sticker", "a sticker", png.getvalue(), "image/png", info={"w": 100, "h": 60})
    sticker = await alice.wait_message(_has("stickerMessage"), timeout=TIMEOUT)
    with Image.open(io.BytesIO(await _downloaded(alice, sticker))) as webp:
        assert (webp.format, webp.size) == ("WEBP", (100, 100))

    location = {"msgtype": "m.location", "body": "Meet here", "geo_uri": "geo:48.8584,2.2945"}
    await user.send_event(room, "m.room.message", location)
    located = await alice.wait_message(_has("locationMessage"), timeout=TIMEOUT)
    place = located["message"]["locationMessage"]
    assert (place["degreesLatitude"], place["degreesLongitude"]) == (48.8584, 2.2945)

    # Media the homeserver doesn't have: a notice with the reason, nothing sent.
    missing = f"mxc://{synapse.server_name}/no_such_media"
    gone = {"msgtype": "m.image", "body": "gone.jpg", "url": missing}
    await user.send_event(room, "m.room.message", gone)
    notice = await user.wait_for_event(room, _notice(), TIMEOUT)
    assert notice["content"]["body"].startswith(
        f"{NOT_BRIDGED}failed to download the media from Matrix: the homeserver can't serve "
        f"{missing} (HTTP 404"
    )

    # A format WhatsApp can't take as is: converted by ffmpeg, or a notice saying it's missing.
    ffmpeg = shutil.which("ffmpeg")
    webm = _webm(ffmpeg, tmp_path) if ffmpeg else b"\x1aE\xdf\xa3" + os.urandom(500)
    await send("m.video", "clip.webm", webm, "video/webm")
    if ffmpeg is None:
        notice = await user.wait_for_event(room, _notice(), TIMEOUT)
        assert notice["content"]["body"] == (
            f"{NOT_BRIDGED}can't convert video/webm to video/mp4: ffmpeg isn't installed "
            "(WhatsApp needs MP4)"
        )
    else:
        converted = await alice.wait_message(_has("videoMessage"), timeout=TIMEOUT)
        assert (await _downloaded(alice, converted))[4:8] == b"ftyp"

    # Nothing else reached WhatsApp (the refused ones sent nothing).
    received = alice.unconsumed(
        lambda e: e["event"] == "messages.upsert" and not e["key"].get("fromMe")
    )
    assert received == []


def _notice() -> Any:
    return lambda e: e.get("content", {}).get("msgtype") == "m.notice"


def _webm(ffmpeg: str, tmp_path: Path) -> bytes:
    """A real one-second WebM made by ffmpeg (only when it is installed)."""
    out = tmp_path / "clip.webm"
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:duration=1",
            "-c:v",
            "libvpx",
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()
