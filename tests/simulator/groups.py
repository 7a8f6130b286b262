"""Groups as the simulated server keeps them: metadata and members, per group JID.

:class:`GroupRegistry` lives in ``state.extra["groups"]`` (see :func:`get_groups`). Message
routing asks it who is in a group (:meth:`Group.member_phones`); the ``w:g2`` IQs and the
``w:gp2`` notifications that change it are installed by :func:`install`.
"""

from __future__ import annotations

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
    announce: bool = False
    """Only admins may send."""
    locked: bool = False
    """Only admins may edit the group's info."""
    ephemeral: int = 0
    """Disappearing-messages timer in seconds (0: off)."""
    addressing_mode: Literal["pn", "lid"] = "pn"
    invite_code: str = ""
    participants: dict[str, Participant] = field(default_factory=dict)
    """Members by phone number."""

    @property
    def jid(self) -> str:
        return f"{self.id}@{GROUP_SERVER}"

    def member_phones(self) -> list[str]:
        return list(self.participants)

    def is_member(self, phone: str) -> bool:
        return phone in self.participants


@dataclass
class GroupRegistry:
    """Every group of the simulated world, by group id (the user part of the JID)."""

    groups: dict[str, Group] = field(default_factory=dict)

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


def install(state: ServerState) -> None:
    get_groups(state)
