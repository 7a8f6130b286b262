"""The byte stream a client sends the simulator, before any cryptography: sans-IO.

From the client: an optional ``ED 00 01 <len24> <routing info>`` prefix (WhatsApp Web sends it
when it has edge routing info) and the ``WA 06 03`` header once, then 3-byte big-endian
length-prefixed frames that may be split across websocket messages or share one. Kept apart from
the connection so that every split and every malformed header can be tested without a socket.
"""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.socket.frames import FRAME_LENGTH_SIZE, FRAME_MAX_SIZE, FrameDecoder
from mautrix_whatsapp.whatsapp.socket.noise_handshake import WA_CONN_HEADER

ROUTING_PREFIX = b"ED\x00\x01"


class FrameError(Exception):
    """The client's byte stream is malformed below the Noise layer: a bad connection header, a
    text websocket message, or a close in the middle of a frame."""


class ClientStreamDecoder:
    """Strips the one-time connection header, then splits frames; sans-IO.

    Fed with each websocket message; header bytes may arrive split like anything else.
    """

    def __init__(self, max_frame_size: int = FRAME_MAX_SIZE) -> None:
        self._header_buffer: bytearray | None = bytearray()
        self._frames = FrameDecoder(max_frame_size)
        self.routing_info: bytes | None = None
        """The routing bytes from an ``ED`` prefix, if the client sent one."""

    @property
    def pending(self) -> int:
        """Bytes received that are not part of a complete frame (or of the header) yet."""
        if self._header_buffer is not None:
            return len(self._header_buffer)
        return self._frames.pending

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every frame completed so far (possibly none)."""
        if self._header_buffer is not None:
            self._header_buffer += data
            rest = self._consume_header(self._header_buffer)
            if rest is None:
                return []
            self._header_buffer = None
            data = rest
        return self._frames.feed(data)

    def _consume_header(self, buffer: bytearray) -> bytes | None:
        """Return the bytes after the header once it is complete; ``None`` while incomplete."""
        start = 0
        if buffer[:1] == b"E":
            prefix_end = len(ROUTING_PREFIX) + FRAME_LENGTH_SIZE
            if not buffer[: len(ROUTING_PREFIX)] == ROUTING_PREFIX[: len(buffer)]:
                raise FrameError("malformed ED routing prefix")
            if len(buffer) < prefix_end:
                return None
            length = int.from_bytes(buffer[len(ROUTING_PREFIX) : prefix_end], "big")
            if len(buffer) < prefix_end + length:
                return None
            self.routing_info = bytes(buffer[prefix_end : prefix_end + length])
            start = prefix_end + length
        header = bytes(buffer[start : start + len(WA_CONN_HEADER)])
        if not WA_CONN_HEADER.startswith(header):
            raise FrameError(f"bad connection header {header.hex()}")
        if len(header) < len(WA_CONN_HEADER):
            return None
        return bytes(buffer[start + len(WA_CONN_HEADER) :])
