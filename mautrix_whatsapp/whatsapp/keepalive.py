"""Keepalive pings: prove the connection is alive, and reconnect when it stops answering.

whatsmeow's timing: a ``<iq xmlns="w:p" type="get"/>`` every 20-30 s (random), a 10 s deadline
for the answer, and a forced reconnect once pings have failed for 3 minutes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .events import KeepAliveRestored, KeepAliveTimeout


@dataclass(frozen=True)
class KeepAliveTiming:
    """Injectable so tests run in milliseconds; the defaults are whatsmeow's."""

    interval_min: float = 20.0
    interval_max: float = 30.0
    response_deadline: float = 10.0
    max_fail_time: float = 180.0

    def next_interval(self) -> float:
        return random.uniform(self.interval_min, self.interval_max)


async def keepalive_loop(
    timing: KeepAliveTiming,
    ping: Callable[[float], Awaitable[bool]],
    emit: Callable[[object], Awaitable[None]],
    force_reconnect: Callable[[], Awaitable[None]],
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Ping until cancelled. ``ping(deadline)`` returns whether the server answered in time.

    ``clock`` measures how long pings have failed (injectable, so a test need not race it).
    """
    last_success = clock()
    last_success_wall = datetime.now(UTC)
    errors = 0
    while True:
        await asyncio.sleep(timing.next_interval())
        if await ping(timing.response_deadline):
            if errors:
                errors = 0
                await emit(KeepAliveRestored())
            last_success = clock()
            last_success_wall = datetime.now(UTC)
            continue
        errors += 1
        await emit(KeepAliveTimeout(error_count=errors, last_success=last_success_wall))
        if clock() - last_success > timing.max_fail_time:
            await force_reconnect()
            return
