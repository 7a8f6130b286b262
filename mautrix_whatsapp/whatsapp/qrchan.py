"""Rotating the QR code through the server's refs on WhatsApp's timing.

The server sends six refs at once; the first is shown for 60 s and each later one for 20 s, so a
login attempt lasts 160 s. When the last one expires, linking by QR has timed out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .events import (
    PairError,
    PairingCode,
    PairSuccess,
    PermanentDisconnect,
    QRCode,
    QRTimeout,
)


@dataclass(frozen=True)
class QRTiming:
    """How long each ref is shown; tests shorten it (WhatsApp's values are the defaults)."""

    first: float = 60.0
    next: float = 20.0

    def timeout(self, index: int) -> float:
        return self.first if index == 0 else self.next


async def rotate_qr_codes(
    codes: Sequence[str],
    timing: QRTiming,
    emit: Callable[[QRCode], Awaitable[None]],
    on_exhausted: Callable[[], Awaitable[None]],
) -> None:
    """Emit each code in turn, wait out its lifetime, then call ``on_exhausted``.

    Runs as a task; cancelling it (pairing succeeded, connection dropped) stops the rotation.
    """
    for index, code in enumerate(codes):
        timeout = timing.timeout(index)
        await emit(QRCode(code=code, timeout=timeout, index=index))
        await asyncio.sleep(timeout)
    await on_exhausted()


class _EventSource(Protocol):
    def add_event_handler(self, handler: Callable[[object], Awaitable[None] | None]) -> None: ...

    def remove_event_handler(
        self, handler: Callable[[object], Awaitable[None] | None]
    ) -> None: ...


LoginEvent = QRCode | PairingCode | PairSuccess | PairError | QRTimeout | PermanentDisconnect
"""What a :class:`LoginChannel` yields."""


class LoginChannel:
    """One linking attempt's events as an async iterator (whatsmeow's ``GetQRChannel``).

    Create it before :meth:`Client.connect`. It yields each :class:`QRCode` (and
    :class:`PairingCode`) and ends after the first final event: :class:`PairSuccess`,
    :class:`PairError`, :class:`QRTimeout`, or a permanent disconnect (e.g. ClientOutdated).
    """

    _FINAL = (PairSuccess, PairError, QRTimeout, PermanentDisconnect)

    def __init__(self, client: _EventSource) -> None:
        self._client = client
        self._queue: asyncio.Queue[LoginEvent | None] = asyncio.Queue()
        self._done = False
        client.add_event_handler(self._on_event)

    def _on_event(self, event: object) -> None:
        if self._done:
            return
        if isinstance(event, (QRCode, PairingCode, *self._FINAL)):
            self._queue.put_nowait(event)

    def close(self) -> None:
        """Stop listening; a pending ``__anext__`` ends the iteration."""
        if not self._done:
            self._done = True
            self._client.remove_event_handler(self._on_event)
            self._queue.put_nowait(None)

    def __aiter__(self) -> LoginChannel:
        return self

    async def __anext__(self) -> LoginEvent:
        if self._done and self._queue.empty():
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        if isinstance(event, self._FINAL):
            self.close()
        return event
