"""The start-up ping survives a homeserver's transient 502 and still fails on real errors."""

from __future__ import annotations

import itertools
import logging

import pytest
from mautrix.errors import MatrixRequestError, MatrixUnknownRequestError

from mautrix_whatsapp.homeserver_ping import retrying_ping

LOG = logging.getLogger("test")


def _error(status: int) -> MatrixRequestError:
    return MatrixUnknownRequestError(status, "M_CONNECTION_FAILED", "AlreadyCalled")


async def test_a_transient_502_is_retried_with_a_new_transaction_id() -> None:
    seen: list[str] = []

    async def ping(txn_id: str) -> int:
        seen.append(txn_id)
        if len(seen) < 3:
            raise _error(502)
        return 7

    ids = (f"txn{n}" for n in itertools.count(2))
    result = await retrying_ping(ping, lambda: next(ids), LOG, attempts=4, delay=0)("txn1")
    assert result == 7
    assert seen == ["txn1", "txn2", "txn3"]


async def test_gives_up_after_the_last_attempt() -> None:
    calls = 0

    async def ping(txn_id: str) -> int:
        nonlocal calls
        calls += 1
        raise _error(502)

    with pytest.raises(MatrixRequestError):
        await retrying_ping(ping, lambda: "again", LOG, attempts=3, delay=0)("first")
    assert calls == 3


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def ping(txn_id: str) -> int:
        nonlocal calls
        calls += 1
        raise _error(403)

    with pytest.raises(MatrixRequestError):
        await retrying_ping(ping, lambda: "again", LOG, attempts=3, delay=0)("first")
    assert calls == 1
