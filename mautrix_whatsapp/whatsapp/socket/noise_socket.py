"""The encrypted transport that follows the handshake.

Every frame is AES-256-GCM with an empty AAD; each direction has its own key and its own counter,
which is the nonce (eight zero bytes and the big-endian u32 counter). Both ends must therefore see
frames in exactly the order they were encrypted, which is why encryption and sending happen under
one lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from .errors import FrameTooLargeError, NoiseDecryptError
from .framesocket import DisconnectHandler, FrameSocket
from .noise_handshake import CipherPair

GCM_TAG_SIZE = 16


class NoiseSocket:
    """Encrypted frames over a connected :class:`FrameSocket`."""

    def __init__(self, frame_socket: FrameSocket, ciphers: CipherPair) -> None:
        self.frame_socket = frame_socket
        self._ciphers = ciphers
        self._write_lock = asyncio.Lock()

    @property
    def is_connected(self) -> bool:
        return self.frame_socket.is_connected

    def add_disconnect_handler(self, handler: DisconnectHandler) -> None:
        self.frame_socket.add_disconnect_handler(handler)

    async def send_frame(self, plaintext: bytes) -> None:
        """Encrypt and send one frame (binary node bytes, flag byte included)."""
        limit = self.frame_socket.max_frame_size
        if len(plaintext) + GCM_TAG_SIZE > limit:
            # Refuse before encrypting so the write counter is not spent on a frame never sent.
            raise FrameTooLargeError(len(plaintext) + GCM_TAG_SIZE, limit, incoming=False)
        async with self._write_lock:
            await self.frame_socket.send_frame(self._ciphers.write.encrypt(plaintext))

    async def receive_frame(self, timeout: float | None = None) -> bytes:
        """Return the next decrypted frame.

        Raises :class:`NoiseDecryptError` for a frame that fails authentication (the counter
        still advances, so later frames decrypt), the error that ended the connection, or
        :class:`SocketClosedError`.
        """
        ciphertext = await self.frame_socket.receive_frame(timeout)
        return self._ciphers.read.decrypt(ciphertext)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        """Yield decrypted frames until the connection ends, skipping undecryptable ones."""
        async for ciphertext in self.frame_socket:
            try:
                yield self._ciphers.read.decrypt(ciphertext)
            except NoiseDecryptError as e:
                self.frame_socket.log.warning("Dropping frame: %s", e)

    async def wait_closed(self) -> None:
        await self.frame_socket.wait_closed()

    async def close(self) -> None:
        await self.frame_socket.close()
