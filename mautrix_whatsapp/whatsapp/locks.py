"""Per-key asyncio locks shared by every module that touches Signal state.

A Signal session (one remote device) and a sender key (one group) are read, advanced and written
back by whoever encrypts or decrypts with them; two overlapping uses would both start from the
same record and one's ratchet step would be lost. whatsmeow serializes them the same way. One
:class:`SignalLocks` per client (``client.locks``), taken by the sending and receiving sides::

    async with client.locks.session(address): ...   # 1:1 session with one device
    async with client.locks.group(group_id): ...    # our/their sender keys in one group

Locks exist only while someone holds or waits for them, so the maps stay small. (The same API
as client-send's module of this name; either can replace the other.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable

from .signal.address import SignalAddress


class KeyedLocks:
    """One :class:`asyncio.Lock` per key, forgotten when unused."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class SignalLocks:
    """The client's session and sender-key locks (see the module docstring)."""

    def __init__(self) -> None:
        self.sessions = KeyedLocks()
        self.groups = KeyedLocks()

    def session(self, address: SignalAddress) -> contextlib.AbstractAsyncContextManager[None]:
        return self.sessions.hold(address)

    def group(self, group_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self.groups.hold(group_id)
