"""Fixtures for the bridge's tests: a migrated database on SQLite and on a real PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth). One throwaway database is created per
test run and dropped at the end; each test gets its own schema in it. An unreachable server is a
failure, never a skip.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from mautrix.util.async_db import Database

from mautrix_whatsapp.config import Config
from mautrix_whatsapp.db import upgrade_table
from tests.postgres import pg_url, throwaway_database

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "mautrix_whatsapp" / "example-config.yaml"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The packaged example config, loaded unchanged from a copy in the test's folder."""
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE_CONFIG.read_bytes())
    config = Config(
        str(path), str(tmp_path / "r.yaml"), "pkg://mautrix_whatsapp/example-config.yaml"
    )
    config.load()
    return config


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The name of this run's throwaway PostgreSQL database."""
    with throwaway_database("mautrix_whatsapp_test") as name:
        yield name


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, object]]:
    """A database URL and pool options; the PostgreSQL one points at a fresh schema."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'bridge.db'}", {}
    name = request.getfixturevalue("pg_database")
    schema = f"t_{secrets.token_hex(6)}"

    async def make_schema() -> None:
        conn = await asyncpg.connect(pg_url(name), timeout=10)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()

    asyncio.run(make_schema())
    return (
        pg_url(name),
        {"min_size": 1, "max_size": 3, "server_settings": {"search_path": schema}},
    )


@pytest.fixture
async def database(db_url: tuple[str, dict[str, object]]) -> AsyncIterator[Database]:
    """A started, fully upgraded bridge database."""
    url, args = db_url
    db = Database.create(url, upgrade_table=upgrade_table, db_args=dict(args))
    await db.start()
    try:
        yield db
    finally:
        await db.stop()
