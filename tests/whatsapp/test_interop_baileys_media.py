"""Media between our client and Baileys 7.0.0-rc14 through the TLS simulator: every kind
Baileys uploads, our client downloads; every kind we upload, Baileys' ``downloadMediaMessage``
downloads; byte-identical both ways. Messages whose hashes or key do not match the served blob
fail with the right typed error; expired media answers 410 as :class:`MediaExpiredError` and
comes back through media retry (the simulated phone re-uploads), for us and for Baileys.

The simulator runs with TLS (``https`` media hosts, as both clients insist on); our client and
the Baileys peer trust its CA.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import Message
from mautrix_whatsapp.whatsapp.group import create_group
from mautrix_whatsapp.whatsapp.media import (
    EncHashMismatchError,
    FileHashMismatchError,
    MACMismatchError,
    MediaExpiredError,
    MediaFields,
    MediaRef,
    MediaRetry,
    MediaRetryError,
    MediaType,
    media_ref,
)
from tests.baileys_fixtures import ALICE, alice, linked_client, sim_tls
from tests.baileys_peer import BaileysPeer
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp import media_samples
from tests.whatsapp.test_client_helpers import EventLog, admin

__all__ = ["alice", "sim_tls"]

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

OURS = "15550009001"
WAIT = 30.0


def samples() -> dict[MediaType, tuple[bytes, dict[str, Any]]]:
    """A real file per kind, and the extra fields Baileys is given for it."""
    return {
        MediaType.IMAGE: (media_samples.jpeg(160, 120), {"caption": "a picture"}),
        MediaType.VIDEO: (media_samples.mp4(640, 360, 4), {"seconds": 4, "caption": "a clip"}),
        MediaType.GIF: (media_samples.mp4(200, 200, 2), {"seconds": 2}),
        MediaType.AUDIO: (media_samples.wav(1.0), {"seconds": 1, "mimetype": "audio/wav"}),
        MediaType.PTT: (media_samples.wav(1.5), {"seconds": 2}),
        MediaType.DOCUMENT: (os.urandom(300_001), {"file_name": "blob.bin"}),
        MediaType.STICKER: (media_samples.animated_webp(), {}),
    }


@pytest.fixture(scope="module")
def sim(sim_tls: SimulatorInfo) -> SimulatorInfo:
    """The peers' simulator is the TLS one."""
    return sim_tls


