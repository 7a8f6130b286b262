"""The per-portal queue: strict order across both directions, errors contained."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mautrix_whatsapp.portal.queue import Job, PortalQueue


async def test_jobs_run_in_order_one_at_a_time() -> None:
    queue = PortalQueue(logging.getLogger("test"))
    log: list[str] = []
    running = 0

    def job(name: str, pause: int) -> Job:
        async def run() -> None:
            nonlocal running
            running += 1
            assert running == 1, "two jobs ran at once"
            for _ in range(pause):
                await asyncio.sleep(0)  # yield to the loop: a later job must still wait
            log.append(name)
            running -= 1

        return run

    queue.submit(job("wa-1", 5))
    queue.submit(job("wa-2", 0))
    await queue.run(job("mx-1", 3))
    queue.submit(job("wa-3", 0))
    await queue.run(job("mx-2", 0))
    assert log == ["wa-1", "wa-2", "mx-1", "wa-3", "mx-2"]


async def test_a_failing_job_does_not_stop_the_queue(caplog: pytest.LogCaptureFixture) -> None:
    queue = PortalQueue(logging.getLogger("test.portal"))
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("bad message")

    async def fine() -> None:
        done.append("fine")

    queue.submit(boom)
    with pytest.raises(RuntimeError, match="bad message"):
        await queue.run(boom)
    await queue.run(fine)
    assert done == ["fine"]
    assert "Portal job failed" in caplog.text


async def test_stop_cancels_waiting_jobs() -> None:
    queue = PortalQueue(logging.getLogger("test"))
    started = asyncio.Event()
    release = asyncio.Event()

    async def blocker() -> None:
        started.set()
        await release.wait()

    async def never() -> None:
        raise AssertionError("ran after stop")

    queue.submit(blocker)
    waiter = asyncio.create_task(queue.run(never))
    await started.wait()
    assert queue.pending == 1
    await queue.stop()
    with pytest.raises(asyncio.CancelledError):
        await waiter
