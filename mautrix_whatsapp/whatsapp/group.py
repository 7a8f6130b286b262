"""Groups: the ``w:g2`` requests (whatsmeow ``group.go``, Baileys ``groups.ts``) and the
``w:gp2`` notifications that report every change as a :class:`~.events.GroupInfoChanged`
(plus :class:`~.events.JoinedGroup` when we enter a group).

Every request is a function of the client::

    info = await create_group(client, "Team", [alice, bob])
    info = await get_group_info(client, info.jid)
    results = await update_participants(client, info.jid, [carol], ParticipantAction.ADD)

Refusals raise a :class:`~.group_info.GroupError` subclass chosen by the server's code (403
:class:`NotInGroupError`, 404 :class:`GroupNotFoundError`…); an answer without what it must hold
raises :class:`GroupResponseError`. Neither touches the connection. :func:`install` registers
the notification handler; the client calls it once.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from .binary.errors import BinaryError
from .binary.jid import GROUP_SERVER_JID, JID, SERVER_JID
from .binary.node import Node
from .events import GroupInfoChanged, GroupNameChange, GroupTopicChange, JoinedGroup
from .group_info import (
    INVITE_LINK_PREFIX,
    GroupError,
    GroupInfo,
    GroupParticipant,
    GroupResponseError,
    group_error,
    parse_group_node,
    parse_participant,
)
from .message_source import is_own_user
from .request import IQError

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "GroupError",
    "GroupInfo",
    "GroupParticipant",
    "ParticipantAction",
    "create_group",
    "get_group_info",
    "get_group_info_from_link",
    "get_invite_link",
    "get_joined_groups",
    "install",
    "join_group_with_link",
    "leave_group",
    "parse_group_notification",
    "set_group_announce",
    "set_group_description",
    "set_group_ephemeral",
    "set_group_locked",
    "set_group_name",
    "set_group_photo",
    "update_participants",
]

log = logging.getLogger("mautrix_whatsapp.whatsapp.group")


class ParticipantAction(enum.StrEnum):
    """What :func:`update_participants` does; also the tag of the request and its answer."""

    ADD = "add"
    REMOVE = "remove"
    PROMOTE = "promote"
    DEMOTE = "demote"


def _new_id() -> str:
    """A message-id-like key (WhatsApp Web's ``3EB0`` + hex) for create keys and topic ids."""
    return "3EB0" + secrets.token_hex(9).upper()


async def _group_iq(client: Client, iq_type: str, to: JID, content: Node) -> Node:
    try:
        return await client.send_iq("w:g2", iq_type, [content], to=to)
    except IQError as e:
        raise group_error(e) from None


def _child(node: Node, tag: str, request: str) -> Node:
    child = node.get_optional_child_by_tag(tag)
    if child is None:
        raise GroupResponseError(f"no <{tag}> in the answer to {request}", node)
    return child


def _participants(jids: Iterable[JID]) -> list[Node]:
    return [Node("participant", {"jid": jid.to_non_ad()}) for jid in jids]


# --- metadata -------------------------------------------------------------------------------


async def create_group(
    client: Client,
    subject: str,
    participants: Sequence[JID],
    *,
    create_key: str | None = None,
    ephemeral_timer: int = 0,
    announce: bool = False,
    locked: bool = False,
) -> GroupInfo:
    """Create a group with us as its super-admin; ``create_key`` comes back in JoinedGroup."""
    content = _participants(participants)
    if locked:
        content.append(Node("locked"))
    if announce:
        content.append(Node("announcement"))
    ephemeral = {"expiration": str(ephemeral_timer)}
    if ephemeral_timer:
        ephemeral["trigger"] = "1"
    content.append(Node("ephemeral", ephemeral))
    attrs = {"subject": subject, "key": create_key or _new_id()}
    answer = await _group_iq(client, "set", GROUP_SERVER_JID, Node("create", attrs, content))
    return parse_group_node(_child(answer, "group", "create"))


async def get_group_info(client: Client, jid: JID) -> GroupInfo:
    """The metadata and participants of a group we are in (403 when we are not)."""
    query = Node("query", {"request": "interactive"})
    answer = await _group_iq(client, "get", jid, query)
    return parse_group_node(_child(answer, "group", "query"))


async def get_joined_groups(client: Client) -> list[GroupInfo]:
    """Every group we participate in, with participants and descriptions.

    A malformed ``<group>`` in the list is skipped (logged) rather than failing the others.
    """
    query = Node("participating", None, [Node("participants"), Node("description")])
    answer = await _group_iq(client, "get", GROUP_SERVER_JID, query)
    groups = _child(answer, "groups", "participating")
    infos: list[GroupInfo] = []
    for node in groups.iter_children("group"):
        try:
            infos.append(parse_group_node(node))
        except GroupResponseError as e:
            log.warning("Skipping a malformed group in the participating list: %s", e)
    return infos


async def set_group_name(client: Client, jid: JID, name: str) -> None:
    await _group_iq(client, "set", jid, Node("subject", None, name.encode()))


async def set_group_description(
    client: Client, jid: JID, description: str, *, previous_id: str | None = None
) -> str:
    """Set (or, with ``""``, delete) the description; return its new id.

    The server wants the id of the description being replaced (``prev``); without
    ``previous_id`` it is looked up first, as whatsmeow does.
    """
    if previous_id is None:
        previous_id = (await get_group_info(client, jid)).description_id
    new_id = _new_id()
    attrs = {"id": new_id}
    if previous_id:
        attrs["prev"] = previous_id
    content: list[Node] | None = [Node("body", None, description.encode())]
    if not description:
        attrs["delete"] = "true"
        content = None
    await _group_iq(client, "set", jid, Node("description", attrs, content))
    return new_id


async def set_group_announce(client: Client, jid: JID, announce: bool) -> None:
    """Only admins may send (``announce``), or everyone again."""
    await _group_iq(client, "set", jid, Node("announcement" if announce else "not_announcement"))


async def set_group_locked(client: Client, jid: JID, locked: bool) -> None:
    """Only admins may edit the group info (``locked``), or everyone again."""
    await _group_iq(client, "set", jid, Node("locked" if locked else "unlocked"))


async def set_group_ephemeral(client: Client, jid: JID, timer: int) -> None:
    """Disappearing messages after ``timer`` seconds (86400, 604800, 7776000); 0 = off."""
    node = Node("ephemeral", {"expiration": str(timer)}) if timer else Node("not_ephemeral")
    await _group_iq(client, "set", jid, node)


async def set_group_photo(client: Client, jid: JID, jpeg: bytes | None) -> str:
    """Set the group picture (a JPEG) and return its id; ``None`` removes it (``"remove"``)."""
    content = [Node("picture", {"type": "image"}, jpeg)] if jpeg is not None else None
    try:
        answer = await client.send_iq(
            "w:profile:picture", "set", content, to=SERVER_JID, attrs={"target": jid}
        )
    except IQError as e:
        raise group_error(e) from None
    if jpeg is None:
        return "remove"
    picture = _child(answer, "picture", "set picture")
    picture_id = picture.attrs.get("id")
    if not isinstance(picture_id, str) or not picture_id:
        raise GroupResponseError("no picture id in the answer", answer)
    return picture_id


# --- membership -----------------------------------------------------------------------------


async def update_participants(
    client: Client, jid: JID, participants: Sequence[JID], action: ParticipantAction
) -> list[GroupParticipant]:
    """Add/remove/promote/demote; one result per participant with its ``status``.

    The request as a whole succeeds even when some participants fail: a 403 on add comes with
    an ``add_request`` (code and expiry of an invite to send instead), 409 means already a
    member, 404 not on WhatsApp.
    """
    action = ParticipantAction(action)
    request = Node(action.value, None, _participants(participants))
    answer = await _group_iq(client, "set", jid, request)
    return [parse_participant(p) for p in _child(answer, action.value, action).iter_children()]


async def leave_group(client: Client, jid: JID) -> None:
    request = Node("leave", None, [Node("group", {"id": jid})])
    await _group_iq(client, "set", GROUP_SERVER_JID, request)


def _invite_code(link: str) -> str:
    return link.removeprefix(INVITE_LINK_PREFIX)


async def get_invite_link(client: Client, jid: JID, *, reset: bool = False) -> str:
    """The group's invite link (``reset`` revokes the old one first; admins only: 401)."""
    answer = await _group_iq(client, "set" if reset else "get", jid, Node("invite"))
    code = _child(answer, "invite", "invite").attrs.get("code")
    if not isinstance(code, str) or not code:
        raise GroupResponseError("no invite code in the answer", answer)
    return INVITE_LINK_PREFIX + code


async def get_group_info_from_link(client: Client, link: str) -> GroupInfo:
    """What an invite link leads to, without joining (406 invalid, 410 revoked)."""
    request = Node("invite", {"code": _invite_code(link)})
    answer = await _group_iq(client, "get", GROUP_SERVER_JID, request)
    return parse_group_node(_child(answer, "group", "invite info"))


async def join_group_with_link(client: Client, link: str) -> JID:
    """Join by invite link; return the group (or, when admins must approve, the requested one)."""
    request = Node("invite", {"code": _invite_code(link)})
    answer = await _group_iq(client, "set", GROUP_SERVER_JID, request)
    target = answer.get_optional_child_by_tag("membership_approval_request")
    if target is None:
        target = _child(answer, "group", "join")
    try:
        return target.attr_jid("jid")
    except BinaryError as e:
        raise GroupResponseError(f"bad group in the join answer: {e}", answer) from e


# --- notifications --------------------------------------------------------------------------


def _jid_list(node: Node) -> tuple[list[JID], list[tuple[JID, JID]]]:
    """The participants of an add/remove/… child, and the (LID, PN) pairs they reveal."""
    jids: list[JID] = []
    pairs: list[tuple[JID, JID]] = []
    for child in node.iter_children("participant"):
        jid = child.attr_jid("jid")
        jids.append(jid)
        if jid.is_lid and (pn := child.attr_jid_opt("phone_number")) is not None:
            pairs.append((jid, pn))
        elif jid.is_pn and (lid := child.attr_jid_opt("lid")) is not None:
            pairs.append((lid, jid))
    return jids, pairs


_PARTICIPANT_TAGS = {
    "add": "join",
    "remove": "leave",
    "leave": "leave",  # Baileys reads it too; the server reports leaving as a self-<remove>
    "promote": "promote",
    "demote": "demote",
}


def parse_group_notification(node: Node) -> GroupInfoChanged | JoinedGroup:
    """A ``<notification type="w:gp2">`` as one event; raises GroupResponseError if malformed."""
    try:
        children = node.children
        if len(children) == 1 and children[0].tag == "create":
            return _parse_create(node, children[0])
        return _parse_change(node)
    except BinaryError as e:
        raise GroupResponseError(f"malformed group notification: {e}", node) from e


def _parse_create(node: Node, create: Node) -> JoinedGroup:
    group = create.get_optional_child_by_tag("group")
    if group is None:
        raise GroupResponseError("group create notification without <group>", node)
    info = parse_group_node(group)
    if not info.addressing_mode and (mode := node.attr_str_opt("addressing_mode")):
        info = replace(info, addressing_mode=mode)
    return JoinedGroup(
        jid=info.jid,
        info=info,
        type=create.attr_str_opt("type") or "",
        reason=create.attr_str_opt("reason") or "",
        create_key=create.attr_str_opt("key") or "",
        sender=node.attr_jid_opt("participant"),
        sender_pn=node.attr_jid_opt("participant_pn"),
        notify=node.attr_str_opt("notify") or "",
    )


def _parse_change(node: Node) -> GroupInfoChanged:
    jid = node.attr_jid("from")
    if not jid.is_group:
        raise GroupResponseError(f"group notification from {jid}", node)
    timestamp = node.attr_unix_time("t")
    sender = node.attr_jid_opt("participant")
    fields: dict[str, object] = {}
    lists: dict[str, list[JID]] = {"join": [], "leave": [], "promote": [], "demote": []}
    pairs: list[tuple[JID, JID]] = []
    unknown: list[str] = []
    for child in node.children:
        tag = child.tag
        if tag in _PARTICIPANT_TAGS:
            jids, revealed = _jid_list(child)
            lists[_PARTICIPANT_TAGS[tag]].extend(jids)
            pairs.extend(revealed)
            fields["prev_participant_version_id"] = child.attr_str_opt("prev_v_id") or ""
            fields["participant_version_id"] = child.attr_str_opt("v_id") or ""
            if tag == "add":
                fields["join_reason"] = child.attr_str_opt("reason") or ""
        elif tag in ("locked", "unlocked"):
            fields["locked"] = tag == "locked"
        elif tag in ("announcement", "not_announcement"):
            fields["announce"] = tag == "announcement"
        elif tag == "ephemeral":
            fields["ephemeral"] = child.attr_int_opt("expiration") or 0
        elif tag == "not_ephemeral":
            fields["ephemeral"] = 0
        elif tag == "subject":
            fields["name"] = GroupNameChange(
                name=child.attr_str("subject"),
                set_at=child.attr_unix_time_opt("s_t") or timestamp,
                set_by=child.attr_jid_opt("s_o") or sender,
                set_by_pn=child.attr_jid_opt("s_o_pn"),
            )
        elif tag == "description":
            fields["topic"] = _parse_topic(child, timestamp, sender)
        elif tag == "delete":
            fields["deleted"] = True
            fields["delete_reason"] = child.attr_str_opt("reason") or ""
        elif tag == "invite":
            fields["new_invite_link"] = INVITE_LINK_PREFIX + child.attr_str("code")
        elif tag == "member_add_mode":
            fields["member_add_mode"] = child.content_str() if child.content is not None else ""
        elif tag == "membership_approval_mode":
            join = child.get_optional_child_by_tag("group_join")
            state = join.attr_str_opt("state") if join is not None else "on"
            fields["join_approval_required"] = state == "on"
        elif tag in ("suspended", "unsuspended"):
            fields["suspended"] = tag == "suspended"
        else:
            unknown.append(tag)
    return GroupInfoChanged(
        jid=jid,
        timestamp=timestamp,
        sender=sender,
        sender_pn=node.attr_jid_opt("participant_pn"),
        notify=node.attr_str_opt("notify") or "",
        join=tuple(lists["join"]),
        leave=tuple(lists["leave"]),
        promote=tuple(lists["promote"]),
        demote=tuple(lists["demote"]),
        lid_pairs=tuple(pairs),
        unknown_changes=tuple(unknown),
        **fields,  # type: ignore[arg-type]
    )


def _parse_topic(child: Node, timestamp: datetime, sender: JID | None) -> GroupTopicChange:
    deleted = child.get_optional_child_by_tag("delete") is not None or "delete" in child.attrs
    topic = ""
    if not deleted:
        body = child.get_child_by_tag("body")
        topic = body.content_str() if body.content is not None else ""
    return GroupTopicChange(
        topic=topic,
        topic_id=child.attr_str_opt("id") or "",
        set_at=child.attr_unix_time_opt("t") or timestamp,
        set_by=child.attr_jid_opt("participant") or sender,
        deleted=deleted,
    )


async def _handle_notification(client: Client, node: Node) -> None:
    try:
        event = parse_group_notification(node)
    except GroupError as e:
        log.warning("Ignoring a malformed group notification %s: %s", node.attrs.get("id"), e)
        return
    await client.dispatch(event)
    if isinstance(event, GroupInfoChanged) and any(
        is_own_user(jid, client.device.jid, client.device.lid) for jid in event.join
    ):
        await client.dispatch(
            JoinedGroup(
                jid=event.jid,
                info=None,
                type="add",
                reason=event.join_reason,
                sender=event.sender,
                sender_pn=event.sender_pn,
                notify=event.notify,
            )
        )


def install(client: Client) -> None:
    """Turn the client's ``w:gp2`` notifications into events."""

    async def handler(node: Node) -> None:
        await _handle_notification(client, node)

    client.add_notification_handler("w:gp2", handler)
