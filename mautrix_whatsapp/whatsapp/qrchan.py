"""Rotating the QR code through the server's refs on WhatsApp's timing.

The server sends six refs at once; the first is shown for 60 s and each later one for 20 s, so a
login attempt lasts 160 s. When the last one expires, linking by QR has timed out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .events import QRCode


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
