"""A Matrix message sent while the user's WhatsApp connection is being re-established (a
dropped socket, a bridge restart) waits a little for it instead of failing at once."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..user import User

CONNECT_WAIT = 20.0
POLL_INTERVAL = 0.1


async def wait_until_connected(user: User, timeout: float = CONNECT_WAIT) -> None:
    """Until ``user`` (logged in) is connected, at most ``timeout`` seconds; the send that
    follows reports the failure if the connection is still down."""
    if user.wa_jid is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _connected(user):
        if loop.time() >= deadline:
            return
        await asyncio.sleep(POLL_INTERVAL)


def _connected(user: User) -> bool:
    session = user.session
    # A session without the flag (a test double) counts as connected.
    return session is not None and bool(getattr(session, "is_connected", True))
