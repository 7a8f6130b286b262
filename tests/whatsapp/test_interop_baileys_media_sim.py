"""Media between two Baileys 7.0.0-rc14 peers through the simulator's media server (TLS, as
Baileys always uploads and downloads at ``https://{media_conn hostname}``).

The ground of Baileys' upstream ``send-receive-message`` media tests, in CI: image, video, voice
note, document and sticker uploaded by Alice and downloaded byte-identical by Bob — with
``downloadMediaMessage``, by URL and by direct path —, an image sent to a LID, a quoted image, a
quoted video in a group; then expired media recovered through media retry (Bob's phone uploads
it again), and media the simulated phone sends through the admin API.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.baileys_fixtures import peers_tls, sim_tls
from tests.baileys_peer import BaileysPeer, Event
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp.test_client_helpers import admin

__all__ = ["peers_tls", "sim_tls"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

WAIT = 20.0
DOWNLOAD_TIMEOUT = 30.0
PHONE_ONLY = "15550001009"
FIELD = {
    "image": "imageMessage",
    "video": "videoMessage",
    "ptt": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}


def _picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def alice_tls(peers_tls: tuple[BaileysPeer, BaileysPeer]) -> BaileysPeer:
    return peers_tls[0]


@pytest.fixture(scope="module")
def bob_tls(peers_tls: tuple[BaileysPeer, BaileysPeer]) -> BaileysPeer:
    return peers_tls[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    contents = {
        "image": _picture("JPEG"),
        "sticker": _picture("WEBP"),
        "video": os.urandom(70_000),
        "ptt": os.urandom(9_000),
        "document": os.urandom(33_333),
    }
    paths = {}
    for kind, data in contents.items():
        paths[kind] = folder / kind
        paths[kind].write_bytes(data)
    return paths


def _sha(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def _content(kind: str, path: Path, caption: str) -> dict[str, Any]:
    source = {"url": str(path)}
    if kind == "ptt":
        return {"audio": source, "ptt": True, "mimetype": "audio/ogg; codecs=opus", "seconds": 3}
    if kind == "document":
        return {"document": source, "mimetype": "application/pdf", "fileName": f"{caption}.pdf"}
    if kind == "sticker":
        return {"sticker": source}
    return {kind: source, "caption": caption}


async def _send(
    sender: BaileysPeer, receiver: BaileysPeer, jid: str, content: dict[str, Any]
) -> Event:
    sent = await sender.send(jid, content)
    message_id = sent["key"]["id"]
    return await receiver.wait_message(lambda e: e["key"]["id"] == message_id, timeout=WAIT)


async def _arrived(peer: BaileysPeer, message_id: str) -> Event:
    return await peer.wait_message(lambda e: e["key"]["id"] == message_id, timeout=WAIT)


async def _download(peer: BaileysPeer, key: dict[str, Any], **args: Any) -> dict[str, Any]:
    result: dict[str, Any] = await peer.request(
        "media_download", key=key, timeout=DOWNLOAD_TIMEOUT, **args
    )
    return result


@pytest.mark.parametrize("kind", list(FIELD))
async def test_each_media_type_downloads_byte_identical_three_ways(
    alice_tls: BaileysPeer, bob_tls: BaileysPeer, files: dict[str, Path], kind: str
) -> None:
    received = await _send(alice_tls, bob_tls, bob_tls.jid, _content(kind, files[kind], kind))
    media = received["message"][FIELD[kind]]
    assert media["directPath"].startswith("/v/") and media["mediaKey"]
    if kind == "ptt":
        assert media["ptt"] is True
    if kind == "document":
        assert media["fileName"] == "document.pdf"
    for via in ("message", "url", "direct_path"):
        got = await _download(bob_tls, received["key"], via=via)
        assert got["sha256"] == _sha(files[kind]), via
        assert got["reuploaded"] is False


async def test_image_sent_to_a_lid_downloads(
    alice_tls: BaileysPeer, bob_tls: BaileysPeer, files: dict[str, Path]
) -> None:
    assert bob_tls.lid is not None
    received = await _send(
        alice_tls, bob_tls, bob_tls.lid, _content("image", files["image"], "lid")
    )
    assert received["message"]["imageMessage"]["caption"] == "lid"
    got = await _download(bob_tls, received["key"])
    assert got["sha256"] == _sha(files["image"])


async def test_quoted_image_downloads_from_the_quote(
    alice_tls: BaileysPeer, bob_tls: BaileysPeer, files: dict[str, Path]
) -> None:
    image = await alice_tls.send(bob_tls.jid, _content("image", files["image"], "original"))
    await bob_tls.wait_message(lambda e: e["key"]["id"] == image["key"]["id"], timeout=WAIT)
    command = await alice_tls.send_text(bob_tls.jid, "-download", quoted=image["key"])
    reply = await bob_tls.wait_message(lambda e: e["key"]["id"] == command["id"], timeout=WAIT)
    quoted = reply["message"]["extendedTextMessage"]["contextInfo"]["quotedMessage"]
    assert quoted["imageMessage"]["caption"] == "original"
    for via in ("url", "direct_path"):
        got = await _download(bob_tls, reply["key"], via=via, quoted=True)
        assert got["sha256"] == _sha(files["image"]), via


async def test_quoted_video_in_a_group_downloads_from_the_quote(
    alice_tls: BaileysPeer, bob_tls: BaileysPeer, files: dict[str, Path]
) -> None:
    group = await alice_tls.group_create("Media sim group", [bob_tls.jid])
    jid = group["id"]
    video = await alice_tls.send(jid, _content("video", files["video"], "group video"))
    received = await bob_tls.wait_message(
        lambda e: e["key"]["id"] == video["key"]["id"], timeout=WAIT
    )
    assert received["key"]["remoteJid"] == jid
    command = await alice_tls.send_text(jid, "-download group", quoted=video["key"])
    reply = await bob_tls.wait_message(lambda e: e["key"]["id"] == command["id"], timeout=WAIT)
    quoted = reply["message"]["extendedTextMessage"]["contextInfo"]["quotedMessage"]
    assert quoted["videoMessage"]["caption"] == "group video"
    got = await _download(bob_tls, reply["key"], via="direct_path", quoted=True)
    assert got["sha256"] == _sha(files["video"])


async def test_expired_media_is_recovered_through_media_retry(
    sim_tls: SimulatorInfo, alice_tls: BaileysPeer, bob_tls: BaileysPeer, files: dict[str, Path]
) -> None:
    received = await _send(
        alice_tls, bob_tls, bob_tls.jid, _content("document", files["document"], "old")
    )
    old_path = received["message"]["documentMessage"]["directPath"]
    await admin(sim_tls, "POST", "/media/expire", {"direct_path": old_path})
    with pytest.raises(Exception, match="410"):
        await _download(bob_tls, received["key"], via="url")
    got = await _download(bob_tls, received["key"], reupload=True)
    assert got["reuploaded"] is True
    assert got["sha256"] == _sha(files["document"])
    assert got["direct_path"] != old_path


async def test_media_the_phone_sends_downloads_in_baileys(
    sim_tls: SimulatorInfo, bob_tls: BaileysPeer, files: dict[str, Path]
) -> None:
    await admin(sim_tls, "POST", "/accounts", {"phone": PHONE_ONLY, "push_name": "Pia"})
    for kind in ("image", "video", "ptt", "document", "sticker"):
        media: dict[str, Any] = {"type": kind, "path": str(files[kind]), "caption": kind}
        if kind == "document":
            media["file_name"] = "notes.bin"
        if kind == "ptt":
            media["seconds"] = 4
        _, sent = await admin(
            sim_tls, "POST", f"/accounts/{PHONE_ONLY}/send", {"to": bob_tls.jid, "media": media}
        )
        received = await _arrived(bob_tls, sent["id"])
        fields = received["message"][FIELD[kind]]
        if kind in ("image", "video", "document"):
            assert fields["caption"] == kind
        if kind == "ptt":
            assert fields["ptt"] is True and fields["seconds"] == 4
        got = await _download(bob_tls, received["key"])
        assert got["sha256"] == _sha(files[kind]), kind
