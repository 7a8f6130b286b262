"""The frame socket against a raw aiohttp websocket server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import WSMsgType, web

from mautrix_whatsapp.whatsapp.socket import (
    DialError,
    FrameSocket,
    FrameTooLargeError,
    SocketClosedError,
    SocketError,
    encode_frame,
)

pytestmark = pytest.mark.timeout(20)

Handler = Callable[[web.WebSocketResponse, web.Request], Awaitable[None]]


class RawServer:
    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.received: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    async def start(self, handler: Handler | None = None) -> str:
        async def route(request: web.Request) -> web.WebSocketResponse:
            self.headers.append(dict(request.headers))
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            if handler is not None:
                await handler(ws, request)
            else:
                await self.record(ws)
            await ws.close()
            return ws

        app = web.Application()
        app.router.add_get("/ws/chat", route)
        self.runner = web.AppRunner(app, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        return f"ws://127.0.0.1:{self.runner.addresses[0][1]}/ws/chat"

    async def record(self, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                self.received.append(message.data)


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    srv = RawServer()
    yield srv
    if srv.runner is not None:
        await srv.runner.cleanup()


async def test_header_once_origin_and_frames_out(server: RawServer) -> None:
    url = await server.start()
    fs = FrameSocket(url, user_agent="test-agent")
    await fs.connect()
    assert fs.is_connected
    await fs.send_frame(b"first")
    await fs.send_frame(b"")
    await fs.send_frame(b"third")
    await fs.close()
    assert not fs.is_connected
    [headers] = server.headers
    assert headers["Origin"] == "https://web.whatsapp.com"
    assert headers["Cache-Control"] == "no-cache" and headers["Pragma"] == "no-cache"
    assert headers["User-Agent"] == "test-agent"
    assert server.received == [
        b"WA\x06\x03\x00\x00\x05first",
        b"\x00\x00\x00",
        b"\x00\x00\x05third",
    ]


async def test_split_and_coalesced_frames_in(server: RawServer) -> None:
    frames = [b"alpha", b"", b"x" * 1000, b"omega", b"last"]
    stream = b"".join(encode_frame(f) for f in frames)

    async def handler(ws: web.WebSocketResponse, request: web.Request) -> None:
        # Cut the stream into messages that split prefixes and bodies and merge frames.
        for a, b in [(0, 1), (1, 4), (4, 15), (15, 1020), (1020, len(stream))]:
            await ws.send_bytes(stream[a:b])
        await ws.send_str("text is ignored")
        await ws.send_bytes(encode_frame(b"after text"))

    url = await server.start(handler)
    fs = FrameSocket(url)
    disconnects: list[bool] = []
    fs.add_disconnect_handler(disconnects.append)
    await fs.connect()
    assert [frame async for frame in fs] == [*frames, b"after text"]
    assert disconnects == [True] and fs.close_error is None
    with pytest.raises(SocketClosedError):
        await fs.receive_frame()
    with pytest.raises(SocketClosedError):
        await fs.send_frame(b"late")
    await fs.close()  # idempotent after a remote close
    assert disconnects == [True]


async def test_incoming_frame_over_limit(server: RawServer) -> None:
    async def handler(ws: web.WebSocketResponse, request: web.Request) -> None:
        await ws.send_bytes(encode_frame(b"fine"))
        await ws.send_bytes(b"\x00\x01\x01")  # 257 > 256
        await ws.receive()  # until the client hangs up

    url = await server.start(handler)
    fs = FrameSocket(url, max_frame_size=256)
    await fs.connect()
    assert await fs.receive_frame(timeout=5) == b"fine"
    with pytest.raises(FrameTooLargeError) as info:
        await fs.receive_frame(timeout=5)
    assert info.value.incoming and info.value.size == 257
    assert fs.close_error is info.value and not fs.is_connected
    with pytest.raises(FrameTooLargeError):
        async for _ in fs:
            pass


async def test_frames_before_an_oversized_one_in_the_same_message_are_kept(
    server: RawServer,
) -> None:
    """A good frame coalesced with an oversized prefix (say, a last stanza and then garbage) is
    still handed out before the error that ends the connection."""

    async def handler(ws: web.WebSocketResponse, request: web.Request) -> None:
        await ws.send_bytes(encode_frame(b"last words") + b"\x00\x01\x01")
        await ws.receive()

    url = await server.start(handler)
    fs = FrameSocket(url, max_frame_size=256)
    await fs.connect()
    assert await fs.receive_frame(timeout=5) == b"last words"
    with pytest.raises(FrameTooLargeError):
        await fs.receive_frame(timeout=5)


async def test_outgoing_frame_over_limit_keeps_socket_usable(server: RawServer) -> None:
    url = await server.start()
    fs = FrameSocket(url, max_frame_size=256)
    await fs.connect()
    with pytest.raises(FrameTooLargeError) as info:
        await fs.send_frame(b"y" * 257)
    assert not info.value.incoming
    await fs.send_frame(b"y" * 256)
    await fs.close()
    # The refused frame did not consume the one-time header either.
    assert server.received == [b"WA\x06\x03\x00\x01\x00" + b"y" * 256]


async def test_receive_timeout_and_local_close_wakes_readers(server: RawServer) -> None:
    url = await server.start()
    fs = FrameSocket(url)
    disconnects: list[bool] = []
    fs.add_disconnect_handler(disconnects.append)
    await fs.connect()
    with pytest.raises(TimeoutError):
        await fs.receive_frame(timeout=0.05)
    waiter = asyncio.create_task(fs.receive_frame())
    await asyncio.sleep(0)
    await fs.close()
    with pytest.raises(SocketClosedError):
        await waiter
    assert disconnects == [False]
    with pytest.raises(SocketError):
        await fs.connect()  # single use


async def test_refused_connection_is_a_dial_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fs = FrameSocket(f"ws://127.0.0.1:{port}/ws/chat")
    with pytest.raises(DialError):
        await fs.connect()
    assert not fs.is_connected


async def test_http_error_is_a_dial_error_with_status(server: RawServer) -> None:
    url = await server.start()
    fs = FrameSocket(url.replace("/ws/chat", "/nowhere"))
    with pytest.raises(DialError) as info:
        await fs.connect()
    assert info.value.status == 404


async def test_connect_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept TCP, never answer the upgrade

    tcp = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    try:
        fs = FrameSocket(f"ws://127.0.0.1:{port}/ws/chat", connect_timeout=0.2)
        with pytest.raises(DialError) as info:
            await fs.connect()
        assert "timed out" in str(info.value)
    finally:
        for writer in accepted:
            writer.close()
        tcp.close()
        with contextlib.suppress(Exception):
            await tcp.wait_closed()


def test_ssl_options_are_exclusive() -> None:
    with pytest.raises(ValueError):
        FrameSocket(ssl_context=ssl.create_default_context(), ca_file="/nonexistent")


def test_sockets_share_one_trust_context() -> None:
    """Every context holds its own copy of the system's CA store (about 850 KiB): a bridge
    with 1,000 connected users must not hold 1,000 of them, nor load one per reconnect."""
    first, second = FrameSocket(), FrameSocket()
    assert first._ssl is second._ssl
    assert first._ssl.verify_mode == ssl.CERT_REQUIRED
