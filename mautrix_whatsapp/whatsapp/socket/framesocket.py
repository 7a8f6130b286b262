"""The frame socket: WhatsApp's length-prefixed frames over an aiohttp websocket.

It knows nothing about Noise; it moves opaque frames. The first outgoing frame is preceded once by
the connection header (``WA 06 03``). Incoming frames are queued as they are decoded and handed out
by :meth:`FrameSocket.receive_frame` or ``async for``; when the connection ends, waiting readers
are woken and disconnect handlers run.

A ``FrameSocket`` is single-use: connect it once, and make a new one to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp

from .errors import DialError, SocketClosedError, SocketError
from .frames import FRAME_LENGTH_SIZE, FRAME_MAX_SIZE, FrameDecoder, encode_frame
from .noise_handshake import WA_CONN_HEADER

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "ORIGIN",
    "WA_URL",
    "DisconnectHandler",
    "FrameSocket",
    "connection_header",
]

WA_URL = "wss://web.whatsapp.com/ws/chat"
ORIGIN = "https://web.whatsapp.com"
DEFAULT_CONNECT_TIMEOUT = 20.0
DEFAULT_CLOSE_TIMEOUT = 5.0
ABORT_CLOSE_TIMEOUT = 0.25
"""How long to wait for a misbehaving server to acknowledge our close before dropping it."""

DisconnectHandler = Callable[[bool], None]
"""Called once when the connection ends; the argument says whether the remote end closed it."""

_CLOSED = None


def connection_header(routing_info: bytes | None = None) -> bytes:
    """The bytes sent once before the first frame.

    With edge routing info (from ``<ib><edge_routing>``) the WhatsApp header is preceded by
    ``ED 00 01`` and the 3-byte-length-prefixed routing info, as WhatsApp Web sends it. The Noise
    prologue stays the bare ``WA 06 03`` either way.
    """
    if not routing_info:
        return WA_CONN_HEADER
    return b"ED\x00\x01" + encode_frame(routing_info) + WA_CONN_HEADER


def _ssl_for(ssl_context: ssl.SSLContext | None, ca_file: str | Path | None) -> ssl.SSLContext:
    if ssl_context is not None and ca_file is not None:
        raise ValueError("pass either ssl_context or ca_file, not both")
    if ssl_context is not None:
        return ssl_context
    return _trust_context(None if ca_file is None else str(ca_file))


@functools.lru_cache(maxsize=8)
def _trust_context(ca_file: str | None) -> ssl.SSLContext:
    """One context per trust setting, shared by every socket of the process: each context
    holds its own copy of the system's CA store (about 850 KiB and 0.1 s of CPU to load), which
    per connection made most of a connected user's memory and of a restart's CPU."""
    context = ssl.create_default_context()
    if ca_file is not None:
        # In addition to the system's trust store: test servers add their own CA this way.
        context.load_verify_locations(cafile=ca_file)
    return context


class FrameSocket:
    """A websocket carrying 3-byte-length-prefixed frames.

    ``max_frame_size`` bounds frames both ways (:class:`FrameTooLargeError`). ``ssl_context`` or
    ``ca_file`` (extra trusted CAs) apply to ``wss`` URLs. Pass ``session`` to reuse an aiohttp
    session (it is left open); otherwise the socket makes and closes its own.
    """

    def __init__(
        self,
        url: str = WA_URL,
        *,
        header: bytes = WA_CONN_HEADER,
        origin: str = ORIGIN,
        user_agent: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | Path | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        max_frame_size: int = FRAME_MAX_SIZE,
        session: aiohttp.ClientSession | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.url = url
        self.origin = origin
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.close_timeout = close_timeout
        self.log = log or logging.getLogger("mautrix_whatsapp.whatsapp.socket")
        self._ssl = _ssl_for(ssl_context, ca_file)
        self._header: bytes | None = header
        self._decoder = FrameDecoder(max_frame_size)
        self._external_session = session
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._send_lock = asyncio.Lock()
        self._disconnect_handlers: list[DisconnectHandler] = []
        self._closed = asyncio.Event()
        self._closing_locally = False
        self._used = False
        self.close_error: SocketError | None = None
        """Why the connection ended, when it ended because of an error."""

    @property
    def max_frame_size(self) -> int:
        return self._decoder.max_frame_size

    @property
    def is_connected(self) -> bool:
        return self._ws is not None and not self._closed.is_set()

    def add_disconnect_handler(self, handler: DisconnectHandler) -> None:
        """Register ``handler(remote)``, called once when the connection ends."""
        self._disconnect_handlers.append(handler)

    async def connect(self) -> None:
        """Open the websocket; raise :class:`DialError` if that fails or takes too long."""
        if self._used:
            raise SocketError("a FrameSocket connects only once; make a new one to reconnect")
        self._used = True
        session = self._external_session
        if session is None:
            session = self._session = aiohttp.ClientSession()
        headers = {"Cache-Control": "no-cache", "Pragma": "no-cache"}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        self.log.debug("Dialing %s", self.url)
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._ws = await session.ws_connect(
                    self.url,
                    origin=self.origin,
                    headers=headers,
                    ssl=self._ssl,
                    # One websocket message carries at most about one maximal frame.
                    max_msg_size=FRAME_LENGTH_SIZE + FRAME_MAX_SIZE,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self.close_timeout),
                    autoclose=True,
                    autoping=True,
                )
        except BaseException as e:
            await self._close_session()
            self._closed.set()
            self._queue.put_nowait(_CLOSED)
            if isinstance(e, TimeoutError):
                raise DialError(f"timed out connecting to {self.url}") from e
            if isinstance(e, aiohttp.WSServerHandshakeError):
                raise DialError(f"websocket upgrade refused: {e.status}", e.status) from e
            if isinstance(e, aiohttp.ClientError | OSError):
                raise DialError(f"failed to connect to {self.url}: {e}") from e
            raise
        self._reader = asyncio.create_task(self._read_loop(self._ws), name="wa-frame-reader")

    async def send_frame(self, data: bytes) -> None:
        """Send one frame (the connection header goes out before the first one)."""
        frame = encode_frame(data, self.max_frame_size)
        async with self._send_lock:
            ws = self._ws
            if ws is None or self._closed.is_set() or ws.closed:
                raise SocketClosedError("frame socket is closed")
            if self._header is not None:
                frame = self._header + frame
                self._header = None
            try:
                await ws.send_bytes(frame)
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
                raise SocketClosedError(f"failed to send frame: {e}") from e

    async def receive_frame(self, timeout: float | None = None) -> bytes:
        """Return the next frame, waiting up to ``timeout`` seconds (``TimeoutError``).

        Frames that arrived before the connection ended are still returned; after them this
        raises the error that ended the connection, or :class:`SocketClosedError`.
        """
        if timeout is None:
            frame = await self._queue.get()
        else:
            async with asyncio.timeout(timeout):
                frame = await self._queue.get()
        if frame is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # wake the next reader too
            if self.close_error is not None:
                raise self.close_error
            raise SocketClosedError("frame socket is closed")
        return frame

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        """Yield frames until the connection ends; re-raise the error that ended it, if any."""
        while True:
            try:
                yield await self.receive_frame()
            except SocketClosedError:
                if self.close_error is not None:
                    raise
                return

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def close(self, timeout: float | None = None) -> None:
        """Close the connection (idempotent). Disconnect handlers see ``remote=False``.

        ``timeout`` (default ``close_timeout``) bounds the wait for the server to acknowledge
        the close; after it the connection is dropped.
        """
        if not self._closed.is_set():
            self._closing_locally = True
            ws = self._ws
            if ws is not None:
                await self._close_ws(ws, self.close_timeout if timeout is None else timeout)
        reader = self._reader
        if reader is not None and not reader.done() and reader is not asyncio.current_task():
            try:
                async with asyncio.timeout(self.close_timeout):
                    await asyncio.shield(reader)
            except TimeoutError:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        self._finish(None)
        await self._close_session()

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        error: SocketError | None = None
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    for frame in self._decoder.frames(message.data):
                        self._queue.put_nowait(frame)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    error = SocketClosedError(f"websocket error: {ws.exception()}")
                    break
                else:
                    self.log.warning("Ignoring unexpected websocket message type %s", message.type)
        except SocketError as e:
            error = e
        except (aiohttp.ClientError, ConnectionError) as e:
            error = SocketClosedError(f"websocket read failed: {e}")
        except Exception as e:
            self.log.exception("Unexpected error in frame reader")
            error = SocketClosedError(f"frame reader failed: {e!r}")
        if error is not None:
            self.log.debug("Frame socket failed: %s", error)
        elif not self._closing_locally:
            self.log.debug("Websocket closed by the server (code %s)", ws.close_code)
        self._finish(error)
        if not ws.closed and not self._closing_locally:
            # After a protocol error there is nothing to say to the server: do not linger.
            await self._close_ws(ws, ABORT_CLOSE_TIMEOUT)
        if not self._closing_locally:
            await self._close_session()

    async def _close_ws(self, ws: aiohttp.ClientWebSocketResponse, timeout: float) -> None:
        # Cancelling aiohttp's close() while it waits for the server's reply aborts the connection.
        try:
            async with asyncio.timeout(max(timeout, 0.05)):
                await ws.close()
        except TimeoutError:
            self.log.debug("The server did not acknowledge the close; connection dropped")
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
            self.log.debug("Error closing websocket: %s", e)

    def _finish(self, error: SocketError | None) -> None:
        """Mark the socket closed once: wake readers, then tell the disconnect handlers."""
        if self._closed.is_set():
            return
        self.close_error = error
        self._closed.set()
        self._queue.put_nowait(_CLOSED)
        remote = not self._closing_locally
        for handler in self._disconnect_handlers:
            try:
                handler(remote)
            except Exception:
                self.log.exception("Error in frame socket disconnect handler")

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
