"""The simulator's media server as a client sees it: ``media_conn``, upload, download by direct
path and by URL, expiry, and the HTTP errors a misbehaving client gets (recorded as its fault).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from tests.simulator.media_crypto import decrypt_media, encrypt_media
from tests.simulator_fixture import SimulatorInfo, simulator, simulator_tls  # noqa: F401
from tests.whatsapp.raw_device import RawDevice, linked_raw_device
from tests.whatsapp.test_client_helpers import admin

PHONE = "15550007001"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60)


def _token(blob: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


async def _media_conn(raw: RawDevice) -> Node:
    answer = await raw.iq("set", "s.whatsapp.net", [Node("media_conn")], xmlns="w:m")
    assert answer.attrs["type"] == "result", answer
    return answer.get_child_by_tag("media_conn")


class Http:
    def __init__(self, info: SimulatorInfo, session: aiohttp.ClientSession) -> None:
        self.info = info
        self.session = session
        self.scheme = urlsplit(info.media_url).scheme

    async def post(self, host: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        url = f"{self.scheme}://{host}{path}"
        async with self.session.post(url, data=body, ssl=self.info.ssl_context() or True) as r:
            return r.status, await r.json()

    async def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        async with self.session.get(
            url, headers=headers, ssl=self.info.ssl_context() or True
        ) as r:
            return r.status, await r.read()


async def _uploaded(info: SimulatorInfo) -> list[dict[str, Any]]:
    """The media server's blobs but the phone's own: its first-login history syncs and the
    app-state snapshots it made when the client that linked the raw device fetched app state."""
    _, listing = await admin(info, "GET", "/media")
    return [b for b in listing["blobs"] if b["type"] not in ("md-msg-hist", "md-app-state")]


async def _upload_and_download(info: SimulatorInfo) -> None:
    raw = await linked_raw_device(info, PHONE)
    try:
        conn = await _media_conn(raw)
        host = conn.get_child_by_tag("host").attr_str("hostname")
        assert host == urlsplit(info.media_url).netloc
        for attr in ("ttl", "auth_ttl", "max_buckets"):
            assert int(conn.attr_str(attr)) > 0
        auth = conn.attr_str("auth")
        plaintext = os.urandom(5000)
        encrypted = encrypt_media(plaintext, "image")
        token = _token(encrypted.blob)
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
            http = Http(info, session)
            status, answer = await http.post(
                host, f"/mms/image/{token}?auth={auth}&token={token}", encrypted.blob
            )
            assert status == 200, answer
            direct_path = answer["direct_path"]
            assert direct_path.startswith("/v/") and "?" in direct_path
            assert answer["url"].startswith(f"{http.scheme}://{host}{direct_path}")
            # As whatsmeow downloads: https://{hostname}{direct_path}&hash=…&mms-type=…
            status, blob = await http.get(
                f"{http.scheme}://{host}{direct_path}&hash={token}&mms-type=image&__wa-mms="
            )
            assert status == 200
            assert decrypt_media(blob, "image", encrypted.media_key) == plaintext
            status, blob = await http.get(answer["url"])  # as Baileys does, by URL
            assert status == 200 and blob == encrypted.blob
            status, part = await http.get(answer["url"], {"Range": "bytes=16-47"})
            assert status == 206 and part == encrypted.blob[16:48]

            blobs = await _uploaded(info)
            assert [b["direct_path"] for b in blobs] == [direct_path]
            assert blobs[0]["size"] == len(encrypted.blob)
            await admin(info, "POST", "/media/expire", {"direct_path": direct_path})
            status, _ = await http.get(answer["url"])
            assert status == 410
            status, _ = await http.get(f"{http.scheme}://{host}/v/t62.7118-24/nothing.enc?x=1")
            assert status == 404
    finally:
        await raw.close()


async def test_media_conn_upload_download_expire_over_http(simulator: SimulatorInfo) -> None:  # noqa: F811
    await _upload_and_download(simulator)


async def test_media_conn_upload_download_expire_over_https(
    simulator_tls: SimulatorInfo,  # noqa: F811
) -> None:
    assert urlsplit(simulator_tls.media_url).scheme == "https"
    await _upload_and_download(simulator_tls)


@pytest.mark.simulator_protocol_errors("media POST")
async def test_bad_uploads_get_clear_http_errors_and_nothing_breaks(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    raw = await linked_raw_device(simulator, PHONE)
    try:
        conn = await _media_conn(raw)
        host = conn.get_child_by_tag("host").attr_str("hostname")
        auth = conn.attr_str("auth")
        blob = encrypt_media(os.urandom(100), "document").blob
        token = _token(blob)
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
            http = Http(simulator, session)
            cases: list[tuple[str, bytes, int]] = [
                (f"/mms/document/{_token(b'x')}?auth={auth}", blob, 400),  # wrong token
                (f"/mms/document/{token}?auth=forged", blob, 401),
                (f"/mms/document/{token}", blob, 401),  # no auth
                (f"/mms/document/{_token(blob[:-5])}?auth={auth}", blob[:-5], 400),  # cut blob
                (f"/mms/spreadsheet/{token}?auth={auth}", blob, 400),
            ]
            for path, body, expected in cases:
                status, answer = await http.post(host, path, body)
                assert status == expected, (path, answer)
                assert answer["error"]
            await admin(simulator, "POST", "/media/config", {"max_upload_bytes": 64})
            status, answer = await http.post(host, f"/mms/document/{token}?auth={auth}", blob)
            assert status == 413, answer
            await admin(simulator, "POST", "/media/config", {"max_upload_bytes": 1 << 20})

            _, status_json = await admin(simulator, "GET", "/status")
            assert len(status_json["protocol_errors"]) == len(cases) + 1
            assert await _uploaded(simulator) == []

            # A revoked auth is no fault: the client is told to refresh media_conn.
            await admin(simulator, "POST", "/media/revoke-auths")
            status, answer = await http.post(host, f"/mms/document/{token}?auth={auth}", blob)
            assert status == 401, answer
            _, status_after = await admin(simulator, "GET", "/status")
            assert status_after["protocol_errors"] == status_json["protocol_errors"]

            fresh = (await _media_conn(raw)).attr_str("auth")
            assert fresh != auth
            status, answer = await http.post(host, f"/mms/document/{token}?auth={fresh}", blob)
            assert status == 200, answer
            status, got = await http.get(answer["url"])
            assert status == 200 and got == blob
        assert not (await raw.quiet())  # the websocket session is untouched
    finally:
        await raw.close()


@pytest.mark.simulator_protocol_errors("body cut off")
async def test_an_upload_cut_off_mid_body_is_recorded(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await linked_raw_device(simulator, PHONE)
    try:
        auth = (await _media_conn(raw)).attr_str("auth")
        parts = urlsplit(simulator.media_url)
        _reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        head = (
            f"POST /mms/image/{_token(b'whole')}?auth={auth} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nContent-Length: 100000\r\n\r\n"
        )
        writer.write(head.encode() + os.urandom(1000))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(20):
            while True:
                _, status = await admin(simulator, "GET", "/status")
                if status["protocol_errors"]:
                    break
                await raw.quiet()  # a round trip to the server, then look again
        assert len(status["protocol_errors"]) == 1
        assert "body cut off" in status["protocol_errors"][0]
        assert not status["internal_errors"]
        assert await _uploaded(simulator) == []
    finally:
        await raw.close()
