"""The homeserver → bridge ping at start-up, tried more than once.

mautrix pings the bridge through the homeserver once and exits (code 16) on any error. Synapse
under load sometimes answers that ping 502 ``M_CONNECTION_FAILED`` although it reached us (a
timeout race inside Synapse: "Tried to cancel an already-called event"), so one such answer
must not stop the bridge. A setup that is really broken still fails, a few seconds later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from mautrix.errors import MatrixRequestError

PING_ATTEMPTS = 4
PING_RETRY_DELAY = 2.0
_TRANSIENT_STATUSES = (502, 504)

Ping = Callable[[str], Awaitable[int]]


def retrying_ping(
    ping: Ping,
    new_txn_id: Callable[[], str],
    log: logging.Logger,
    attempts: int = PING_ATTEMPTS,
    delay: float = PING_RETRY_DELAY,
) -> Ping:
    """``ping`` retried on the homeserver's transient gateway errors, each try with a new
    transaction id; the last error is raised."""

    async def ping_with_retries(txn_id: str) -> int:
        for attempt in range(1, attempts + 1):
            try:
                return await ping(txn_id)
            except MatrixRequestError as e:
                if e.http_status not in _TRANSIENT_STATUSES or attempt == attempts:
                    raise
                log.warning(
                    "Homeserver -> bridge ping failed (attempt %d of %d, HTTP %d): %s",
                    attempt,
                    attempts,
                    e.http_status,
                    e,
                )
                await asyncio.sleep(delay)
                txn_id = new_txn_id()
        raise AssertionError("unreachable: the last attempt returns or raises")

    return ping_with_retries
