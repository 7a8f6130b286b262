"""Fixtures for the end-to-end tests: the session's Synapse and short-lived Matrix users."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.e2e.matrix_client import MatrixTestUser
from tests.e2e.synapse import SynapseInfo, synapse

__all__ = ["matrix_user", "synapse"]

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
