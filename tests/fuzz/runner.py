"""Running a fuzz target: one input per seed, any escaped exception, hang or error logged
with a traceback counts as a failure."""

from __future__ import annotations

import asyncio
import logging
import random
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Check = Callable[[Any], Awaitable[None]]
HANG_SECONDS = 20.0


@dataclass(frozen=True)
class Target:
    """A generator of hostile inputs and the world that feeds one to the real code."""

    name: str
    generate: Callable[[random.Random], Any]
    world: Callable[[], AbstractAsyncContextManager[Check]]
    share: float = 1.0  # relative share of the fuzz job's inputs


@dataclass
class Failure:
    target: str
    seed: int
    input: str
    error: str


@dataclass
class Result:
    target: str
    tried: int = 0
    failures: list[Failure] = field(default_factory=list)


class _ErrorLog(logging.Handler):
    """Records logged with a traceback at ERROR or above: a handler caught a bug."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


async def drain(before: set[asyncio.Task[Any]]) -> None:
    """Let the tasks the input started run to their end (bounded)."""
    current = asyncio.current_task()
    for _ in range(100):
        started = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not started:
            return
        await asyncio.wait(started, timeout=0.05)


async def run_one(target: Target, check: Check, seed: int) -> Failure | None:
    """Feed the input of ``seed`` to ``check``; the failure, or None when handled."""
    data = target.generate(random.Random(seed))
    errors = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    before = asyncio.all_tasks()
    try:
        await asyncio.wait_for(check(data), HANG_SECONDS)
        await drain(before)
    except TimeoutError:
        return Failure(target.name, seed, repr(data)[:2000], "hang: no outcome in time")
    except Exception:
        return Failure(target.name, seed, repr(data)[:2000], traceback.format_exc())
    finally:
        root.removeHandler(errors)
    if errors.records:
        record = errors.records[0]
        text = logging.Formatter().format(record)
        return Failure(target.name, seed, repr(data)[:2000], f"logged error: {text}")
    return None


async def run_seeds(target: Target, seeds: Iterable[int], max_failures: int = 5) -> Result:
    """Every seed's input through one world."""
    result = Result(target.name)
    async with target.world() as check:
        for seed in seeds:
            result.tried += 1
            failure = await run_one(target, check, seed)
            if failure is not None:
                result.failures.append(failure)
                if len(result.failures) >= max_failures:
                    break
    return result


def hypothesis_run(target: Target, examples: int) -> None:
    """Run ``target`` under hypothesis (derandomized: the same seeds each run); a failure
    raises with the minimized seed and its input."""
    with asyncio.Runner() as runner:
        manager = target.world()
        check = runner.run(manager.__aenter__())
        try:

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(seed=st.integers(0, 2**32 - 1))
            def one(seed: int) -> None:
                failure = runner.run(run_one(target, check, seed))
                assert failure is None, f"{failure.input}\n{failure.error}"

            one()
        finally:
            runner.run(manager.__aexit__(None, None, None))


@asynccontextmanager
async def no_world_check(check: Callable[[Any], Any]) -> AsyncIterator[Check]:
    """A world for plain functions: the check called as it is (awaited if a coroutine)."""

    async def run(data: Any) -> None:
        outcome = check(data)
        if asyncio.iscoroutine(outcome):
            await outcome

    yield run
