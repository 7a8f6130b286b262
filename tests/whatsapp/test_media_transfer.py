"""Upload and download against a stand-in TLS CDN: every input kind, to bytes and to a file,
media_conn caching and refresh on auth errors, host fallback, expiry and tampering."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.media import (
    EncHashMismatchError,
    FileHashMismatchError,
    MediaConnError,
    MediaExpiredError,
    MediaHTTPError,
    MediaRef,
    MediaType,
    MediaUploadError,
    UploadResult,
    download_media,
)
from mautrix_whatsapp.whatsapp.media.conn import parse_media_conn
from mautrix_whatsapp.whatsapp.media.upload import Source
from tests.simulator import media_crypto
from tests.whatsapp.canned_server import error, result
from tests.whatsapp.media_cdn import FakeCDN, canned_for, cdn

__all__ = ["cdn"]


def ref_of(up: UploadResult, **changes: object) -> MediaRef:
    fields: dict[str, object] = {
        "media_type": up.media_type,
        "media_key": up.media_key,
        "file_enc_sha256": up.file_enc_sha256,
        "file_sha256": up.file_sha256,
        "direct_path": up.direct_path,
    }
    fields.update(changes)
    return MediaRef(**fields)  # type: ignore[arg-type]


async def test_roundtrip_every_input_kind(cdn: FakeCDN, tmp_path: Path) -> None:
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned)
    media = canned.client.media
    small = os.urandom(1000)
    large = os.urandom(3 * 1024 * 1024 + 5)
    path = tmp_path / "video.mp4"
    path.write_bytes(large)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(large), 100_000):
            yield large[start : start + 100_000]

    cases: list[tuple[Source, bytes, MediaType]] = [
        (small, small, MediaType.IMAGE),
        (large, large, MediaType.DOCUMENT),
        (path, large, MediaType.VIDEO),
        (str(path), large, MediaType.GIF),
        (chunks(), large, MediaType.PTT),
    ]
    for source, plain, kind in cases:
        up = await media.upload(source, kind)
        assert up.file_length == len(plain)
        assert up.file_sha256 == hashlib.sha256(plain).digest()
        stored = cdn.blobs[up.direct_path.split("?")[0]]
        assert hashlib.sha256(stored).digest() == up.file_enc_sha256
        # The simulator's independent crypto reads what we uploaded.
        assert media_crypto.decrypt_media(stored, kind.value, up.media_key) == plain
        assert await media.download(ref_of(up)) == plain
        out = tmp_path / f"out-{kind.value}"
        assert await media.download_to_file(ref_of(up), out) == len(plain)
        assert out.read_bytes() == plain
    # One media_conn for all of it (cached until its ttl).
    assert canned.client.media.conn.queries == 1
    uploads = [r for r in cdn.requests if r.startswith("POST")]
    assert [r.split("/")[2] for r in uploads] == ["image", "document", "video", "video", "audio"]


async def test_download_media_api_and_url(cdn: FakeCDN) -> None:
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned)
    data = os.urandom(5000)
    up = await canned.client.media.upload(data, MediaType.HISTORY)
    got = await download_media(
        canned.client,
        direct_path=up.direct_path,
        media_key=up.media_key,
        file_enc_sha256=up.file_enc_sha256,
        file_sha256=up.file_sha256,
        media_type=MediaType.HISTORY,
        file_length=up.file_length,
    )
    assert got == data
    get = cdn.requests[-1]
    assert "&hash=" in get and "&mms-type=md-msg-hist&__wa-mms=" in get
    # By URL, with no direct path at all.
    by_url = ref_of(up, direct_path=None, url=up.url)
    assert await canned.client.media.download(by_url) == data


async def test_auth_refused_refreshes_media_conn_once(cdn: FakeCDN) -> None:
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned, auth="stale")
    cdn.answer_media_conn(canned)
    up = await canned.client.media.upload(b"hello", MediaType.STICKER)
    assert canned.client.media.conn.queries == 2
    assert await canned.client.media.download(ref_of(up)) == b"hello"
    cdn.refuse_auth = True
    cdn.answer_media_conn(canned)
    with pytest.raises(MediaHTTPError) as caught:
        await canned.client.media.download(ref_of(up))
    assert caught.value.status == 403
    assert canned.client.media.conn.queries == 3


async def test_hosts_tried_in_order(cdn: FakeCDN) -> None:
    canned = canned_for(cdn)
    # Nothing listens on port 1: the first host fails, the second one serves.
    cdn.answer_media_conn(canned, "127.0.0.1:1", cdn.host)
    up = await canned.client.media.upload(b"data" * 100, MediaType.AUDIO)
    assert await canned.client.media.download(ref_of(up)) == b"data" * 100


async def test_expired_and_tampered(cdn: FakeCDN, tmp_path: Path) -> None:
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned)
    up = await canned.client.media.upload(b"z" * 300, MediaType.IMAGE)
    path = up.direct_path.split("?")[0]
    cdn.expired.add(path)
    with pytest.raises(MediaExpiredError) as caught:
        await canned.client.media.download(ref_of(up))
    assert caught.value.status == 410
    cdn.expired.clear()
    blob = cdn.blobs[path]
    cdn.blobs[path] = blob[:-1] + bytes([blob[-1] ^ 1])
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "tampered"
    with pytest.raises(EncHashMismatchError):
        await canned.client.media.download_to_file(ref_of(up), out)
    assert list((tmp_path / "out").iterdir()) == []
    cdn.blobs[path] = blob
    with pytest.raises(FileHashMismatchError):
        await canned.client.media.download(ref_of(up, file_sha256=bytes(32)))
    del cdn.blobs[path]
    with pytest.raises(MediaExpiredError) as caught:
        await canned.client.media.download(ref_of(up))
    assert caught.value.status == 404


async def test_upload_errors_are_typed(cdn: FakeCDN) -> None:
    canned = canned_for(cdn)
    cdn.answer_media_conn(canned)
    cdn.fail_status = 500
    with pytest.raises(MediaUploadError) as caught:
        await canned.client.media.upload(b"x", MediaType.DOCUMENT)
    assert caught.value.status == 500


async def test_media_conn_errors_are_typed() -> None:
    canned = canned_for(FakeCDN("unused", Path("/nonexistent")))
    canned.client.ca_file = None
    canned.expect(lambda request: error(request, 500))
    with pytest.raises(MediaConnError):
        await canned.client.media.upload(b"x", MediaType.IMAGE)
    canned.expect(lambda request: result(request, Node("media_conn", {"ttl": "1"})))
    with pytest.raises(MediaConnError):
        await canned.client.media.upload(b"x", MediaType.IMAGE)


def test_parse_media_conn() -> None:
    conn = parse_media_conn(
        Node("iq", {}, [FakeCDN("a.example", Path()).media_conn("a.example", "b.example")])
    )
    assert conn.hosts == ("a.example", "b.example")
    assert conn.ttl == 300 and conn.auth == "auth-1"
    assert "auth-1" not in repr(conn)
    for bad in (Node("iq"), Node("iq", {}, [Node("media_conn", {"auth": "x", "ttl": "z"})])):
        with pytest.raises(MediaConnError):
            parse_media_conn(bad)
