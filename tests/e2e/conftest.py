"""Fixtures for the end-to-end tests: the session's Synapse, Matrix users, the bridge process.

``bridge`` runs the bridge against the session's Synapse and the test's ``simulator`` (a module
can override ``simulator``, e.g. to load a plugin). Parametrize ``bridge_overrides`` to change
config keys for one test, and ``bridge_database`` (indirect, ``"sqlite"``/``"postgres"``) to
choose its database.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bridge import BridgeProcess, run_bridge
from tests.e2e.matrix_client import MatrixTestUser
from tests.e2e.secrets_scan import SECRETS
from tests.e2e.synapse import SynapseInfo, synapse
from tests.postgres import pg_url, throwaway_database
from tests.simulator_fixture import SimulatorInfo, simulator

__all__ = ["bridge", "matrix_user", "simulator", "synapse"]

MakeUser = Callable[..., Awaitable[MatrixTestUser]]


@pytest.fixture
async def matrix_user(synapse: SynapseInfo) -> AsyncIterator[MakeUser]:
    """A factory of fresh, uniquely named real users (``await matrix_user("alice")``).

    The Synapse lives for the whole session, so names get a random suffix; every client made
    here is closed when the test ends.
    """
    made: list[MatrixTestUser] = []

    async def make(prefix: str = "user", *, admin: bool = False) -> MatrixTestUser:
        username = f"{prefix}_{secrets.token_hex(4)}"
        user = await synapse.register_user(username, secrets.token_hex(12), admin=admin)
        made.append(user)
        return user

    yield make
    for user in made:
        await user.close()


@pytest.fixture
def bridge_overrides() -> dict[str, Any]:
    """Config keys to change for one test (parametrize this name to set them)."""
    return {}


@pytest.fixture
def bridge_database(request: pytest.FixtureRequest) -> str | None:
    """The bridge's database: SQLite in the test folder, or (param "postgres") a fresh one."""
    if getattr(request, "param", "sqlite") == "postgres":
        return str(request.getfixturevalue("postgres_database"))
    return None


@pytest.fixture
def bridge_permissions() -> dict[str, str] | None:
    """``bridge.permissions`` for one test (None: the server's users are ``user``)."""
    return None


@pytest.fixture
def bridge(
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    tmp_path: Path,
    bridge_overrides: dict[str, Any],
    bridge_database: str | None,
    bridge_permissions: dict[str, str] | None,
) -> Iterator[BridgeProcess]:
    with run_bridge(
        tmp_path / "bridge",
        synapse,
        simulator=simulator,
        overrides=bridge_overrides,
        database=bridge_database,
        permissions=bridge_permissions,
    ) as process:
        yield process


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for one bridge process (fails if there is no server)."""
    with throwaway_database("mautrix_whatsapp_e2e") as name:
        yield pg_url(name)


# ---- secrets scanner ----


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_bridge_logs() -> Iterator[None]:
    """After the session: no secret the tests met is in any bridge log at INFO or above."""
    yield
    findings = SECRETS.scan()
    print(
        f"\nsecrets scanner: {len(SECRETS.secrets)} secret forms, "
        f"{len(SECRETS.directories)} bridge logs, {len(findings)} findings"
    )
    assert not findings, "secrets in bridge logs at INFO+:\n" + "\n".join(
        f"{f.log}: {f.kind} in [{f.level}] {f.line}" for f in findings
    )
