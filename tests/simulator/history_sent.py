"""When each phone sent history to its companions, so tests can check the bridge's timing
against the phone's (``dispatch_wait`` counts from the last chunk a companion got).

:class:`HistorySentLog` lives in ``state.extra["history_sent"]``; ``history_sync`` records
every notification it delivers, ``admin_history`` serves it as
``GET /admin/accounts/{phone}/history-sent``.
Times are this machine's wall clock (unix seconds), the clock a homeserver on the same machine
stamps its events with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .state import ServerState


@dataclass
class DeviceHistorySent:
    """What one companion got: first-login chunks and on-demand answers, with their times."""

    first_chunks: int = 0
    first_last_at: float = 0.0
    on_demand: int = 0
    on_demand_last_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "first_chunks": self.first_chunks,
            "first_last_at": self.first_last_at,
            "on_demand": self.on_demand,
            "on_demand_last_at": self.on_demand_last_at,
        }


@dataclass
class HistorySentLog:
    devices: dict[tuple[str, int], DeviceHistorySent] = field(default_factory=dict)

    def record(self, phone: str, device: int, *, on_demand: bool = False) -> None:
        entry = self.devices.setdefault((phone, device), DeviceHistorySent())
        if on_demand:
            entry.on_demand += 1
            entry.on_demand_last_at = time.time()
        else:
            entry.first_chunks += 1
            entry.first_last_at = time.time()

    def of(self, phone: str) -> dict[str, dict[str, Any]]:
        return {str(d): e.as_json() for (p, d), e in sorted(self.devices.items()) if p == phone}


def get_history_sent(state: ServerState) -> HistorySentLog:
    log = state.extra.get("history_sent")
    if not isinstance(log, HistorySentLog):
        log = state.extra["history_sent"] = HistorySentLog()
    return log
