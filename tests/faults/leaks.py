"""What a process holds: open file descriptors (``/proc/<pid>/fd``, sockets included) and, for
the bridge, its asyncio tasks (the ``bridge_asyncio_tasks`` gauge of its metrics endpoint)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

SETTLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Holdings:
    fds: int
    sockets: int
    tasks: int


def _fds(pid: int) -> tuple[int, int]:
    fd_dir = f"/proc/{pid}/fd"
    fds = sockets = 0
    for name in os.listdir(fd_dir):
        fds += 1
        try:
            if os.readlink(f"{fd_dir}/{name}").startswith("socket:"):
                sockets += 1
        except FileNotFoundError:  # closed while we looked
            fds -= 1
    return fds, sockets


async def _tasks(metrics_port: int) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp,
    ):
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        if family.name == "bridge_asyncio_tasks":
            return int(family.samples[0].value)
    raise AssertionError("the bridge's metrics have no bridge_asyncio_tasks")


async def holdings(pid: int, metrics_port: int) -> Holdings:
    fds, sockets = _fds(pid)
    return Holdings(fds=fds, sockets=sockets, tasks=await _tasks(metrics_port))


async def assert_settles_back(
    pid: int, metrics_port: int, before: Holdings, slack: int, what: str
) -> Holdings:
    """Until the process holds no more than ``before`` (plus ``slack`` of each: work in
    flight), or fail with both counts: a leak per fault would be far above the slack."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        now = await holdings(pid, metrics_port)
        if (
            now.fds <= before.fds + slack
            and now.sockets <= before.sockets + slack
            and now.tasks <= before.tasks + slack
        ):
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"leaked across {what}: before {before}, after {now}")
        await asyncio.sleep(0.5)
