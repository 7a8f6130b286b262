"""WhatsApp's framing: a 3-byte big-endian length before every frame, sans-IO.

Websocket message boundaries mean nothing to the protocol: one message may carry several frames
or a piece of one, so the decoder keeps whatever is left over between messages.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import FrameTooLargeError, SocketError

FRAME_LENGTH_SIZE = 3
FRAME_MAX_SIZE = (1 << 24) - 1
"""The largest length a 3-byte prefix can express (whatsmeow refuses frames >= 1 << 24)."""


def _check_limit(max_frame_size: int) -> int:
    if not 0 <= max_frame_size <= FRAME_MAX_SIZE:
        raise ValueError(f"max_frame_size must be between 0 and {FRAME_MAX_SIZE}")
    return max_frame_size


def encode_frame(payload: bytes, max_frame_size: int = FRAME_MAX_SIZE) -> bytes:
    """Prefix ``payload`` with its length; raise :class:`FrameTooLargeError` if it cannot fit."""
    limit = _check_limit(max_frame_size)
    if len(payload) > limit:
        raise FrameTooLargeError(len(payload), limit, incoming=False)
    return len(payload).to_bytes(FRAME_LENGTH_SIZE, "big") + payload


class FrameDecoder:
    """Turns a stream of byte chunks into complete frames.

    A length prefix above ``max_frame_size`` raises :class:`FrameTooLargeError` as soon as the
    prefix is complete, before any of the body is buffered. After that the stream position is
    lost, so the decoder refuses further input with :class:`SocketError`.
    """

    def __init__(self, max_frame_size: int = FRAME_MAX_SIZE) -> None:
        self.max_frame_size = _check_limit(max_frame_size)
        self._buffer = bytearray()
        self._failed = False

    @property
    def pending(self) -> int:
        """How many bytes of an incomplete frame (prefix included) are buffered."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add a chunk and return every frame it completes, in order (possibly none)."""
        return list(self.frames(data))

    def frames(self, data: bytes) -> Iterator[bytes]:
        """Add a chunk and yield the frames it completes, in order.

        Unlike :meth:`feed`, frames that precede an oversized length prefix in the same chunk are
        yielded before the error is raised, so a reader does not lose a last good stanza.
        """
        if self._failed:
            raise SocketError("frame decoder is unusable after a framing error")
        buffer = self._buffer
        buffer += data
        offset = 0
        try:
            while len(buffer) - offset >= FRAME_LENGTH_SIZE:
                length = int.from_bytes(buffer[offset : offset + FRAME_LENGTH_SIZE], "big")
                if length > self.max_frame_size:
                    self._failed = True
                    raise FrameTooLargeError(length, self.max_frame_size, incoming=True)
                end = offset + FRAME_LENGTH_SIZE + length
                if len(buffer) < end:
                    break
                frame = bytes(buffer[offset + FRAME_LENGTH_SIZE : end])
                offset = end
                yield frame
        finally:
            if self._failed:
                buffer.clear()
            else:
                del buffer[:offset]
