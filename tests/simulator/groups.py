"""Groups as the simulated server keeps them: metadata and members, per group JID.

:class:`GroupRegistry` lives in ``state.extra["groups"]`` (see :func:`get_groups`). Message
routing asks it who is in a group (:meth:`Group.member_phones`); the ``w:g2`` IQs and the
``w:gp2`` notifications that change it are installed by :func:`install`.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Literal

from .state import ServerState

GROUP_SERVER = "g.us"

AdminLevel = Literal["", "admin", "superadmin"]


@dataclass
class Participant:
    """A member: its account's phone number and LID user, and its admin level."""

    phone: str
    lid: str
    admin: AdminLevel = ""


@dataclass
class Group:
    """One group chat. ``id`` is the user part of its JID (``id@g.us``)."""

    id: str
    subject: str
    creator: str
    """The creator's phone number."""
    creation: int = field(default_factory=lambda: int(time.time()))
    subject_owner: str = ""
    subject_time: int = 0
    description: str = ""
    description_id: str = ""
    description_owner: str = ""
    """The phone number of whoever set the description."""
    description_time: int = 0
    announce: bool = False
    """Only admins may send."""
    locked: bool = False
    """Only admins may edit the group's info."""
    ephemeral: int = 0
    """Disappearing-messages timer in seconds (0: off)."""
    addressing_mode: Literal["pn", "lid"] = "pn"
    invite_code: str = ""
    member_add_mode: Literal["admin_add", "all_member_add"] = "admin_add"
    """Who may add members: admins only, or every member."""
    join_approval: bool = False
    """Joining by link needs an admin's approval (kept and shown, not enforced)."""
    announce_version: int = 0
    """Counts announcement changes (the ``v_id`` WhatsApp puts on them)."""
    picture_id: str = ""
    picture: bytes = b""
    participants: dict[str, Participant] = field(default_factory=dict)
    """Members by phone number."""

    @property
    def jid(self) -> str:
        return f"{self.id}@{GROUP_SERVER}"

    def member_phones(self) -> list[str]:
        return list(self.participants)

    def is_member(self, phone: str) -> bool:
        return phone in self.participants

    def is_admin(self, phone: str) -> bool:
        member = self.participants.get(phone)
        return member is not None and member.admin != ""

    def may_send(self, phone: str) -> bool:
        """Members may send, only admins in an announcement group (for message routing)."""
        return self.is_member(phone) and (not self.announce or self.is_admin(phone))

    def admins(self) -> list[str]:
        return [p.phone for p in self.participants.values() if p.admin]


@dataclass
class GroupRegistry:
    """Every group of the simulated world, by group id (the user part of the JID)."""

    groups: dict[str, Group] = field(default_factory=dict)
    revoked_invites: set[str] = field(default_factory=set)
    """Invite codes that were reset (joining with one is ``410 gone``)."""

    def new_id(self) -> str:
        """A fresh group id in today's form: ``120363`` and twelve digits."""
        while True:
            group_id = "120363" + "".join(secrets.choice(string.digits) for _ in range(12))
            if group_id not in self.groups:
                return group_id

    def by_invite(self, code: str) -> Group | None:
        return next((g for g in self.groups.values() if g.invite_code == code), None)

    def get(self, jid: str) -> Group | None:
        """The group for ``id@g.us`` (or a bare ``id``), if it exists."""
        return self.groups.get(jid.split("@", 1)[0])

    def add(self, group: Group) -> Group:
        self.groups[group.id] = group
        return group

    def of_member(self, phone: str) -> list[Group]:
        return [g for g in self.groups.values() if g.is_member(phone)]


def get_groups(state: ServerState) -> GroupRegistry:
    registry = state.extra.get("groups")
    if registry is None:
        registry = state.extra["groups"] = GroupRegistry()
    assert isinstance(registry, GroupRegistry)
    return registry


def new_invite_code() -> str:
    """A 22-character link code, as in ``https://chat.whatsapp.com/CODE``."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(22))


def install(state: ServerState) -> None:
    """Keep the registry and serve the group IQs and admin endpoints."""
    from . import admin_groups, group_iq

    get_groups(state)
    group_iq.install(state)
    admin_groups.install(state)
