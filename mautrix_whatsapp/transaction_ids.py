"""Appservice transactions are recognised as repeats by their content, not their id alone.

mautrix remembers the ids of handled transactions and answers a known id with "200, {}"
without looking. But Synapse (on SQLite) numbers its transactions from a counter it rebuilds
at start from the transactions still unsent, so after a homeserver restart it reuses ids the
bridge has already seen, for new events, which were then dropped unread (26 of 200 Matrix
messages in the fault test). A transaction is now a repeat only if the same id comes with the
same events (a retry); mautrix's own check is disabled.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

REMEMBERED = 10000


class NeverSeen(set[str]):
    """Stands in for mautrix's ``transactions`` set: no id counts as handled by itself."""

    def __contains__(self, item: object) -> bool:
        return False

    def add(self, element: str) -> None:
        """Not kept: :class:`TransactionMemory` remembers handled transactions instead."""


class TransactionMemory:
    """The last :data:`REMEMBERED` transactions, by id, with a digest of their content."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def digest(events: list[Any], extra: dict[str, Any]) -> str:
        ids = [e.get("event_id") if isinstance(e, dict) else None for e in events]
        body = json.dumps([ids, extra], default=str, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def is_repeat(self, txn_id: str, digest: str) -> bool:
        return self._seen.get(txn_id) == digest

    def remember(self, txn_id: str, digest: str) -> None:
        self._seen[txn_id] = digest
        self._seen.move_to_end(txn_id)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