@dataclass
class Ours:
    client: Client
    log: EventLog

    @property
    def jid(self) -> JID:
        assert self.client.device.jid is not None
        return self.client.device.jid.to_non_ad()

    async def message(self, message_id: str) -> Message:
        async with asyncio.timeout(WAIT):
            while True:
                for event in self.log.of(Message):
                    if event.info.id == message_id:
                        return event
                await self.log.wait_for(Message, count=len(self.log.of(Message)) + 1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(sim: SimulatorInfo, alice: BaileysPeer) -> AsyncIterator[Ours]:
    """Our client on its own account (linked after Alice)."""
    async for client, log in linked_client(sim, OURS, "Ours"):
        yield Ours(client, log)


async def _from_baileys(ours: Ours, alice: BaileysPeer, kind: MediaType) -> tuple[bytes, Message]:
    data, extra = samples()[kind]
    sent = await alice.request(
        "send_media",
        jid=str(ours.jid),
        kind=kind.value,
        data=base64.b64encode(data).decode(),
        **extra,
    )
    return data, await ours.message(sent["key"]["id"])


@pytest.mark.parametrize("kind", list(samples()), ids=lambda kind: kind.value)
async def test_we_download_what_baileys_uploads(
    ours: Ours, alice: BaileysPeer, kind: MediaType, tmp_path: Path
) -> None:
    data, event = await _from_baileys(ours, alice, kind)
    ref = media_ref(event.message)
    assert ref is not None and ref.media_type is kind
    assert ref.file_sha256 == hashlib.sha256(data).digest()
    assert await ours.client.media.download(ref) == data
    # Streamed to a file, and by URL alone (Baileys puts the simulator's own URL in it).
    out = tmp_path / "out"
    assert await ours.client.media.download_to_file(ref, out) == len(data)
    assert out.read_bytes() == data
    by_url = MediaRef(kind, ref.media_key, ref.file_enc_sha256, ref.file_sha256, None, ref.url)
    assert await ours.client.media.download(by_url) == data


@pytest.mark.parametrize("kind", list(samples()), ids=lambda kind: kind.value)
async def test_baileys_downloads_what_we_upload(
    ours: Ours, alice: BaileysPeer, kind: MediaType
) -> None:
    data, extra = samples()[kind]
    fields = MediaFields(caption=extra.get("caption"), file_name=extra.get("file_name"))
    message, up = await ours.client.media.prepare_message(data, kind, fields)
    response = await ours.client.send_message(JID(ALICE, "s.whatsapp.net"), message)
    event = await alice.wait_message(lambda m: m["key"]["id"] == response.id, timeout=WAIT)
    got = await alice.request("media_download", key=event["key"])
    assert base64.b64decode(got["data"]) == data
    assert up.file_length == len(data)
    content = event["message"]
    name = {
        MediaType.IMAGE: "imageMessage",
        MediaType.VIDEO: "videoMessage",
        MediaType.GIF: "videoMessage",
        MediaType.AUDIO: "audioMessage",
        MediaType.PTT: "audioMessage",
        MediaType.DOCUMENT: "documentMessage",
        MediaType.STICKER: "stickerMessage",
    }[kind]
    part = content[name]
    assert int(part["fileLength"]) == len(data)
    if "caption" in extra:
        assert part["caption"] == extra["caption"]
    if kind is MediaType.DOCUMENT:
        assert part["fileName"] == "blob.bin"
    if kind is MediaType.PTT:
        assert part["ptt"] is True and part["seconds"] == 2
        assert len(base64.b64decode(part["waveform"])) == 64
    if kind is MediaType.VIDEO:
        assert (part["width"], part["height"], part["seconds"]) == (640, 360, 4)
    if kind is MediaType.GIF:
        assert part["gifPlayback"] is True


async def test_mismatched_messages_fail_typed(ours: Ours, alice: BaileysPeer) -> None:
    _data, event = await _from_baileys(ours, alice, MediaType.DOCUMENT)
    ref = media_ref(event.message)
    assert ref is not None
    cases: list[tuple[type[Exception], dict[str, Any]]] = [
        (EncHashMismatchError, {"file_enc_sha256": bytes(32)}),
        (MACMismatchError, {"media_key": os.urandom(32), "file_enc_sha256": None}),
        (FileHashMismatchError, {"file_sha256": bytes(32)}),
    ]
    for error, changes in cases:
        fields = {**vars(ref), **changes}
        with pytest.raises(error):
            await ours.client.media.download(MediaRef(**fields))


async def test_expired_media_is_a_typed_error(
    sim: SimulatorInfo, ours: Ours, alice: BaileysPeer
) -> None:
    _data, event = await _from_baileys(ours, alice, MediaType.IMAGE)
    ref = media_ref(event.message)
    assert ref is not None and ref.direct_path is not None
    status, body = await admin(sim, "POST", "/media/expire", {"direct_path": ref.direct_path})
    assert status == 200, body
    with pytest.raises(MediaExpiredError) as caught:
        await ours.client.media.download(ref)
    assert caught.value.status == 410


async def test_expired_media_recovered_by_media_retry(
    sim: SimulatorInfo, ours: Ours, alice: BaileysPeer
) -> None:
    data, event = await _from_baileys(ours, alice, MediaType.VIDEO)
    ref = media_ref(event.message)
    assert ref is not None
    status, body = await admin(sim, "POST", "/media/expire", {"direct_path": ref.direct_path})
    assert status == 200, body
    assert await ours.client.media.download_or_retry(ref, event.info) == data
    (answer,) = [e for e in ours.log.of(MediaRetry) if e.message_id == event.info.id]
    assert answer.error_code is None and answer.chat.user == ALICE


async def test_media_retry_for_an_unknown_message(ours: Ours, alice: BaileysPeer) -> None:
    _data, event = await _from_baileys(ours, alice, MediaType.STICKER)
    ref = media_ref(event.message)
    assert ref is not None
    unknown = dataclasses.replace(event.info, id="3EB0" + os.urandom(8).hex().upper())
    with pytest.raises(MediaRetryError) as caught:
        await ours.client.media._retries.request(ours.client, unknown, ref.media_key, WAIT)
    assert caught.value.code == 2


async def test_baileys_recovers_our_expired_media(
    sim: SimulatorInfo, ours: Ours, alice: BaileysPeer
) -> None:
    data = os.urandom(70_000)
    message, up = await ours.client.media.prepare_message(data, MediaType.DOCUMENT)
    response = await ours.client.send_message(JID(ALICE, "s.whatsapp.net"), message)
    event = await alice.wait_message(lambda m: m["key"]["id"] == response.id, timeout=WAIT)
    status, body = await admin(sim, "POST", "/media/expire", {"direct_path": up.direct_path})
    assert status == 200, body
    got = await alice.request("media_download", key=event["key"], reupload=True)
    assert got["reuploaded"] is True
    assert base64.b64decode(got["data"]) == data


@pytest.mark.parametrize(
    "kind",
    [MediaType.HISTORY, MediaType.APP_STATE, MediaType.LINK_THUMBNAIL],
    ids=lambda kind: kind.value,
)
async def test_non_message_blobs_round_trip(ours: Ours, kind: MediaType) -> None:
    data = os.urandom(40_000)
    up = await ours.client.media.upload(data, kind)
    assert up.direct_path.startswith("/v/")
    ref = MediaRef(kind, up.media_key, up.file_enc_sha256, up.file_sha256, up.direct_path)
    assert await ours.client.media.download(ref) == data


async def test_large_files_stream_in_bounded_memory(ours: Ours, tmp_path: Path) -> None:
    """30 MB up and down: the file is never held in our memory (the simulator holds the blob in
    its own process)."""
    size = 30_000_000
    path = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(30):
            chunk = os.urandom(size // 30)
            digest.update(chunk)
            file.write(chunk)
    tracemalloc.start()
    try:
        up = await ours.client.media.upload(path, MediaType.VIDEO)
        ref = MediaRef(
            up.media_type, up.media_key, up.file_enc_sha256, up.file_sha256, up.direct_path
        )
        assert await ours.client.media.download_to_file(ref, tmp_path / "back.bin") == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert up.file_sha256 == digest.digest()
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB for a 30 MB file"


async def test_media_the_phone_sends(sim: SimulatorInfo, ours: Ours) -> None:
    """The simulated phone encrypts with its own code (tests/simulator/media_crypto.py)."""
    phone = "15550009002"
    status, body = await admin(sim, "POST", "/accounts", {"phone": phone, "push_name": "Phone"})
    assert status == 200, body
    data = media_samples.jpeg(90, 60)
    status, sent = await admin(
        sim,
        "POST",
        f"/accounts/{phone}/send",
        {"to": OURS, "media": {"type": "image", "data": base64.b64encode(data).decode()}},
    )
    assert status == 200, sent
    event = await ours.message(sent["id"])
    ref = media_ref(event.message)
    assert ref is not None and ref.media_type is MediaType.IMAGE
    assert await ours.client.media.download(ref) == data


async def test_quoted_video_in_a_group(ours: Ours, alice: BaileysPeer) -> None:
    """Alice sends a video to a group; we download it and answer with an image quoting it;
    Alice downloads both our image and, from its quote, her video."""
    group = await create_group(ours.client, "Media group", [JID(ALICE, "s.whatsapp.net")])
    data, extra = samples()[MediaType.VIDEO]
    sent = await alice.request(
        "send_media",
        jid=str(group.jid),
        kind="video",
        data=base64.b64encode(data).decode(),
        **extra,
    )
    event = await ours.message(sent["key"]["id"])
    ref = media_ref(event.message)
    assert ref is not None and await ours.client.media.download(ref) == data
    quote = mb.context_info(
        reply_to=event.info.id, reply_sender=event.info.sender, quoted=event.message
    )
    image = media_samples.jpeg(120, 90)
    message, _ = await ours.client.media.prepare_message(
        image, MediaType.IMAGE, MediaFields(caption="nice clip", context_info=quote)
    )
    response = await ours.client.send_message(group.jid, message)
    received = await alice.wait_message(lambda m: m["key"]["id"] == response.id, timeout=WAIT)
    context = received["message"]["imageMessage"]["contextInfo"]
    assert context["stanzaId"] == event.info.id
    got = await alice.request("media_download", key=received["key"])
    assert base64.b64decode(got["data"]) == image
    quoted = await alice.request("media_download", key=received["key"], quoted=True)
    assert base64.b64decode(quoted["data"]) == data


async def test_revoked_auth_refreshes_media_conn(sim: SimulatorInfo, ours: Ours) -> None:
    """Last in the module: Baileys keeps its media_conn until the ttl whatever the host says,
    so the peers cannot upload after this."""
    await ours.client.media.upload(b"before", MediaType.DOCUMENT)
    queries = ours.client.media.conn.queries
    status, body = await admin(sim, "POST", "/media/revoke-auths")
    assert status == 200, body
    up = await ours.client.media.upload(b"after", MediaType.DOCUMENT)
    assert ours.client.media.conn.queries == queries + 1
    ref = MediaRef(up.media_type, up.media_key, up.file_enc_sha256, up.file_sha256, up.direct_path)
    assert await ours.client.media.download(ref) == b"after"
