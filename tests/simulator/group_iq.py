"""The ``w:g2`` IQs of a logged-in companion, and the group photo (``w:profile:picture`` with a
group ``target``), read as whatsmeow ``group.go`` and Baileys ``groups.ts`` send them.

Addressed to ``g.us``: ``create``, ``participating``, ``leave``, ``invite code=`` (``set`` joins,
``get`` describes). Addressed to a group: ``query``, ``add``/``remove``/``promote``/``demote``,
``subject``, ``description``, ``announcement``/``not_announcement``, ``locked``/``unlocked``,
``ephemeral``/``not_ephemeral``, ``member_add_mode``, ``membership_approval_mode``, ``invite``
(``get``: the code, ``set``: a new one). A stanza of the wrong shape raises a codec error (400 and
a protocol-error record, by the dispatcher); a refusal is WhatsApp's error code; an operation this
simulator does not know is 501.
"""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.errors import AttrError, MissingChildError
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .connection import Connection, iq_error, iq_result
from .group_notify import group_node
from .group_ops import ACTIONS, GroupError, GroupOps, ParticipantResult
from .groups import GROUP_SERVER, get_groups
from .phone import get_world
from .state import ServerState

SETTINGS = {
    "announcement": ("announce", True),
    "not_announcement": ("announce", False),
    "locked": ("locked", True),
    "unlocked": ("locked", False),
}


def _ops(conn: Connection) -> GroupOps:
    return GroupOps(get_world(conn.state), get_groups(conn.state))


def _actor(conn: Connection) -> Account | None:
    account = conn.extra.get("account")
    return account if isinstance(account, Account) else None


def _only_child(node: Node) -> Node:
    children = node.children
    if len(children) != 1:
        raise MissingChildError(f"<iq xmlns={node.attrs.get('xmlns')}> needs exactly one child")
    return children[0]


async def handle_g2(conn: Connection, node: Node) -> Node:
    actor = _actor(conn)
    if actor is None:
        return iq_error(node, "401", "not-authorized")
    to = node.attr_jid("to")
    if to.server != GROUP_SERVER:
        raise AttrError(f"w:g2 IQ addressed to {to}, not to g.us or a group")
    request = _only_child(node)
    iq_type = str(node.attrs["type"])
    ops = _ops(conn)
    try:
        if to.user:
            content = _group_request(ops, actor, f"{to.user}@{GROUP_SERVER}", iq_type, request)
        else:
            content = _server_request(ops, actor, iq_type, request)
    except GroupError as e:
        return iq_error(node, str(e.code), e.text)
    if content is None:
        return iq_error(node, "501", "feature-not-implemented")
    return iq_result(node, content, **{"from": str(to)})


def _server_request(
    ops: GroupOps, actor: Account, iq_type: str, request: Node
) -> list[Node] | None:
    """IQs to ``g.us``."""
    if iq_type == "set" and request.tag == "create":
        return [_create(ops, actor, request)]
    if iq_type == "get" and request.tag == "participating":
        with_members = request.get_optional_child_by_tag("participants") is not None
        groups = [
            group_node(ops.world, group, participants=with_members)
            for group in ops.registry.of_member(actor.phone)
        ]
        return [Node("groups", {}, groups)]
    if iq_type == "set" and request.tag == "leave":
        jids = [str(g.attr_jid("id")) for g in request.children_by_tag("group")]
        if not jids:
            raise MissingChildError("<leave> names no <group id>")
        ops.leave(jids, actor)
        return []
    if request.tag == "invite":
        code = request.attr_str("code")
        if iq_type == "set":
            group = ops.join_by_invite(code, actor)
            return [Node("group", {"jid": JID(group.id, GROUP_SERVER)})]
        return [group_node(ops.world, ops.group_by_invite(code))]
    return None


def _create(ops: GroupOps, actor: Account, request: Node) -> Node:
    members = [p.attr_jid("jid").to_non_ad() for p in request.children_by_tag("participant")]
    description = request.get_optional_child_by_tag("description", "body")
    ephemeral = request.get_optional_child_by_tag("ephemeral")
    add_mode = request.get_optional_child_by_tag("member_add_mode")
    mode = add_mode.content_str() if add_mode is not None else "admin_add"
    group, failed = ops.create(
        actor,
        request.attr_str("subject"),
        members,
        key=request.attr_str_opt("key") or "",
        description=description.content_str() if description is not None else "",
        announce=request.get_optional_child_by_tag("announcement") is not None,
        locked=request.get_optional_child_by_tag("locked") is not None,
        ephemeral=ephemeral.attr_int("expiration") if ephemeral is not None else 0,
        member_add_mode="all_member_add" if mode == "all_member_add" else "admin_add",
    )
    answer = group_node(ops.world, group)
    assert isinstance(answer.content, list)
    answer.content.extend(_result_node(r) for r in failed)
    return answer


