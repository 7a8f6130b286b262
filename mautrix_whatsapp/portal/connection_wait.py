"""A Matrix message sent while the user's WhatsApp connection is being re-established (a
dropped socket, a bridge restart) waits a little for it instead of failing at once; so does
one whose send the connection refused because it dropped just then (nothing of it left)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..session import SendNotStarted
from .status import NotLoggedIn

if TYPE_CHECKING:
    from ..session import SentMessage
    from ..user import User
    from ..whatsapp.proto import wa_e2e_pb2

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


async def send_through_drops(
    user: User, chat: str, message: wa_e2e_pb2.Message, timeout: float = CONNECT_WAIT
) -> SentMessage:
    """Send with ``user``'s session; a send refused before anything left is tried again once
    the connection is back, for at most ``timeout`` seconds (then its failure is raised)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        session = user.session
        if session is None:
            raise NotLoggedIn("you're not logged in to WhatsApp")
        try:
            return await session.send_message(chat, message)
        except SendNotStarted:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(POLL_INTERVAL)  # the drop is seen a moment after the refusal
        await wait_until_connected(user, deadline - loop.time())
