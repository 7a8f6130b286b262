"""The test PostgreSQL server (127.0.0.1:5432, trust auth) and throwaway databases on it.

An unreachable server fails the test, never skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
import pytest

PG_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"{PG_SERVER_URL}/postgres"


def pg_url(database: str) -> str:
    """The connection URL of one database on the test server."""
    return f"{PG_SERVER_URL}/{database}"


async def pg_admin(query: str) -> None:
    """Run one statement as the server's admin (``CREATE``/``DROP DATABASE``)."""
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as e:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {e}", pytrace=False)
    try:
        await conn.execute(query)
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create a uniquely named database, yield its name, drop it (even if still in use).

    Synchronous (``asyncio.run``), so it works in sync fixtures of any scope."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
