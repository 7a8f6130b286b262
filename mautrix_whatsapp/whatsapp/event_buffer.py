"""The decrypted-event buffer (whatsmeow's ``store.EventBuffer``): no message lost to a crash.

Decrypting a Signal message advances the ratchet, and the new session state is saved; the same
ciphertext never decrypts again. If the process dies after that save but before the message
was handed over (and its delivery receipt sent), WhatsApp redelivers a ciphertext that can only
fail as a duplicate: the message would be lost. So the plaintext is saved under the SHA-256 of
its ciphertext *in the same transaction* as the session state (:meth:`EventBuffer.decryption_txn`);
a redelivered ciphertext found there is handed over again instead of decrypted. Once the
handlers accepted the message and the receipt went out, the plaintext is cleared and only the
hash stays (a later redelivery is then known as handled and just acknowledged); hashes older
than :data:`BUFFER_MAX_AGE` are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

BUFFER_MAX_AGE = timedelta(days=14)
"""How long a handled ciphertext's hash is kept (whatsmeow keeps them two weeks)."""


def ciphertext_hash(ciphertext: bytes) -> bytes:
    """The buffer's key for one ``<enc>``'s content."""
    return hashlib.sha256(ciphertext).digest()


@dataclass(frozen=True)
class BufferedEvent:
    """A decrypted ciphertext: ``plaintext`` is None once the message was handled."""

    plaintext: bytes | None
    server_timestamp: datetime
    inserted: datetime


class EventBuffer(Protocol):
    """Where decrypted plaintexts wait until the message is handled (see the module docs)."""

    def decryption_txn(self) -> contextlib.AbstractAsyncContextManager[None]:
        """One transaction around a decryption and :meth:`put`: the Signal store's writes
        inside it commit together with the plaintext, or not at all."""

    async def get(self, hash_: bytes) -> BufferedEvent | None: ...

    async def put(self, hash_: bytes, plaintext: bytes, server_timestamp: datetime) -> None: ...

    async def clear_plaintext(self, hash_: bytes) -> None:
        """The message was handled: keep only the hash (a redelivery is acked, not re-run)."""

    async def delete_older_than(self, before: datetime) -> None:
        """Forget hashes inserted before ``before``."""


class MemoryEventBuffer:
    """:class:`EventBuffer` in memory (tests, and clients whose stores are in memory anyway:
    their Signal state dies with the process too, so no transaction is needed)."""

    def __init__(self) -> None:
        self.events: dict[bytes, BufferedEvent] = {}

    @contextlib.asynccontextmanager
    async def decryption_txn(self) -> AsyncIterator[None]:
        yield

    async def get(self, hash_: bytes) -> BufferedEvent | None:
        return self.events.get(hash_)

    async def put(self, hash_: bytes, plaintext: bytes, server_timestamp: datetime) -> None:
        self.events[hash_] = BufferedEvent(plaintext, server_timestamp, datetime.now(UTC))

    async def clear_plaintext(self, hash_: bytes) -> None:
        event = self.events.get(hash_)
        if event is not None:
            self.events[hash_] = BufferedEvent(None, event.server_timestamp, event.inserted)

    async def delete_older_than(self, before: datetime) -> None:
        for key in [k for k, e in self.events.items() if e.inserted < before]:
            del self.events[key]
