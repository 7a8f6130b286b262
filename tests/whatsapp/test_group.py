"""Group requests (w:g2) against canned server answers, and w:gp2 notifications as events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp import group
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.events import GroupInfoChanged, JoinedGroup
from mautrix_whatsapp.whatsapp.group import ParticipantAction
from mautrix_whatsapp.whatsapp.group_info import (
    GroupBadRequestError,
    GroupConflictError,
    GroupError,
    GroupLimitError,
    GroupNotAcceptableError,
    GroupNotAuthorizedError,
    GroupNotFoundError,
    GroupResponseError,
    InviteLinkRevokedError,
    NotInGroupError,
)
from mautrix_whatsapp.whatsapp.request import IQError, IQTimeoutError
from tests.whatsapp.canned_server import CannedServer, error, result

GROUP = JID.parse("120363025246125888@g.us")
ALICE = JID.parse("15550001111@s.whatsapp.net")
BOB = JID.parse("15550002222@s.whatsapp.net")
BOB_LID = JID.parse("81234567890123@lid")
CAROL_LID = JID.parse("99887766554433@lid")
CAROL = JID.parse("15550003333@s.whatsapp.net")
ME = JID.parse("15550009999:7@s.whatsapp.net")
T0 = 1_700_000_000


def group_node(**extra: str) -> Node:
    """A ``<group>`` as the server answers a query (LID addressing, every setting on)."""
    attrs: dict[str, str | JID] = {
        "id": "120363025246125888",
        "subject": "Team",
        "s_t": str(T0),
        "s_o": BOB_LID,
        "s_o_pn": BOB,
        "creation": str(T0 - 100),
        "creator": BOB_LID,
        "creator_pn": BOB,
        "creator_country_code": "1",
        "addressing_mode": "lid",
        "size": "2",
        "p_v_id": "pv1",
        "a_v_id": "av1",
        **extra,
    }
    description = Node(
        "description",
        {"id": "DESC1", "participant": BOB_LID, "t": str(T0 + 5)},
        [Node("body", None, b"We build things")],
    )
    return Node(
        "group",
        attrs,
        [
            Node("participant", {"jid": BOB_LID, "type": "superadmin", "phone_number": BOB}),
            Node("participant", {"jid": CAROL_LID, "type": "admin", "phone_number": CAROL}),
            Node("participant", {"jid": ALICE, "lid": JID.parse("111@lid")}),
            description,
            Node("announcement"),
            Node("locked"),
            Node("ephemeral", {"expiration": "604800", "trigger": "1"}),
            Node("member_add_mode", None, b"admin_add"),
            Node("membership_approval_mode", None, [Node("group_join", {"state": "on"})]),
        ],
    )


@pytest.fixture
def server() -> CannedServer:
    return CannedServer()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- requests -------------------------------------------------------------------------------


async def test_create_group(server: CannedServer) -> None:
    server.expect(lambda request: result(request, group_node()))
    info = await group.create_group(server.client, "Team", [ALICE, BOB.to_non_ad()])
    request = server.iqs[0]
    assert request.attrs["xmlns"] == "w:g2" and request.attrs["type"] == "set"
    assert request.attrs["to"] == JID("", "g.us")
    create = request.children[0]
    assert create.tag == "create" and create.attrs["subject"] == "Team"
    assert str(create.attrs["key"]).startswith("3EB0")
    assert [p.attrs["jid"] for p in create.children_by_tag("participant")] == [ALICE, BOB]
    assert create.get_child_by_tag("ephemeral").attrs == {"expiration": "0"}
    assert info.jid == GROUP and info.subject == "Team"


async def test_create_group_with_settings(server: CannedServer) -> None:
    server.expect(lambda request: result(request, group_node()))
    await group.create_group(
        server.client, "T", [ALICE], create_key="KEY", ephemeral_timer=86400, announce=True
    )
    create = server.iqs[0].children[0]
    assert create.attrs["key"] == "KEY"
    assert create.get_optional_child_by_tag("announcement") is not None
    assert create.get_optional_child_by_tag("locked") is None
    assert create.get_child_by_tag("ephemeral").attrs == {"expiration": "86400", "trigger": "1"}


async def test_get_group_info_parses_everything(server: CannedServer) -> None:
    server.expect(lambda request: result(request, group_node()))
    info = await group.get_group_info(server.client, GROUP)
    request = server.iqs[0]
    assert request.attrs["to"] == GROUP and request.attrs["type"] == "get"
    assert request.children[0].tag == "query"
    assert request.children[0].attrs == {"request": "interactive"}
    assert info.subject == "Team" and info.subject_time == at(T0)
    assert info.subject_owner == BOB_LID and info.subject_owner_pn == BOB
    assert info.owner == BOB_LID and info.owner_pn == BOB and info.created == at(T0 - 100)
    assert info.creator_country_code == "1" and info.size == 2
    assert info.description == "We build things" and info.description_id == "DESC1"
    assert info.description_owner == BOB_LID and info.description_time == at(T0 + 5)
    assert info.announce and info.locked and info.is_ephemeral
    assert info.ephemeral_timer == 604800
    assert info.addressing_mode == "lid"
    assert info.member_add_mode == "admin_add" and info.join_approval_required
    assert info.participant_version_id == "pv1" and info.announce_version_id == "av1"
    assert not info.is_parent
    bob, carol, alice = info.participants
    assert bob.jid == BOB_LID and bob.lid == BOB_LID and bob.phone_number == BOB
    assert bob.is_admin and bob.is_super_admin
    assert carol.is_admin and not carol.is_super_admin and carol.phone_number == CAROL
    assert alice.phone_number == ALICE and alice.lid == JID.parse("111@lid")
    assert not alice.is_admin and alice.ok


async def test_get_group_info_minimal_and_community(server: CannedServer) -> None:
    minimal = Node(
        "group",
        {"id": "120363025246125888@g.us"},
        [
            Node("parent", {"default_membership_approval_mode": "request_required"}),
            Node("membership_approval_mode", None, [Node("group_join", {"state": "off"})]),
        ],
    )
    server.expect(lambda request: result(request, minimal))
    info = await group.get_group_info(server.client, GROUP)
    assert info.jid == GROUP and info.subject == "" and info.participants == ()
    assert not info.announce and not info.locked and info.ephemeral_timer == 0
    assert info.is_parent and info.default_membership_approval_mode == "request_required"
    assert not info.join_approval_required
    assert info.created is None and info.owner is None


async def test_get_joined_groups_skips_malformed(server: CannedServer) -> None:
    other = Node("group", {"id": "555-666", "subject": "Other"})
    broken = Node("group", {"subject": "no id"})
    answer = Node("groups", None, [group_node(), broken, other])
    server.expect(lambda request: result(request, answer))
    infos = await group.get_joined_groups(server.client)
    request = server.iqs[0]
    assert request.attrs["to"] == JID("", "g.us") and request.attrs["type"] == "get"
    participating = request.children[0]
    assert participating.tag == "participating"
    assert [c.tag for c in participating.children] == ["participants", "description"]
    assert [i.subject for i in infos] == ["Team", "Other"]
    assert infos[1].jid == JID.parse("555-666@g.us")


async def test_update_participants_per_participant_status(server: CannedServer) -> None:
    answer = Node(
        "add",
        None,
        [
            Node("participant", {"jid": ALICE}),
            Node(
                "participant",
                {"jid": BOB, "error": "403"},
                [Node("add_request", {"code": "INVITECODE", "expiration": str(T0 + 86400)})],
            ),
            Node("participant", {"jid": CAROL, "error": "409"}),
        ],
    )
    server.expect(lambda request: result(request, answer))
    results = await group.update_participants(
        server.client, GROUP, [ALICE, BOB, CAROL], ParticipantAction.ADD
    )
    request = server.iqs[0]
    assert request.attrs["to"] == GROUP and request.children[0].tag == "add"
    assert [p.attrs["jid"] for p in request.children[0].children] == [ALICE, BOB, CAROL]
    assert [r.status for r in results] == [200, 403, 409]
    assert results[0].ok and not results[1].ok
    assert results[1].add_request is not None
    assert results[1].add_request.code == "INVITECODE"
    assert results[1].add_request.expiration == at(T0 + 86400)
    assert results[2].add_request is None


@pytest.mark.parametrize("action", list(ParticipantAction))
async def test_update_participants_actions(
    server: CannedServer, action: ParticipantAction
) -> None:
    server.expect(
        lambda request: result(
            request, Node(action.value, None, [Node("participant", {"jid": ALICE})])
        )
    )
    results = await group.update_participants(server.client, GROUP, [ALICE], action)
    assert server.iqs[0].children[0].tag == action.value
    assert [r.jid for r in results] == [ALICE]


async def test_update_participants_answer_for_another_action(server: CannedServer) -> None:
    server.expect(lambda request: result(request, Node("remove")))
    with pytest.raises(GroupResponseError):
        await group.update_participants(server.client, GROUP, [ALICE], ParticipantAction.ADD)


async def test_settings_requests(server: CannedServer) -> None:
    client = server.client
    server.expect(*[lambda request: result(request)] * 8)
    await group.set_group_name(client, GROUP, "New name ✓")
    await group.set_group_announce(client, GROUP, True)
    await group.set_group_announce(client, GROUP, False)
    await group.set_group_locked(client, GROUP, True)
    await group.set_group_locked(client, GROUP, False)
    await group.set_group_ephemeral(client, GROUP, 86400)
    await group.set_group_ephemeral(client, GROUP, 0)
    await group.leave_group(client, GROUP)
    subject, *toggles, leave = [iq.children[0] for iq in server.iqs]
    assert all(iq.attrs["xmlns"] == "w:g2" and iq.attrs["type"] == "set" for iq in server.iqs)
    assert subject.tag == "subject" and subject.content == "New name ✓".encode()
    assert [t.tag for t in toggles] == [
        "announcement",
        "not_announcement",
        "locked",
        "unlocked",
        "ephemeral",
        "not_ephemeral",
    ]
    assert toggles[4].attrs == {"expiration": "86400"}
    assert server.iqs[-1].attrs["to"] == JID("", "g.us")
    assert leave.tag == "leave" and leave.children[0].attrs == {"id": GROUP}


async def test_set_description_looks_up_previous_id(server: CannedServer) -> None:
    server.expect(lambda request: result(request, group_node()), lambda request: result(request))
    new_id = await group.set_group_description(server.client, GROUP, "About us")
    query, update = server.iqs
    assert query.children[0].tag == "query"
    description = update.children[0]
    assert description.attrs == {"id": new_id, "prev": "DESC1"}
    assert description.get_child_by_tag("body").content == b"About us"


async def test_delete_description(server: CannedServer) -> None:
    server.expect(lambda request: result(request))
    await group.set_group_description(server.client, GROUP, "", previous_id="OLD")
    description = server.iqs[0].children[0]
    assert description.attrs["delete"] == "true" and description.attrs["prev"] == "OLD"
    assert description.content is None


async def test_set_group_photo(server: CannedServer) -> None:
    server.expect(
        lambda request: result(request, Node("picture", {"id": "1700000001"})),
        lambda request: result(request),
    )
    assert await group.set_group_photo(server.client, GROUP, b"\xff\xd8jpeg") == "1700000001"
    assert await group.set_group_photo(server.client, GROUP, None) == "remove"
    set_iq, remove_iq = server.iqs
    assert set_iq.attrs["xmlns"] == "w:profile:picture" and set_iq.attrs["target"] == GROUP
    assert set_iq.attrs["to"] == JID("", "s.whatsapp.net")
    picture = set_iq.children[0]
    assert picture.attrs == {"type": "image"} and picture.content == b"\xff\xd8jpeg"
    assert remove_iq.content is None


async def test_invite_links(server: CannedServer) -> None:
    server.expect(
        lambda request: result(request, Node("invite", {"code": "AbC123"})),
        lambda request: result(request, Node("invite", {"code": "NeW456"})),
        lambda request: result(request, group_node()),
        lambda request: result(request, Node("group", {"jid": GROUP})),
        lambda request: result(request, Node("membership_approval_request", {"jid": GROUP})),
    )
    client = server.client
    assert await group.get_invite_link(client, GROUP) == "https://chat.whatsapp.com/AbC123"
    link = await group.get_invite_link(client, GROUP, reset=True)
    assert link == "https://chat.whatsapp.com/NeW456"
    info = await group.get_group_info_from_link(client, link)
    assert info.jid == GROUP
    assert await group.join_group_with_link(client, link) == GROUP
    assert await group.join_group_with_link(client, "NeW456") == GROUP
    get, reset, info_iq, join, join_again = server.iqs
    assert get.attrs["type"] == "get" and reset.attrs["type"] == "set"
    assert get.attrs["to"] == GROUP and get.children[0].tag == "invite"
    assert info_iq.attrs["type"] == "get" and info_iq.attrs["to"] == JID("", "g.us")
    assert info_iq.children[0].attrs == {"code": "NeW456"}
    assert join.attrs["type"] == "set" and join.children[0].attrs == {"code": "NeW456"}
    assert join_again.children[0].attrs == {"code": "NeW456"}


ERRORS = [
    (400, GroupBadRequestError),
    (401, GroupNotAuthorizedError),
    (403, NotInGroupError),
    (404, GroupNotFoundError),
    (406, GroupNotAcceptableError),
    (409, GroupConflictError),
    (410, InviteLinkRevokedError),
    (419, GroupLimitError),
    (429, GroupLimitError),
    (500, GroupError),
]


@pytest.mark.parametrize(("code", "kind"), ERRORS)
async def test_error_codes_are_typed(server: CannedServer, code: int, kind: type) -> None:
    server.expect(lambda request: error(request, code, "nope"))
    with pytest.raises(kind) as caught:
        await group.get_group_info(server.client, GROUP)
    assert type(caught.value) is kind
    assert isinstance(caught.value, IQError) and caught.value.code == code
    assert caught.value.text == "nope"
    # The client is unaffected: the next request works.
    server.expect(lambda request: result(request, group_node()))
    assert (await group.get_group_info(server.client, GROUP)).jid == GROUP


@pytest.mark.parametrize(
    "call",
    [
        lambda c: group.create_group(c, "x", [ALICE]),
        lambda c: group.update_participants(c, GROUP, [ALICE], ParticipantAction.REMOVE),
        lambda c: group.set_group_name(c, GROUP, "x"),
        lambda c: group.set_group_photo(c, GROUP, b"x"),
        lambda c: group.leave_group(c, GROUP),
        lambda c: group.get_invite_link(c, GROUP),
        lambda c: group.join_group_with_link(c, "x"),
        lambda c: group.get_group_info_from_link(c, "x"),
        lambda c: group.get_joined_groups(c),
    ],
)
async def test_every_request_raises_typed_errors(server: CannedServer, call: object) -> None:
    server.expect(lambda request: error(request, 403))
    with pytest.raises(NotInGroupError):
        await call(server.client)  # type: ignore[operator]


MALFORMED = [
    ("no group", lambda c: group.get_group_info(c, GROUP), []),
    ("group without id", lambda c: group.get_group_info(c, GROUP), [Node("group")]),
    (
        "not a group id",
        lambda c: group.get_group_info(c, GROUP),
        [Node("group", {"id": ALICE})],
    ),
    (
        "bad participant",
        lambda c: group.create_group(c, "x", [ALICE]),
        [Node("group", {"id": "1-2"}, [Node("participant", {"jid": "not a jid"})])],
    ),
    (
        "bad time",
        lambda c: group.get_group_info(c, GROUP),
        [Node("group", {"id": "1-2", "creation": "yesterday"})],
    ),
    (
        "bad ephemeral",
        lambda c: group.get_group_info(c, GROUP),
        [Node("group", {"id": "1-2"}, [Node("ephemeral", {"expiration": "week"})])],
    ),
    ("no groups", lambda c: group.get_joined_groups(c), []),
    ("no invite", lambda c: group.get_invite_link(c, GROUP), []),
    ("invite without code", lambda c: group.get_invite_link(c, GROUP), [Node("invite")]),
    ("no picture id", lambda c: group.set_group_photo(c, GROUP, b"x"), [Node("picture")]),
    ("join without group", lambda c: group.join_group_with_link(c, "x"), []),
    ("join bad jid", lambda c: group.join_group_with_link(c, "x"), [Node("group", {"jid": "?"})]),
    (
        "participant without jid",
        lambda c: group.update_participants(c, GROUP, [ALICE], ParticipantAction.ADD),
        [Node("add", None, [Node("participant", {"error": "403"})])],
    ),
]


@pytest.mark.parametrize(("name", "call", "children"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_answers(
    server: CannedServer, name: str, call: object, children: list[Node]
) -> None:
    server.expect(lambda request: result(request, *children))
    with pytest.raises(GroupResponseError):
        await call(server.client)  # type: ignore[operator]


async def test_timeout_is_not_a_group_error(server: CannedServer) -> None:
    client = server.client
    client.timing = dataclasses.replace(client.timing, iq_timeout=0.05)
    server.expect(lambda request: None)
    with pytest.raises(IQTimeoutError):
        await group.get_group_info(client, GROUP)


# --- notifications --------------------------------------------------------------------------


def gp2(*children: Node, **attrs: str | JID) -> Node:
    base: dict[str, str | JID] = {
        "from": GROUP,
        "type": "w:gp2",
        "id": "2795918452",
        "t": str(T0),
        "participant": BOB_LID,
        "participant_pn": BOB,
        "notify": "Bob",
    }
    base.update(attrs)
    return Node("notification", base, list(children))


async def changed(server: CannedServer, node: Node) -> GroupInfoChanged:
    await server.feed(node)
    assert server.sent[-1].tag == "ack" and server.sent[-1].attrs["id"] == node.attrs["id"]
    return server.log.of(GroupInfoChanged)[-1]


async def test_notification_participants(server: CannedServer) -> None:
    add = Node(
        "add",
        {"reason": "invite", "prev_v_id": "1", "v_id": "2"},
        [Node("participant", {"jid": CAROL_LID, "phone_number": CAROL})],
    )
    event = await changed(server, gp2(add))
    assert event.jid == GROUP and event.timestamp == at(T0)
    assert event.sender == BOB_LID and event.sender_pn == BOB and event.notify == "Bob"
    assert event.join == (CAROL_LID,) and event.join_reason == "invite"
    assert event.prev_participant_version_id == "1" and event.participant_version_id == "2"
    assert event.lid_pairs == ((CAROL_LID, CAROL),)
    assert event.name is None and event.leave == ()

    remove = Node("remove", None, [Node("participant", {"jid": CAROL, "lid": CAROL_LID})])
    event = await changed(server, gp2(remove))
    assert event.leave == (CAROL,) and event.lid_pairs == ((CAROL_LID, CAROL),)
    promote = Node("promote", None, [Node("participant", {"jid": CAROL_LID})])
    demote = Node("demote", None, [Node("participant", {"jid": BOB_LID})])
    event = await changed(server, gp2(promote, demote))
    assert event.promote == (CAROL_LID,) and event.demote == (BOB_LID,)
    assert server.log.of(JoinedGroup) == []


async def test_notification_settings(server: CannedServer) -> None:
    subject = Node("subject", {"subject": "Renamed", "s_t": str(T0), "s_o": BOB_LID})
    event = await changed(server, gp2(subject))
    assert event.name is not None
    assert (event.name.name, event.name.set_at, event.name.set_by) == ("Renamed", at(T0), BOB_LID)

    body = Node("body", None, b"New topic")
    event = await changed(server, gp2(Node("description", {"id": "D2"}, [body])))
    assert event.topic is not None and not event.topic.deleted
    assert (event.topic.topic, event.topic.topic_id) == ("New topic", "D2")
    assert event.topic.set_by == BOB_LID and event.topic.set_at == at(T0)
    deleted = Node("description", {"id": "D3"}, [Node("delete")])
    event = await changed(server, gp2(deleted))
    assert event.topic is not None and event.topic.deleted and event.topic.topic == ""

    event = await changed(server, gp2(Node("announcement", {"v_id": "3"}), Node("locked")))
    assert event.announce is True and event.locked is True
    event = await changed(server, gp2(Node("not_announcement"), Node("unlocked")))
    assert event.announce is False and event.locked is False
    event = await changed(server, gp2(Node("ephemeral", {"expiration": "86400"})))
    assert event.ephemeral == 86400
    event = await changed(server, gp2(Node("not_ephemeral")))
    assert event.ephemeral == 0 and event.announce is None
    event = await changed(server, gp2(Node("invite", {"code": "XyZ"})))
    assert event.new_invite_link == "https://chat.whatsapp.com/XyZ"
    event = await changed(server, gp2(Node("member_add_mode", None, b"all_member_add")))
    assert event.member_add_mode == "all_member_add"
    approval = Node("membership_approval_mode", None, [Node("group_join", {"state": "off"})])
    event = await changed(server, gp2(approval))
    assert event.join_approval_required is False
    event = await changed(server, gp2(Node("delete", {"reason": "admin"})))
    assert event.deleted and event.delete_reason == "admin"
    event = await changed(server, gp2(Node("frobnicate")))
    assert event.unknown_changes == ("frobnicate",)


async def test_notification_create_is_joined_group(server: CannedServer) -> None:
    create = Node("create", {"type": "new", "key": "3EB0KEY", "reason": ""}, [group_node()])
    node = gp2(create, **{"from": JID("", "g.us")})
    await server.feed(node)
    joined = server.log.of(JoinedGroup)[-1]
    assert joined.type == "new" and joined.create_key == "3EB0KEY"
    assert joined.sender == BOB_LID and joined.sender_pn == BOB and joined.notify == "Bob"
    assert joined.info is not None and joined.info.subject == "Team"
    assert joined.jid == GROUP and len(joined.info.participants) == 3
    assert server.log.of(GroupInfoChanged) == []


async def test_create_takes_addressing_mode_from_notification(server: CannedServer) -> None:
    bare = Node("group", {"id": "120363025246125888", "subject": "S"})
    await server.feed(gp2(Node("create", {"type": "new"}, [bare]), addressing_mode="lid"))
    joined = server.log.of(JoinedGroup)[-1]
    assert joined.info is not None and joined.info.addressing_mode == "lid"


async def test_being_added_emits_joined_group(server: CannedServer) -> None:
    server.client.device.jid = ME
    add = Node("add", {"reason": "invite"}, [Node("participant", {"jid": ME.to_non_ad()})])
    await server.feed(gp2(add))
    changed_event = server.log.of(GroupInfoChanged)[-1]
    joined = server.log.of(JoinedGroup)[-1]
    assert changed_event.join == (ME.to_non_ad(),)
    assert joined.jid == GROUP and joined.info is None and joined.type == "add"
    assert joined.reason == "invite" and joined.sender == BOB_LID


MALFORMED_NOTIFICATIONS = [
    ("no from", gp2(Node("locked"), **{"from": ""})),
    ("from a user", gp2(Node("locked"), **{"from": ALICE})),
    ("no time", gp2(Node("locked"), t="")),
    ("bad time", gp2(Node("locked"), t="soon")),
    ("subject without subject", gp2(Node("subject"))),
    ("description without body", gp2(Node("description", {"id": "D"}))),
    ("participant without jid", gp2(Node("add", None, [Node("participant")]))),
    ("participant bad jid", gp2(Node("remove", None, [Node("participant", {"jid": "x"})]))),
    ("invite without code", gp2(Node("invite"))),
    ("bad ephemeral", gp2(Node("ephemeral", {"expiration": "long"}))),
    ("create without group", gp2(Node("create"))),
    ("create group without id", gp2(Node("create", None, [Node("group")]))),
    ("body not text", gp2(Node("description", {"id": "D"}, [Node("body", None, b"\xff\xfe")]))),
]


@pytest.mark.parametrize(
    ("name", "node"), MALFORMED_NOTIFICATIONS, ids=[m[0] for m in MALFORMED_NOTIFICATIONS]
)
async def test_malformed_notifications_are_dropped(
    server: CannedServer, name: str, node: Node
) -> None:
    for key in [k for k, v in node.attrs.items() if v == ""]:
        del node.attrs[key]
    await server.feed(node)
    assert server.sent[-1].tag == "ack"  # acked all the same: the server will not resend
    assert server.log.of(GroupInfoChanged) == [] and server.log.of(JoinedGroup) == []
    # The next valid notification still arrives.
    event = await changed(server, gp2(Node("locked")))
    assert event.locked is True


def test_parse_group_notification_raises_typed_error() -> None:
    with pytest.raises(GroupResponseError):
        group.parse_group_notification(gp2(Node("subject")))
