"""The simulator's groups: ``w:g2`` IQs from logged-in raw devices, their answers and error codes,
and the ``w:gp2`` notifications the other members' devices get (live and queued)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from tests.simulator.groups import Group, Participant
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.raw_device import RawDevice, linked_raw_device
from tests.whatsapp.test_client_helpers import admin

pytestmark = pytest.mark.timeout(90)

GUS = JID("", "g.us")
NOBODY = JID("15559999999", "s.whatsapp.net")
A, B, C = "15550000101", "15550000102", "15550000103"


@pytest.fixture
async def people(simulator: SimulatorInfo) -> AsyncIterator[tuple[RawDevice, ...]]:  # noqa: F811
    devices = [
        await linked_raw_device(simulator, phone, name)
        for phone, name in ((A, "Alice"), (B, "Bob"), (C, "Carol"))
    ]
    yield tuple(devices)
    for device in devices:
        await device.close()


def error_code(answer: Node) -> str | None:
    if answer.attrs.get("type") != "error":
        return None
    return str(answer.get_child_by_tag("error").attrs["code"])


def result(answer: Node) -> Node:
    assert answer.attrs.get("type") == "result", answer
    return answer


def participants(group: Node) -> dict[str, str]:
    return {
        JID.parse(str(p.attrs["jid"])).user: str(p.attrs.get("type", ""))
        for p in group.children_by_tag("participant")
    }


async def create(owner: RawDevice, subject: str, *members: JID) -> Node:
    request = Node(
        "create",
        {"subject": subject, "key": "KEY1"},
        [Node("participant", {"jid": m}) for m in members],
    )
    return result(await owner.iq("set", GUS, [request])).get_child_by_tag("group")


def group_jid(group: Node) -> JID:
    return JID(str(group.attrs["id"]), "g.us")


async def changes(device: RawDevice) -> list[Node]:
    """The change element of each notification the device got since the last look."""
    return [n.children[0] for n in await device.quiet() if n.tag == "notification"]


async def test_create_query_and_list(people: tuple[RawDevice, ...]) -> None:
    alice, bob, carol = people
    group = await create(alice, "Plans", bob.jid, NOBODY)
    gid = group_jid(group)
    assert group.attrs["subject"] == "Plans"
    assert str(group.attrs["creator"]) == f"{A}@s.whatsapp.net"
    assert group.attrs["addressing_mode"] == "pn"
    assert participants(group) == {A: "superadmin", B: "", NOBODY.user: ""}
    [failed] = [p for p in group.children_by_tag("participant") if "error" in p.attrs]
    assert failed.attrs["error"] == "404" and str(failed.attrs["jid"]) == str(NOBODY)
    bob_lid = next(
        p for p in group.children_by_tag("participant") if str(p.attrs["jid"]) == str(bob.jid)
    )
    assert str(bob_lid.attrs["lid"]) == f"{bob.lid}@lid"

    # Every member device learns of it, the creator's too; Carol does not.
    for device in (alice, bob):
        note = await device.next()
        assert note.attrs["type"] == "w:gp2" and str(note.attrs["from"]) == str(gid)
        assert str(note.attrs["participant"]) == f"{A}@s.whatsapp.net"
        create_node = note.get_child_by_tag("create")
        assert create_node.attrs == {"type": "new", "key": "KEY1"}
        assert participants(create_node.get_child_by_tag("group")) == {A: "superadmin", B: ""}
    assert await carol.quiet() == []

    info = result(await bob.iq("get", gid, [Node("query", {"request": "interactive"})]))
    assert participants(info.get_child_by_tag("group")) == {A: "superadmin", B: ""}
    listing = result(
        await bob.iq(
            "get", GUS, [Node("participating", {}, [Node("participants"), Node("description")])]
        )
    )
    [listed] = listing.get_child_by_tag("groups").children
    assert listed.attrs["id"] == gid.user and participants(listed) == {A: "superadmin", B: ""}
    empty = result(await carol.iq("get", GUS, [Node("participating", {}, [Node("participants")])]))
    assert empty.get_child_by_tag("groups").children == []

    assert error_code(await carol.iq("get", gid, [Node("query")])) == "403"
    unknown = JID("120363000000000009", "g.us")
    assert error_code(await bob.iq("get", unknown, [Node("query")])) == "404"
    assert (
        error_code(await alice.iq("set", GUS, [Node("create", {"subject": "x" * 101})])) == "406"
    )
    status, body = await admin(alice.info, "GET", f"/groups/{gid}")
    assert status == 200 and [p["phone"] for p in body["participants"]] == [A, B]


async def test_membership_changes(people: tuple[RawDevice, ...]) -> None:
    alice, bob, carol = people
    gid = group_jid(await create(alice, "Team", bob.jid))
    assert [c.tag for c in await changes(alice)] == ["create"]
    assert [c.tag for c in await changes(bob)] == ["create"]

    def change(action: str, *jids: JID) -> list[Node]:
        return [Node(action, {}, [Node("participant", {"jid": j}) for j in jids])]

    answer = result(await alice.iq("set", gid, change("add", carol.jid, bob.jid, NOBODY)))
    lines = answer.get_child_by_tag("add").children
    assert [(str(p.attrs["jid"]), p.attrs.get("error", "200")) for p in lines] == [
        (str(carol.jid), "200"),
        (str(bob.jid), "409"),
        (str(NOBODY), "404"),
    ]
    joined = await carol.next()
    assert joined.get_child_by_tag("create").attrs == {"reason": "add"}
    assert B in participants(joined.get_child_by_tag("create", "group"))
    for device in (alice, bob):
        [add] = await changes(device)
        assert add.tag == "add" and [str(p.attrs["jid"]) for p in add.children] == [str(carol.jid)]

    # Bob is no admin: he may not change membership (nor the settings).
    assert error_code(await bob.iq("set", gid, change("remove", carol.jid))) == "401"
    assert error_code(await bob.iq("set", gid, [Node("announcement")])) == "401"
    result(await alice.iq("set", gid, change("promote", bob.jid)))
    promoted = (await carol.next()).get_child_by_tag("promote")
    assert str(promoted.children[0].attrs["jid"]) == str(bob.jid)

    # Now he may; the removed member hears of it once, then nothing more.
    answer = result(await bob.iq("set", gid, change("remove", carol.jid)))
    assert "error" not in answer.get_child_by_tag("remove").children[0].attrs
    removed = await carol.next()
    assert str(removed.attrs["participant"]) == str(bob.jid)
    assert str(removed.get_child_by_tag("remove").children[0].attrs["jid"]) == str(carol.jid)
    again = result(await bob.iq("set", gid, change("remove", carol.jid)))
    assert again.get_child_by_tag("remove").children[0].attrs["error"] == "404"
    result(await alice.iq("set", gid, [Node("subject", {}, b"Renamed")]))
    assert [c.tag for c in await changes(bob)] == ["promote", "remove", "subject"]
    assert await changes(carol) == []
    assert error_code(await carol.iq("get", gid, [Node("query")])) == "403"

    # Demote, then leave: a group left without admins gets one.
    result(await alice.iq("set", gid, change("demote", bob.jid)))
    result(await alice.iq("set", GUS, [Node("leave", {}, [Node("group", {"id": gid})])]))
    notes = [n for n in await bob.quiet() if n.tag == "notification"]
    assert [n.children[0].tag for n in notes] == ["demote", "remove", "promote"]
    assert str(notes[1].attrs["participant"]) == str(alice.jid)
    status, body = await admin(alice.info, "GET", f"/groups/{gid}")
    assert status == 200 and body["participants"] == [
        {"phone": B, "lid": bob.lid, "jid": f"{B}@s.whatsapp.net", "admin": "admin"}
    ]


async def test_metadata_settings_and_invites(people: tuple[RawDevice, ...]) -> None:
    alice, bob, carol = people
    gid = group_jid(await create(alice, "Club", bob.jid))
    await changes(alice)
    await changes(bob)

    result(await bob.iq("set", gid, [Node("subject", {}, b"Book club")]))
    [subject] = await changes(alice)
    assert subject.attrs["subject"] == "Book club" and str(subject.attrs["s_o"]) == str(bob.jid)

    body = [Node("body", {}, b"We read")]
    result(await alice.iq("set", gid, [Node("description", {"id": "D1"}, body)]))
    stale = Node("description", {"id": "D2", "prev": "D0"}, body)
    assert error_code(await alice.iq("set", gid, [stale])) == "409"
    delete = Node("description", {"id": "D3", "prev": "D1", "delete": "true"})
    result(await alice.iq("set", gid, [delete]))
    _, described, deleted = await changes(bob)
    assert (
        described.attrs["id"] == "D1" and described.get_child_by_tag("body").content == b"We read"
    )
    assert (
        deleted.attrs["prev"] == "D1" and deleted.get_optional_child_by_tag("delete") is not None
    )

    for tag in ("announcement", "locked"):
        result(await alice.iq("set", gid, [Node(tag)]))
    result(await alice.iq("set", gid, [Node("ephemeral", {"expiration": "86400"})]))
    announce, locked, ephemeral = await changes(bob)
    assert (announce.tag, announce.attrs) == ("announcement", {"v_id": "1"})
    assert locked.tag == "locked" and ephemeral.attrs == {"expiration": "86400"}
    # Locked: only admins edit the info now.
    assert error_code(await bob.iq("set", gid, [Node("subject", {}, b"Mine")])) == "401"
    info = result(await bob.iq("get", gid, [Node("query")])).get_child_by_tag("group")
    assert {c.tag for c in info.children} >= {"announcement", "locked", "ephemeral"}
    assert info.get_optional_child_by_tag("description") is None

    # Invite links: admins only; a reset is announced and kills the old code.
    assert error_code(await bob.iq("get", gid, [Node("invite")])) == "401"
    code = str(
        result(await alice.iq("get", gid, [Node("invite")]))
        .get_child_by_tag("invite")
        .attrs["code"]
    )
    fresh = result(await alice.iq("set", gid, [Node("invite")])).get_child_by_tag("invite")
    new_code = str(fresh.attrs["code"])
    [reset] = await changes(bob)
    assert new_code != code and reset.tag == "invite" and reset.attrs["code"] == new_code
    assert error_code(await carol.iq("set", GUS, [Node("invite", {"code": code})])) == "410"
    assert error_code(await carol.iq("get", GUS, [Node("invite", {"code": "nonsense"})])) == "406"
    preview = result(await carol.iq("get", GUS, [Node("invite", {"code": new_code})]))
    assert preview.get_child_by_tag("group").attrs["subject"] == "Book club"
    joined = result(await carol.iq("set", GUS, [Node("invite", {"code": new_code})]))
    assert str(joined.get_child_by_tag("group").attrs["jid"]) == str(gid)
    [invited] = await changes(carol)
    assert invited.tag == "create" and invited.attrs == {"reason": "invite"}
    [add] = await changes(bob)
    assert add.attrs == {"reason": "invite"} and str(add.children[0].attrs["jid"]) == str(
        carol.jid
    )

    # The group photo: stored, announced, served.
    photo = b"\xff\xd8jpeg"
    answer = result(
        await alice.iq(
            "set",
            "s.whatsapp.net",
            [Node("picture", {"type": "image"}, photo)],
            xmlns="w:profile:picture",
            target=gid,
        )
    )
    picture_id = answer.get_child_by_tag("picture").attrs["id"]
    [note] = [n for n in await carol.quiet() if n.tag == "notification"]
    assert (
        note.attrs["type"] == "picture" and note.get_child_by_tag("set").attrs["id"] == picture_id
    )
    got = result(
        await carol.iq(
            "get",
            "s.whatsapp.net",
            [Node("picture", {"type": "image", "query": "url"})],
            xmlns="w:profile:picture",
            target=gid,
        )
    )
    assert got.get_child_by_tag("picture").attrs["id"] == picture_id


async def test_offline_member_gets_the_changes_at_login(people: tuple[RawDevice, ...]) -> None:
    alice, bob, _ = people
    await bob.close()
    gid = group_jid(await create(alice, "Later", bob.jid))
    result(await alice.iq("set", gid, [Node("subject", {}, b"Later still")]))
    queued = [n for n in await bob.login() if n.tag == "notification"]
    assert [n.children[0].tag for n in queued] == ["create", "subject"]
    assert all(n.attrs["offline"] == "1" for n in queued)


async def test_admin_endpoints(simulator: SimulatorInfo) -> None:  # noqa: F811
    bob = await linked_raw_device(simulator, B, "Bob")
    try:
        status, body = await admin(
            simulator, "POST", "/groups", {"phone": A, "subject": "From the phone", "members": [B]}
        )
        assert status == 404  # no such account yet
        await admin(simulator, "POST", "/accounts", {"phone": A})
        status, group = await admin(
            simulator,
            "POST",
            "/groups",
            {
                "phone": A,
                "subject": "From the phone",
                "members": [B, "15559999999"],
                "addressing_mode": "lid",
            },
        )
        assert status == 200, group
        assert group["failed"] == [{"jid": "15559999999@s.whatsapp.net", "status": 404}]
        created = await bob.next()
        group_node = created.get_child_by_tag("create", "group")
        assert group_node.attrs["addressing_mode"] == "lid"
        assert str(created.attrs["participant"]).endswith("@lid")
        assert str(created.attrs["participant_pn"]) == f"{A}@s.whatsapp.net"
        me = next(
            p
            for p in group_node.children_by_tag("participant")
            if str(p.attrs.get("phone_number")) == f"{B}@s.whatsapp.net"
        )
        assert str(me.attrs["jid"]) == f"{bob.lid}@lid"

        jid = group["jid"]
        for path, body in (
            ("subject", {"subject": "Renamed"}),
            ("description", {"description": "About"}),
            ("settings", {"announce": True, "ephemeral": 604800}),
            ("participants", {"action": "promote", "participants": [B]}),
        ):
            status, answer = await admin(
                simulator, "POST", f"/groups/{jid}/{path}", {"phone": A, **body}
            )
            assert status == 200, (path, answer)
        tags = [c.tag for c in await changes(bob)]
        assert tags == ["subject", "description", "announcement", "ephemeral", "promote"]
        status, meta = await admin(simulator, "GET", f"/groups/{jid}")
        assert meta["subject"] == "Renamed" and meta["description"] == "About"
        assert meta["announce"] and meta["ephemeral"] == 604800
        status, answer = await admin(
            simulator,
            "POST",
            f"/groups/{jid}/participants",
            {"phone": "15559999999", "action": "add", "participants": [B]},
        )
        assert status == 404
        status, answer = await admin(simulator, "POST", f"/groups/{jid}/leave", {"phone": A})
        assert status == 200 and [p["phone"] for p in answer["participants"]] == [B]
        status, _ = await admin(simulator, "GET", "/groups/120363000000000009@g.us")
        assert status == 404
    finally:
        await bob.close()


MALFORMED = [
    ("set", "g.us", [Node("create", {}, [Node("participant", {"jid": NOBODY})])]),  # no subject
    ("set", "120363000000000001@g.us", [Node("add")]),  # nobody to add
    ("set", "g.us", [Node("leave")]),  # no group
    ("get", "g.us", [Node("invite")]),  # no code
    ("get", "s.whatsapp.net", [Node("query")]),  # not a group address
    ("get", "g.us", []),  # no request at all
    ("set", "g.us", [Node("participating"), Node("participating")]),  # two requests
]


async def test_malformed_group_iqs_get_400(simulator: SimulatorInfo) -> None:  # noqa: F811
    alice = await linked_raw_device(simulator, A, "Alice")
    try:
        gid = group_jid(await create(alice, "Sturdy"))
        shapes = [
            *MALFORMED,
            ("set", str(gid), [Node("description", {"id": "X"})]),  # neither body nor delete
            ("set", str(gid), [Node("ephemeral")]),  # no expiration
            ("set", str(gid), [Node("add", {}, [Node("participant")])]),  # no jid
        ]
        _, before = await admin(simulator, "GET", "/status")
        for iq_type, to, content in shapes:
            answer = await alice.iq(iq_type, to, content)
            assert error_code(answer) == "400", (to, content, answer)
        _, after = await admin(simulator, "GET", "/status")
        recorded = after["protocol_errors"][len(before["protocol_errors"]) :]
        assert len(recorded) == len(shapes) and all("w:g2" in r for r in recorded), recorded
        # The connection goes on.
        assert result(await alice.iq("get", gid, [Node("query")])).get_child_by_tag("group")
        assert error_code(await alice.iq("set", gid, [Node("frobnicate")])) == "501"
    finally:
        await alice.close()


async def test_open_adds_and_lid_addressing(people: tuple[RawDevice, ...]) -> None:
    """whatsmeow's create (``member_add_mode`` all_member_add) lets any member add; a ``lid``
    group (made by a phone) names members by LID and takes LIDs in requests."""
    alice, bob, carol = people
    request = Node(
        "create",
        {"subject": "Open"},
        [
            Node("participant", {"jid": bob.jid}),
            Node("member_add_mode", {}, b"all_member_add"),
            Node("ephemeral", {"expiration": "0"}),
        ],
    )
    gid = group_jid(result(await alice.iq("set", GUS, [request])).get_child_by_tag("group"))
    answer = result(
        await bob.iq("set", gid, [Node("add", {}, [Node("participant", {"jid": carol.jid})])])
    )
    assert "error" not in answer.get_child_by_tag("add").children[0].attrs

    status, group = await admin(
        alice.info,
        "POST",
        "/groups",
        {"phone": A, "subject": "By LID", "members": [B], "addressing_mode": "lid"},
    )
    assert status == 200, group
    lid_gid = JID.parse(group["jid"])
    carol_lid = JID(carol.lid, "lid")
    add = Node("add", {}, [Node("participant", {"jid": carol_lid})])
    line = result(await alice.iq("set", lid_gid, [add])).get_child_by_tag("add").children[0]
    assert line.attrs == {"jid": carol_lid, "phone_number": carol.jid}
    info = result(await carol.iq("get", lid_gid, [Node("query")])).get_child_by_tag("group")
    assert str(info.attrs["creator"]) == f"{alice.lid}@lid"
    assert str(info.attrs["creator_pn"]) == f"{A}@s.whatsapp.net"
    members = {
        str(p.attrs["jid"]): str(p.attrs["phone_number"])
        for p in info.children_by_tag("participant")
    }
    assert members == {
        f"{alice.lid}@lid": f"{A}@s.whatsapp.net",
        f"{bob.lid}@lid": f"{B}@s.whatsapp.net",
        f"{carol.lid}@lid": f"{C}@s.whatsapp.net",
    }
    # A non-admin may not add to this one (admin_add, the default).
    closed = Node("add", {}, [Node("participant", {"jid": NOBODY})])
    assert error_code(await bob.iq("set", lid_gid, [closed])) == "401"


def test_who_may_send() -> None:
    """What routing asks: members send, only admins once the group is an announcement group."""
    group = Group("120363000000000001", "s", A)
    group.participants[A] = Participant(A, "1", "superadmin")
    group.participants[B] = Participant(B, "2")
    assert group.may_send(A) and group.may_send(B) and not group.may_send(C)
    group.announce = True
    assert group.may_send(A) and not group.may_send(B)
