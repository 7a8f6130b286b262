"""The shared Signal lock registry: one holder per key at a time, nothing left behind."""

from __future__ import annotations

import asyncio

from mautrix_whatsapp.whatsapp.locks import SignalLocks
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress


async def test_same_key_serializes_other_keys_do_not() -> None:
    locks = SignalLocks()
    address = SignalAddress("123", 1)
    order: list[str] = []
    entered = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with locks.session(address):
            order.append("first in")
            entered.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        async with locks.session(SignalAddress("123", 1)):
            order.append("second in")

    task1 = asyncio.create_task(first())
    await entered.wait()
    task2 = asyncio.create_task(second())
    async with asyncio.timeout(1), locks.session(SignalAddress("123", 2)):
        order.append("other device")
    async with asyncio.timeout(1), locks.group("g@g.us"):
        order.append("group")
    release.set()
    await asyncio.gather(task1, task2)
    assert order == ["first in", "other device", "group", "first out", "second in"]
    assert len(locks.sessions) == 0 and len(locks.groups) == 0


async def test_a_failing_holder_releases_the_lock() -> None:
    locks = SignalLocks()
    try:
        async with locks.group("g@g.us"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(1), locks.group("g@g.us"):
        pass
    assert len(locks.groups) == 0
