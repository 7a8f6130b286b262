"""Users' profile pictures between our client and the simulator: the picture notification when
a contact's phone sets or removes one, the query (by phone number and by LID), and the download."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import PictureChanged
from mautrix_whatsapp.whatsapp.profile import (
    ProfilePictureNotSet,
    download_profile_picture,
    get_profile_picture_info,
)
from tests.simulator_fixture import SimulatorInfo, admin, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, link_by_qr, make_client
from tests.whatsapp.test_client_helpers import admin as admin_json

pytestmark = pytest.mark.timeout(90)

ME, BOB = "15550000401", "15550000402"
PICTURE = b"\xff\xd8\xff\xe0 a picture of Bob \xff\xd9"


@pytest.fixture
async def linked(simulator: SimulatorInfo) -> AsyncIterator[tuple[Client, EventLog]]:  # noqa: F811
    await admin_json(simulator, "POST", "/accounts", {"phone": BOB, "push_name": "Bob"})
    await admin_json(simulator, "POST", "/accounts", {"phone": ME, "default": True})
    client, _, log = make_client(simulator)
    await link_by_qr(simulator, client, log)
    yield client, log
    await client.disconnect()


async def test_a_contact_sets_and_removes_their_picture(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],
) -> None:
    client, log = linked
    bob = JID(BOB, "s.whatsapp.net")
    with pytest.raises(ProfilePictureNotSet):
        await get_profile_picture_info(client, bob)

    _, answer = await admin(simulator, "POST", f"/accounts/{BOB}/picture", PICTURE)
    changed = await log.wait_for(PictureChanged)
    assert (changed.jid, changed.picture_id, changed.removed) == (bob, answer["id"], False)

    info = await get_profile_picture_info(client, bob)
    assert info is not None and info.id == answer["id"]
    assert await download_profile_picture(client, info) == PICTURE
    assert await get_profile_picture_info(client, bob, existing_id=info.id) is None
    _, account = await admin_json(simulator, "GET", f"/accounts/{BOB}")
    by_lid = await get_profile_picture_info(client, JID(account["lid"], "lid"))
    assert by_lid is not None and by_lid.id == info.id

    await admin(simulator, "DELETE", f"/accounts/{BOB}/picture")
    removed = await log.wait_for(PictureChanged, count=2)
    assert (removed.jid, removed.removed) == (bob, True)
    with pytest.raises(ProfilePictureNotSet):
        await get_profile_picture_info(client, bob)
