"""Matching IQ responses to requests by id, with timeouts.

Every ``<iq type="get|set">`` we send gets a unique ``id``; the server's ``result`` or ``error``
carries the same id. :class:`RequestTracker` hands out ids and futures, resolves them from the
read loop, and fails them all at once when the connection ends, so no caller waits forever.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets

from .binary.node import Node


class IQError(Exception):
    """The server answered ``type="error"``; ``code``/``text`` come from its ``<error>``."""

    def __init__(self, code: int, text: str, node: Node | None = None) -> None:
        super().__init__(f"IQ error {code}: {text}")
        self.code = code
        self.text = text
        self.node = node

    @classmethod
    def from_node(cls, node: Node) -> IQError:
        error = node.get_optional_child_by_tag("error")
        if error is None:
            return cls(0, "error without details", node)
        code = error.attrs.get("code", "0")
        try:
            number = int(str(code))
        except ValueError:
            number = 0
        return cls(number, str(error.attrs.get("text", "")), node)


class IQTimeoutError(IQError, TimeoutError):
    """No response within the deadline."""

    def __init__(self, timeout: float) -> None:
        super().__init__(0, f"no response within {timeout} s")


class IQDisconnectedError(IQError, ConnectionError):
    """The connection ended before the response came."""

    def __init__(self, reason: str = "connection closed") -> None:
        super().__init__(0, reason)


class RequestTracker:
    """Pending IQs of one client, across its connections."""

    def __init__(self) -> None:
        # A random prefix per client keeps ids unique across restarts, like whatsmeow's.
        self._prefix = f"{secrets.randbelow(65536)}.{secrets.randbelow(65536)}-"
        self._counter = itertools.count(1)
        self._waiters: dict[str, asyncio.Future[Node]] = {}

    def next_id(self) -> str:
        return f"{self._prefix}{next(self._counter)}"

    def expect(self, request_id: str) -> asyncio.Future[Node]:
        """Register a waiter for ``request_id`` (before sending, so a fast answer is not lost)."""
        future: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        future = self._waiters.pop(request_id, None)
        if future is not None and not future.done():
            future.cancel()

    def resolve(self, node: Node) -> bool:
        """Hand a ``result``/``error`` IQ to its waiter; False if nobody waits for it."""
        future = self._waiters.pop(str(node.attrs.get("id", "")), None)
        if future is None:
            return False
        if not future.done():
            future.set_result(node)
        return True

    def fail_all(self, reason: str = "connection closed") -> None:
        """Wake every waiter with :class:`IQDisconnectedError`."""
        waiters, self._waiters = self._waiters, {}
        for future in waiters.values():
            if not future.done():
                future.set_exception(IQDisconnectedError(reason))
                # Nobody may be left awaiting it (the caller timed out); don't warn then.
                future.exception()

    @property
    def pending(self) -> int:
        return len(self._waiters)

    async def wait(self, request_id: str, future: asyncio.Future[Node], timeout: float) -> Node:
        """Await the response; raise IQError for an error answer, IQTimeoutError on timeout."""
        try:
            async with asyncio.timeout(timeout):
                response = await future
        except TimeoutError:
            raise IQTimeoutError(timeout) from None
        finally:
            self._waiters.pop(request_id, None)
        if response.attrs.get("type") == "error":
            raise IQError.from_node(response)
        return response
