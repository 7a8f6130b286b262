"""One ordered work queue per portal, shared by both directions.

WhatsApp events and Matrix events for a chat are handled one at a time, in arrival order, by
one task; a job that fails is logged and the next one runs. The WhatsApp side only enqueues
(the client's event loop is never held up by Matrix), the Matrix side may wait for its job.

The queue itself lives in memory; crash safety is :mod:`.pending`'s: a received message is in
the ``pending_message`` table before its job is submitted (and before WhatsApp gets the
receipt), and a restart re-submits what is left there before anything new arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

Job = Callable[[], Awaitable[None]]


class PortalQueue:
    """Runs jobs strictly one after another; the worker task starts with the first job."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._jobs: asyncio.Queue[tuple[Job, asyncio.Future[None] | None]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def submit(self, job: Job) -> None:
        """Queue ``job`` and return at once (its errors are logged, never raised)."""
        self._put(job, None)

    async def run(self, job: Job) -> None:
        """Queue ``job`` behind everything already queued and wait for it; its error is
        raised here."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(job, done)
        await done

    def _put(self, job: Job, done: asyncio.Future[None] | None) -> None:
        self._jobs.put_nowait((job, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())

    async def _work(self) -> None:
        while not self._jobs.empty():
            job, done = self._jobs.get_nowait()
            try:
                await job()
            except Exception as e:
                if done is None:
                    self.log.exception("Portal job failed")
                elif not done.done():
                    done.set_exception(e)
            else:
                if done is not None and not done.done():
                    done.set_result(None)

    @property
    def pending(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return self._jobs.qsize()

    async def stop(self) -> None:
        """Cancel the worker (bridge shutdown); queued jobs are dropped, their waiters
        cancelled."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        while not self._jobs.empty():
            _, done = self._jobs.get_nowait()
            if done is not None:
                done.cancel()
