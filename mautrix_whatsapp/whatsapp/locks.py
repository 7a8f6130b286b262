"""Per-address locks around Signal sessions and per-(group, sender) locks around sender keys.

A session record is loaded, advanced and stored by every encrypt and decrypt; two of those
overlapping for one address would lose a ratchet step (whatsmeow holds its session lock the same
way). Receiving and sending share one :class:`SignalLocks` per client, so a message arriving from
a device while we encrypt to it waits its turn. Locks exist only while someone holds or waits for
them, so memory stays bounded by the work in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from .signal.address import SignalAddress


class KeyedLocks:
    """One :class:`asyncio.Lock` per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class SignalLocks:
    """The locks of one client's Signal state (see the module docstring)."""

    def __init__(self) -> None:
        self.sessions = KeyedLocks()
        self.sender_keys = KeyedLocks()

    def session(self, address: SignalAddress) -> AbstractAsyncContextManager[None]:
        """Hold while loading, using and storing the session with ``address``."""
        return self.sessions.hold(address)

    def sender_key(
        self, group_id: str, sender: SignalAddress
    ) -> AbstractAsyncContextManager[None]:
        """Hold while loading, using and storing the sender key of ``sender`` in ``group_id``."""
        return self.sender_keys.hold((group_id, sender))
