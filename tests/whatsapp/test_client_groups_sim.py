"""Our client's group API against the simulator: requests, refusals, and the w:gp2 events it
gets when the phones of other accounts change the group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

from mautrix_whatsapp.whatsapp import group
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import GroupInfoChanged, JoinedGroup, PictureChanged
from mautrix_whatsapp.whatsapp.group import ParticipantAction
from mautrix_whatsapp.whatsapp.group_info import (
    GroupNotAuthorizedError,
    GroupNotFoundError,
    InviteLinkRevokedError,
    NotInGroupError,
)
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(90)

E = TypeVar("E")
ME, BOB, CAROL, NOBODY = "15550000301", "15550000302", "15550000303", "15559999998"


def pn(phone: str) -> JID:
    return JID(phone, "s.whatsapp.net")


async def wait_match(log: EventLog, kind: type[E], match: Callable[[E], bool]) -> E:
    """The first event of ``kind`` that ``match``es (waiting for it if needed)."""
    count = 1
    async with asyncio.timeout(15):
        while True:
            event = await log.wait_for(kind, count=count)
            if match(event):
                return event
            count += 1


@pytest.fixture
async def linked(simulator: SimulatorInfo) -> AsyncIterator[tuple[Client, EventLog]]:  # noqa: F811
    for phone, name in ((BOB, "Bob"), (CAROL, "Carol")):
        status, body = await admin(
            simulator, "POST", "/accounts", {"phone": phone, "push_name": name}
        )
        assert status == 200, body
    status, body = await admin(
        simulator, "POST", "/accounts", {"phone": ME, "push_name": "Me", "default": True}
    )
    assert status == 200, body
    client, _, log = make_client(simulator)
    await link_by_qr(simulator, client, log)
    yield client, log
    await client.disconnect()


async def test_our_client_runs_a_group(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],
) -> None:
    client, log = linked
    info = await group.create_group(client, "Team", [pn(BOB), pn(CAROL)], create_key="3EB0CAFE")
    assert info.subject == "Team" and info.jid.is_group
    roles = {p.jid.user: (p.is_admin, p.is_super_admin) for p in info.participants}
    assert roles == {ME: (True, True), BOB: (False, False), CAROL: (False, False)}
    joined = await wait_match(log, JoinedGroup, lambda e: e.jid == info.jid)
    assert joined.type == "new" and joined.create_key == "3EB0CAFE"
    assert joined.info is not None and joined.info.subject == "Team"

    listed = await group.get_joined_groups(client)
    assert [g.jid for g in listed] == [info.jid]
    assert len(listed[0].participants) == 3

    await group.set_group_name(client, info.jid, "Renamed")
    renamed = await wait_match(log, GroupInfoChanged, lambda e: e.name is not None)
    assert renamed.name is not None and renamed.name.name == "Renamed"
    assert renamed.sender is not None and renamed.sender.user == ME
    assert (await group.get_group_info(client, info.jid)).subject == "Renamed"

    removed = await group.update_participants(
        client, info.jid, [pn(CAROL)], ParticipantAction.REMOVE
    )
    assert [(r.jid.user, r.status) for r in removed] == [(CAROL, 200)]
    left = await wait_match(log, GroupInfoChanged, lambda e: bool(e.leave))
    assert [j.user for j in left.leave] == [CAROL]
    again = await group.update_participants(
        client, info.jid, [pn(CAROL), pn(BOB), pn(NOBODY)], ParticipantAction.ADD
    )
    assert [(r.jid.user, r.status) for r in again] == [(CAROL, 200), (BOB, 409), (NOBODY, 404)]
    added = await wait_match(log, GroupInfoChanged, lambda e: bool(e.join))
    assert [j.user for j in added.join] == [CAROL]

    promoted = await group.update_participants(
        client, info.jid, [pn(BOB)], ParticipantAction.PROMOTE
    )
    assert [r.status for r in promoted] == [200]
    event = await wait_match(log, GroupInfoChanged, lambda e: bool(e.promote))
    assert [j.user for j in event.promote] == [BOB]
    bob = next(
        p for p in (await group.get_group_info(client, info.jid)).participants if p.jid.user == BOB
    )
    assert bob.is_admin and not bob.is_super_admin

    # Bob's phone changes the group: our client sees each change, made by Bob.
    path = f"/groups/{info.jid}"
    status, body = await admin(
        simulator, "POST", f"{path}/subject", {"phone": BOB, "subject": "Bob's"}
    )
    assert status == 200, body
    event = await wait_match(
        log, GroupInfoChanged, lambda e: e.name is not None and e.name.name == "Bob's"
    )
    assert event.sender is not None and event.sender.user == BOB
    status, body = await admin(
        simulator, "POST", f"{path}/settings", {"phone": BOB, "announce": True, "ephemeral": 86400}
    )
    assert status == 200, body
    event = await wait_match(log, GroupInfoChanged, lambda e: e.announce is not None)
    assert event.announce is True and event.sender is not None and event.sender.user == BOB
    event = await wait_match(log, GroupInfoChanged, lambda e: e.ephemeral is not None)
    assert event.ephemeral == 86400
    status, body = await admin(
        simulator, "POST", f"{path}/description", {"phone": BOB, "description": "From Bob"}
    )
    assert status == 200, body
    event = await wait_match(log, GroupInfoChanged, lambda e: e.topic is not None)
    assert event.topic is not None and event.topic.topic == "From Bob"
    status, body = await admin(
        simulator,
        "POST",
        f"{path}/participants",
        {"phone": BOB, "action": "demote", "participants": [pn(ME).__str__()]},
    )
    assert status == 200, body
    event = await wait_match(log, GroupInfoChanged, lambda e: bool(e.demote))
    assert [j.user for j in event.demote] == [ME]

    # Our description replaces Bob's (the previous id is looked up); now we are no admin.
    await group.set_group_description(client, info.jid, "Ours")
    assert (await group.get_group_info(client, info.jid)).description == "Ours"
    with pytest.raises(GroupNotAuthorizedError):
        await group.set_group_locked(client, info.jid, True)


async def test_refusals_and_invite_links(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],
) -> None:
    client, log = linked
    with pytest.raises(GroupNotFoundError):
        await group.get_group_info(client, JID("120363000000000000", "g.us"))
    info = await group.create_group(client, "Links", [pn(BOB)])
    link = await group.get_invite_link(client, info.jid)
    assert link.startswith("https://chat.whatsapp.com/")
    preview = await group.get_group_info_from_link(client, link)
    assert preview.jid == info.jid and preview.subject == "Links"
    new_link = await group.get_invite_link(client, info.jid, reset=True)
    assert new_link != link
    event = await wait_match(log, GroupInfoChanged, lambda e: e.new_invite_link is not None)
    assert event.new_invite_link == new_link
    with pytest.raises(InviteLinkRevokedError):
        await group.get_group_info_from_link(client, link)

    # Carol joins by link from her phone; we see her join.
    code = new_link.removeprefix("https://chat.whatsapp.com/")
    status, body = await admin(simulator, "POST", "/groups/join", {"phone": CAROL, "code": code})
    assert status == 200, body
    joined = await wait_match(log, GroupInfoChanged, lambda e: bool(e.join))
    assert [j.user for j in joined.join] == [CAROL] and joined.join_reason == "invite"

    await group.leave_group(client, info.jid)
    left = await wait_match(log, GroupInfoChanged, lambda e: bool(e.leave))
    assert [j.user for j in left.leave] == [ME]
    with pytest.raises(NotInGroupError):
        await group.get_group_info(client, info.jid)
    # None of it hurt the connection.
    assert client.is_logged_in
    assert await group.get_joined_groups(client) == []


async def test_others_bring_us_in_and_lid_groups(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],
) -> None:
    client, log = linked
    # Bob's phone creates a LID-addressed group with us in it: we join with the full metadata.
    status, created = await admin(
        simulator,
        "POST",
        "/groups",
        {"phone": BOB, "subject": "Bob's LID group", "members": [ME], "addressing_mode": "lid"},
    )
    assert status == 200, created
    joined = await wait_match(log, JoinedGroup, lambda e: e.jid == JID.parse(created["jid"]))
    assert joined.type == "new" and joined.info is not None
    assert joined.sender is not None and joined.sender.is_lid
    assert joined.sender_pn == pn(BOB)
    info = await group.get_group_info(client, joined.jid)
    assert info.addressing_mode == "lid" and info.owner_pn == pn(BOB)
    assert {p.phone_number for p in info.participants} == {pn(BOB), pn(ME)}
    assert all(p.jid.is_lid and p.lid == p.jid for p in info.participants)

    # Bob's phone creates a group without us, then adds us.
    status, later = await admin(
        simulator, "POST", "/groups", {"phone": BOB, "subject": "Later", "members": [CAROL]}
    )
    assert status == 200, later
    status, body = await admin(
        simulator,
        "POST",
        f"/groups/{later['jid']}/participants",
        {"phone": BOB, "action": "add", "participants": [ME]},
    )
    assert status == 200, body
    added = await wait_match(log, JoinedGroup, lambda e: e.jid == JID.parse(later["jid"]))
    assert added.reason == "add" and added.info is not None and added.info.subject == "Later"

    # Our photo for it reaches us as a picture notification.
    picture_id = await group.set_group_photo(client, added.jid, b"\xff\xd8\xff\xe0 jpeg")
    changed = await wait_match(log, PictureChanged, lambda e: e.jid == added.jid)
    assert changed.picture_id == picture_id and not changed.removed
    assert changed.author is not None and changed.author.user == ME
