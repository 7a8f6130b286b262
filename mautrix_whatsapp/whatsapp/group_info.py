"""Group metadata as the server describes it: the ``<group>`` element and its ``<participant>``s.

Shared by the ``w:g2`` answers (:mod:`.group`: create, query, participating list, invite info)
and the ``w:gp2`` ``<create>`` notification. Parsing follows whatsmeow's ``parseGroupNode`` and
Baileys' ``extractGroupMetadata``; a malformed element raises :class:`GroupResponseError` (a
:class:`GroupError`, so one ``except GroupError`` covers both refusals and garbage answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .binary.errors import BinaryError, JIDParseError
from .binary.jid import GROUP_SERVER, JID
from .binary.node import Node
from .request import IQError

INVITE_LINK_PREFIX: Final = "https://chat.whatsapp.com/"


# --- errors ---------------------------------------------------------------------------------


class GroupError(IQError):
    """A group request failed: the server refused it (``code``) or answered nonsense (0)."""


class GroupBadRequestError(GroupError):
    """400: the request was malformed (e.g. an unknown participant JID form)."""


class GroupNotAuthorizedError(GroupError):
    """401: not allowed (e.g. only admins may get the invite link or change settings)."""


class NotInGroupError(GroupError):
    """403: we are not (or no longer) a participant of the group."""


class GroupNotFoundError(GroupError):
    """404: no such group."""


class GroupNotAcceptableError(GroupError):
    """406: refused as given: an invalid invite code, a picture in the wrong format…"""


class GroupConflictError(GroupError):
    """409: conflicts with the group's state (already a participant, already joined…)."""


class InviteLinkRevokedError(GroupError):
    """410: the invite link was valid once but has been reset."""


class GroupLimitError(GroupError):
    """419/429: too many participants or groups, or too many requests."""


class GroupResponseError(GroupError):
    """The server's answer lacked what the request promises, or could not be parsed."""

    def __init__(self, text: str, node: Node | None = None) -> None:
        super().__init__(0, text, node)


_ERRORS: Final[dict[int, type[GroupError]]] = {
    400: GroupBadRequestError,
    401: GroupNotAuthorizedError,
    403: NotInGroupError,
    404: GroupNotFoundError,
    406: GroupNotAcceptableError,
    409: GroupConflictError,
    410: InviteLinkRevokedError,
    419: GroupLimitError,
    429: GroupLimitError,
}


def group_error(error: IQError) -> IQError:
    """The typed group error for an IQ error answer (timeouts/disconnects pass unchanged)."""
    if type(error) is not IQError:
        return error
    kind = _ERRORS.get(error.code, GroupError)
    return kind(error.code, error.text, error.node)


# --- metadata -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddRequest:
    """Sent back for a participant that could not be added directly (403): an invite to send."""

    code: str
    expiration: datetime


@dataclass(frozen=True)
class GroupParticipant:
    """One member; in answers to add/remove/… also the per-participant ``status`` (200 = ok)."""

    jid: JID
    lid: JID | None = None
    phone_number: JID | None = None
    is_admin: bool = False
    is_super_admin: bool = False
    display_name: str = ""
    status: int = 200
    add_request: AddRequest | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class GroupInfo:
    """A group's metadata (whatsmeow's ``types.GroupInfo``); absent fields are empty/None."""

    jid: JID
    subject: str = ""
    subject_time: datetime | None = None
    subject_owner: JID | None = None
    subject_owner_pn: JID | None = None
    owner: JID | None = None
    """The creator."""
    owner_pn: JID | None = None
    created: datetime | None = None
    creator_country_code: str = ""
    description: str = ""
    description_id: str = ""
    description_owner: JID | None = None
    description_owner_pn: JID | None = None
    description_time: datetime | None = None
    participants: tuple[GroupParticipant, ...] = ()
    size: int | None = None
    announce: bool = False
    """Only admins may send messages."""
    locked: bool = False
    """Only admins may edit the group's info."""
    ephemeral_timer: int = 0
    """Disappearing-messages timer in seconds; 0 when off."""
    addressing_mode: str = ""
    """``"lid"`` or ``"pn"`` (empty when the server did not say)."""
    participant_version_id: str = ""
    announce_version_id: str = ""
    member_add_mode: str = ""
    join_approval_required: bool = False
    is_parent: bool = False
    """A community."""
    default_membership_approval_mode: str = ""
    linked_parent: JID | None = None
    is_default_sub_group: bool = False
    is_incognito: bool = False
    suspended: bool = False

    @property
    def is_ephemeral(self) -> bool:
        return self.ephemeral_timer > 0


