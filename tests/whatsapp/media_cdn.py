"""A stand-in media CDN for the client's media tests (no tests of its own): TLS on loopback,
uploads kept by direct path, per-host switches for down/expired/auth-refused, and the
``media_conn`` answers a :class:`CannedServer` gives."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio
from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node
from tests.simulator.tls import generate_tls_files
from tests.whatsapp.canned_server import CannedServer, result


@dataclass
class FakeCDN:
    host: str
    ca_file: Path
    blobs: dict[str, bytes] = field(default_factory=dict)
    auth: str = "auth-1"
    expired: set[str] = field(default_factory=set)
    refuse_auth: bool = False
    fail_status: int | None = None
    requests: list[str] = field(default_factory=list)

    def media_conn(self, *hosts: str, auth: str | None = None, ttl: int = 300) -> Node:
        children = [Node("host", {"hostname": host}) for host in (hosts or (self.host,))]
        attrs = {"auth": auth or self.auth, "ttl": str(ttl), "auth_ttl": "21600"}
        attrs["max_buckets"] = "12"
        return Node("media_conn", attrs, children)

    def answer_media_conn(
        self, canned: CannedServer, *hosts: str, auth: str | None = None
    ) -> None:
        conn = self.media_conn(*hosts, auth=auth)
        canned.expect(lambda request: result(request, conn))

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"POST {request.path}")
        if self.fail_status is not None:
            return web.Response(status=self.fail_status)
        if request.query.get("auth") != self.auth:
            return web.Response(status=401)
        blob = await request.read()
        token = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).decode()
        if request.match_info["token"] != token or request.query.get("token") != token:
            return web.Response(status=400, text="token is not the blob's hash")
        path = f"/v/t62.7118-24/{secrets.token_hex(8)}.enc"
        self.blobs[path] = blob
        direct_path = f"{path}?ccb=11-4&oh=x&oe=0"
        return web.json_response(
            {"url": f"https://{self.host}{direct_path}", "direct_path": direct_path}
        )

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"GET {request.path_qs}")
        if self.fail_status is not None:
            return web.Response(status=self.fail_status)
        if self.refuse_auth:
            return web.Response(status=403)
        if request.path in self.expired:
            return web.Response(status=410)
        blob = self.blobs.get(request.path)
        if blob is None:
            return web.Response(status=404)
        return web.Response(body=blob)


@pytest_asyncio.fixture
async def cdn(tmp_path: Path) -> AsyncIterator[FakeCDN]:
    tls = generate_tls_files(tmp_path / "cdn-tls")
    fake = FakeCDN("", tls.ca_file)
    app = web.Application(client_max_size=1 << 30)
    app.router.add_post("/mms/{type}/{token}", fake._upload)
    app.router.add_get("/{path:.*}", fake._download)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context())
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.host = f"127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


def canned_for(cdn: FakeCDN) -> CannedServer:
    """A canned-IQ client trusting the CDN's certificate."""
    canned = CannedServer()
    canned.client.ca_file = cdn.ca_file
    return canned