def _result_node(result: ParticipantResult) -> Node:
    """A participant line of an answer: ``error`` unless it worked (Baileys reads 200 then)."""
    attrs: dict[str, str | JID] = {"jid": result.jid}
    if result.code != 200:
        attrs["error"] = str(result.code)
    else:
        attrs.update(other_identity(result))
    return Node("participant", attrs)


def other_identity(result: ParticipantResult) -> dict[str, str | JID]:
    """The other identity (``lid`` for a phone JID, ``phone_number`` for a LID) of a member."""
    member = result.member
    if member is None:
        return {}
    if result.jid.server == "lid":
        return {"phone_number": JID(member.phone, "s.whatsapp.net")}
    return {"lid": JID(member.lid, "lid")} if member.lid else {}


def _group_request(
    ops: GroupOps, actor: Account, jid: str, iq_type: str, request: Node
) -> list[Node] | None:
    """IQs to one group."""
    tag = request.tag
    if iq_type == "get" and tag == "query":
        return [group_node(ops.world, ops.member_group(jid, actor))]
    if tag == "invite":
        code = ops.invite_code(jid, actor, reset=iq_type == "set")
        return [Node("invite", {"code": code})]
    if iq_type != "set":
        return None
    if tag in ACTIONS:
        targets = [p.attr_jid("jid").to_non_ad() for p in request.children_by_tag("participant")]
        if not targets:
            raise MissingChildError(f"<{tag}> names no <participant jid>")
        results = ops.change_participants(jid, actor, tag, targets)
        return [Node(tag, {}, [_result_node(r) for r in results])]
    if tag == "subject":
        ops.set_subject(jid, actor, request.content_str())
    elif tag == "description":
        _description(ops, actor, jid, request)
    elif tag in SETTINGS:
        setting, on = SETTINGS[tag]
        if setting == "announce":
            ops.set_announce(jid, actor, on)
        else:
            ops.set_locked(jid, actor, on)
    elif tag == "ephemeral":
        ops.set_ephemeral(jid, actor, request.attr_int("expiration"))
    elif tag == "not_ephemeral":
        ops.set_ephemeral(jid, actor, 0)
    elif tag == "member_add_mode":
        ops.set_member_add_mode(jid, actor, request.content_str())
    elif tag == "membership_approval_mode":
        state = request.get_child_by_tag("group_join").attr_str("state")
        ops.set_join_approval(jid, actor, state == "on")
    else:
        return None
    return []


def _description(ops: GroupOps, actor: Account, jid: str, request: Node) -> None:
    prev = request.attr_str_opt("prev")
    new_id = request.attr_str_opt("id") or ""
    if request.attr_str_opt("delete") == "true":
        ops.set_description(jid, actor, "", new_id=new_id, prev=prev)
        return
    body = request.get_child_by_tag("body").content_str()
    ops.set_description(jid, actor, body, new_id=new_id, prev=prev)


async def handle_picture(conn: Connection, node: Node) -> Node:
    """``w:profile:picture`` for a group ``target``: set/remove (admins, or anyone unlocked) and
    get. Pictures of users are not simulated here (501)."""
    actor = _actor(conn)
    if actor is None:
        return iq_error(node, "401", "not-authorized")
    target = node.attr_jid_opt("target")
    if target is None or target.server != GROUP_SERVER:
        return iq_error(node, "501", "feature-not-implemented")
    jid = f"{target.user}@{GROUP_SERVER}"
    ops = _ops(conn)
    picture = node.get_optional_child_by_tag("picture")
    try:
        if node.attrs["type"] == "set":
            data = picture.content_bytes() if picture is not None else None
            group = ops.set_picture(jid, actor, data or None)
            answer = [Node("picture", {"id": group.picture_id})] if data else []
            return iq_result(node, answer)
        group = ops.group(jid)
        if not group.is_member(actor.phone):
            return iq_error(node, "401", "not-authorized")
    except GroupError as e:
        return iq_error(node, str(e.code), e.text)
    if not group.picture_id:
        return iq_error(node, "404", "item-not-found")
    path = f"/groups/{group.id}@{GROUP_SERVER}/picture"
    return iq_result(node, [picture_node(conn, group.picture_id, path)])


def picture_node(conn: Connection, picture_id: str, admin_path: str) -> Node:
    """``<picture id type direct_path url/>`` for a picture served at ``/admin{admin_path}``
    (users' pictures in ``profile.py`` use it too)."""
    attrs = {
        "id": picture_id,
        "type": "image",
        "direct_path": admin_path,
        "url": str(conn.state.info.get("admin_url", "")) + admin_path,
    }
    return Node("picture", attrs)


def install(state: ServerState) -> None:
    state.iq_handlers.register("w:g2", handle_g2)
    state.iq_handlers.register("w:profile:picture", handle_picture)