def group_jid(value: object) -> JID:
    """A group id as the server writes it (``123-456``, ``123-456@g.us`` or a JID)."""
    if isinstance(value, JID):
        if value.server != GROUP_SERVER:
            raise GroupResponseError(f"not a group JID: {value}")
        return value
    if not isinstance(value, str) or not value:
        raise GroupResponseError(f"bad group id {value!r:.64}")
    try:
        jid = JID.parse(value if "@" in value else f"{value}@{GROUP_SERVER}")
    except JIDParseError as e:
        raise GroupResponseError(f"bad group id {value!r:.64}") from e
    if jid.server != GROUP_SERVER or not jid.user:
        raise GroupResponseError(f"not a group JID: {value!r:.64}")
    return jid


def parse_participant(node: Node) -> GroupParticipant:
    """A ``<participant jid type lid|phone_number error>`` (whatsmeow's ``parseParticipant``)."""
    try:
        jid = node.attr_jid("jid")
        kind = node.attr_str_opt("type") or ""
        lid = phone = None
        if jid.is_lid:
            lid, phone = jid, node.attr_jid_opt("phone_number")
        elif jid.is_pn:
            lid, phone = node.attr_jid_opt("lid"), jid
        status = node.attr_int_opt("error") or 200
        add_request = None
        request = node.get_optional_child_by_tag("add_request")
        if status != 200 and request is not None:
            add_request = AddRequest(
                request.attr_str("code"), request.attr_unix_time("expiration")
            )
        return GroupParticipant(
            jid=jid,
            lid=lid,
            phone_number=phone,
            is_admin=kind in ("admin", "superadmin"),
            is_super_admin=kind == "superadmin",
            display_name=node.attr_str_opt("display_name") or "",
            status=status,
            add_request=add_request,
        )
    except BinaryError as e:
        raise GroupResponseError(f"malformed participant: {e}", node) from e


def parse_group_node(node: Node) -> GroupInfo:
    """A ``<group id subject s_t s_o creation creator …>`` with its children."""
    try:
        return _parse_group(node)
    except BinaryError as e:
        raise GroupResponseError(f"malformed group: {e}", node) from e


def _parse_group(node: Node) -> GroupInfo:
    if "id" not in node.attrs:
        raise GroupResponseError("<group> without an id", node)
    fields: dict[str, object] = {
        "jid": group_jid(node.attrs["id"]),
        "subject": node.attr_str_opt("subject") or "",
        "subject_time": node.attr_unix_time_opt("s_t"),
        "subject_owner": node.attr_jid_opt("s_o"),
        "subject_owner_pn": node.attr_jid_opt("s_o_pn"),
        "owner": node.attr_jid_opt("creator"),
        "owner_pn": node.attr_jid_opt("creator_pn"),
        "created": node.attr_unix_time_opt("creation"),
        "creator_country_code": node.attr_str_opt("creator_country_code") or "",
        "size": node.attr_int_opt("size"),
        "addressing_mode": node.attr_str_opt("addressing_mode") or "",
        "participant_version_id": node.attr_str_opt("p_v_id") or "",
        "announce_version_id": node.attr_str_opt("a_v_id") or "",
    }
    participants: list[GroupParticipant] = []
    for child in node.children:
        tag = child.tag
        if tag == "participant":
            participants.append(parse_participant(child))
        elif tag == "description":
            body = child.get_optional_child_by_tag("body")
            if body is not None:
                fields["description"] = body.content_str() if body.content is not None else ""
                fields["description_id"] = child.attr_str_opt("id") or ""
                fields["description_owner"] = child.attr_jid_opt("participant")
                fields["description_owner_pn"] = child.attr_jid_opt("participant_pn")
                fields["description_time"] = child.attr_unix_time_opt("t")
        elif tag == "announcement":
            fields["announce"] = True
        elif tag == "locked":
            fields["locked"] = True
        elif tag == "ephemeral":
            fields["ephemeral_timer"] = child.attr_int_opt("expiration") or 0
        elif tag == "member_add_mode":
            fields["member_add_mode"] = child.content_str() if child.content is not None else ""
        elif tag == "membership_approval_mode":
            join = child.get_optional_child_by_tag("group_join")
            fields["join_approval_required"] = join is None or join.attrs.get("state") != "off"
        elif tag == "parent":
            fields["is_parent"] = True
            mode = child.attr_str_opt("default_membership_approval_mode") or ""
            fields["default_membership_approval_mode"] = mode
        elif tag == "linked_parent":
            fields["linked_parent"] = child.attr_jid("jid")
        elif tag == "default_sub_group":
            fields["is_default_sub_group"] = True
        elif tag == "incognito":
            fields["is_incognito"] = True
        elif tag == "suspended":
            fields["suspended"] = True
    fields["participants"] = tuple(participants)
    return GroupInfo(**fields)  # type: ignore[arg-type]
