"""Ghosts end to end: a contact's name in the user's address book and the picture the contact
sets on their phone appear on the ghost's Matrix profile (``GET /profile/{userId}`` on Synapse),
and follow when they change. No portal is needed: the contact names synced from app state make
the ghosts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import linked_user, sim_admin
from tests.e2e.matrix_client import MatrixRequestError, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, admin, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(240)]

BOB = "15550007001"


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """With TLS: the phone's app-state snapshots are external blobs fetched over https."""
    return simulator_tls


FIRST_PICTURE = b"\xff\xd8\xff\xe0 Bob on a bike \xff\xd9"
SECOND_PICTURE = b"\xff\xd8\xff\xe0 Bob on a boat \xff\xd9"


async def wait_profile(
    user: MatrixTestUser, mxid: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """Poll the ghost's profile until ``check`` accepts it (a 404 is "not yet")."""
    path = f"/_matrix/client/v3/profile/{quote(mxid, safe='')}"
    deadline = asyncio.get_running_loop().time() + timeout
    profile: dict[str, Any] = {}
    while True:
        try:
            profile = await user.request("GET", path)
        except MatrixRequestError as e:
            if e.status != 404:
                raise
        if check(profile):
            return profile
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{mxid}'s profile stayed {profile}")
        await asyncio.sleep(0.2)


async def test_contact_name_and_picture_reach_the_ghost_profile(
    bridge: BridgeProcess,
    matrix_user: MakeUser,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
) -> None:
    me = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
    await sim_admin(simulator, "POST", "/accounts", json={"phone": BOB, "push_name": "bobby"})
    await admin(simulator, "POST", f"/accounts/{BOB}/picture", FIRST_PICTURE)
    user, _, scan = await linked_user(matrix_user, synapse, simulator)
    assert scan["phone"] == me["phone"]
    ghost = f"@whatsapp_{BOB}:{synapse.server_name}"

    contacts = f"/accounts/{scan['phone']}/contacts"
    entry = {"jid": BOB, "full_name": "Bob Builder", "first_name": "Bob"}
    await sim_admin(simulator, "POST", contacts, json={"contacts": [entry]})
    first = await wait_profile(
        user,
        ghost,
        lambda p: p.get("displayname") == "Bob Builder (WA)" and bool(p.get("avatar_url")),
    )
    assert await user.download_media(first["avatar_url"]) == FIRST_PICTURE

    # The contact changes their picture; the user renames them in the address book.
    await admin(simulator, "POST", f"/accounts/{BOB}/picture", SECOND_PICTURE)
    renamed = {"jid": BOB, "full_name": "Bob the Builder", "first_name": "Bob"}
    await sim_admin(simulator, "POST", contacts, json={"contacts": [renamed]})
    second = await wait_profile(
        user,
        ghost,
        lambda p: (
            p.get("displayname") == "Bob the Builder (WA)"
            and p.get("avatar_url") not in (None, "", first["avatar_url"])
        ),
    )
    assert await user.download_media(second["avatar_url"]) == SECOND_PICTURE

    # Removed on the phone: the ghost loses its avatar and keeps its name.
    await admin(simulator, "DELETE", f"/accounts/{BOB}/picture")
    last = await wait_profile(user, ghost, lambda p: not p.get("avatar_url"))
    assert last["displayname"] == "Bob the Builder (WA)"
