"""What changes a group, whoever asks (a companion's ``w:g2`` IQ or the admin API acting as a
phone): the permission checks, the change to the registry and the ``w:gp2`` notifications.

Errors are those WhatsApp gives (whatsmeow ``errors.go`` and its group wrappers): 404 for an
unknown group, 403 for a non-member, 401 for a member who is not allowed (not an admin), 406 for
a value the server will not take, 409 for a stale description id, 406/410 for an invalid or
revoked invite code. Per participant of add/remove/promote/demote: 200, 404 (no account, or not
a member), 409 (already a member).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .group_notify import (
    actor_attrs,
    create_notification,
    notification,
    notify_members,
    participant_node,
)
from .groups import Group, GroupRegistry, Participant, new_invite_code
from .phone import PhoneWorld

MAX_SUBJECT = 100
MAX_DESCRIPTION = 2048
Action = Literal["add", "remove", "promote", "demote"]
ACTIONS: tuple[Action, ...] = ("add", "remove", "promote", "demote")


class GroupError(Exception):
    """A refusal with WhatsApp's code and text (``<error code text/>``)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


NOT_FOUND = (404, "item-not-found")
FORBIDDEN = (403, "forbidden")
NOT_AUTHORIZED = (401, "not-authorized")
NOT_ACCEPTABLE = (406, "not-acceptable")


@dataclass
class ParticipantResult:
    """One line of an add/remove/promote/demote answer."""

    jid: JID
    """As the request named it."""
    code: int
    member: Participant | None = None


def now() -> int:
    return int(time.time())


def find_account(world: PhoneWorld, jid: JID) -> Account | None:
    """The account a user JID names, by phone number or by LID (device part ignored)."""
    if jid.server == "lid":
        return world.accounts.find_by_lid(jid.user)
    if jid.server == "s.whatsapp.net" and jid.user:
        return world.accounts.find(jid.user)
    return None


class GroupOps:
    """Group changes in one simulated world."""

    def __init__(self, world: PhoneWorld, registry: GroupRegistry) -> None:
        self.world = world
        self.registry = registry

    # --- lookups and checks ---

    def group(self, jid: str) -> Group:
        group = self.registry.get(jid)
        if group is None:
            raise GroupError(*NOT_FOUND)
        return group

    def member_group(self, jid: str, actor: Account) -> Group:
        group = self.group(jid)
        if not group.is_member(actor.phone):
            raise GroupError(*FORBIDDEN)
        return group

    def admin_group(self, jid: str, actor: Account) -> Group:
        group = self.member_group(jid, actor)
        if not group.is_admin(actor.phone):
            raise GroupError(*NOT_AUTHORIZED)
        return group

    def info_editor_group(self, jid: str, actor: Account) -> Group:
        """Subject, description and timer: any member, unless the group is locked."""
        group = self.member_group(jid, actor)
        if group.locked and not group.is_admin(actor.phone):
            raise GroupError(*NOT_AUTHORIZED)
        return group

    def _notify(
        self, group: Group, actor: Account, children: list[Node], extra: Sequence[str] = ()
    ) -> None:
        node = notification(self.world, group, actor, children)
        notify_members(self.world, [*group.member_phones(), *extra], node)

    # --- creation and membership ---

    def create(
        self,
        creator: Account,
        subject: str,
        members: Sequence[JID],
        *,
        key: str = "",
        description: str = "",
        addressing_mode: Literal["pn", "lid"] = "pn",
        announce: bool = False,
        locked: bool = False,
        ephemeral: int = 0,
        member_add_mode: Literal["admin_add", "all_member_add"] = "admin_add",
    ) -> tuple[Group, list[ParticipantResult]]:
        """Make the group (creator as superadmin), tell every member's devices."""
        self._check_subject(subject)
        if len(description) > MAX_DESCRIPTION:
            raise GroupError(*NOT_ACCEPTABLE)
        t = now()
        group = Group(
            id=self.registry.new_id(),
            subject=subject,
            creator=creator.phone,
            creation=t,
            subject_owner=creator.phone,
            subject_time=t,
            addressing_mode=addressing_mode,
            announce=announce,
            locked=locked,
            ephemeral=ephemeral,
            member_add_mode=member_add_mode,
        )
        if description:
            group.description = description
            group.description_id = secrets.token_hex(8).upper()
            group.description_owner = creator.phone
            group.description_time = t
        group.participants[creator.phone] = Participant(creator.phone, creator.lid, "superadmin")
        failed: list[ParticipantResult] = []
        for jid in members:
            account = find_account(self.world, jid)
            if account is None:
                failed.append(ParticipantResult(jid, 404))
            elif account.phone not in group.participants:
                group.participants[account.phone] = Participant(account.phone, account.lid)
        self.registry.add(group)
        node = create_notification(self.world, group, creator, key=key)
        notify_members(self.world, group.member_phones(), node)
        return group, failed

    def change_participants(
        self, jid: str, actor: Account, action: Action, targets: Sequence[JID]
    ) -> list[ParticipantResult]:
        group = self.member_group(jid, actor)
        open_add = action == "add" and group.member_add_mode == "all_member_add"
        if not open_add and not group.is_admin(actor.phone):
            raise GroupError(*NOT_AUTHORIZED)
        results: list[ParticipantResult] = []
        changed: list[Participant] = []
        for target in targets:
            account = find_account(self.world, target)
            member = group.participants.get(account.phone) if account is not None else None
            if account is None:
                results.append(ParticipantResult(target, 404))
            elif action == "add":
                if member is not None:
                    results.append(ParticipantResult(target, 409, member))
                    continue
                member = Participant(account.phone, account.lid)
                group.participants[account.phone] = member
                changed.append(member)
                results.append(ParticipantResult(target, 200, member))
            elif member is None:
                results.append(ParticipantResult(target, 404))
            else:
                results.append(ParticipantResult(target, 200, member))
                if self._apply(group, member, action):
                    changed.append(member)
        if changed:
            self._announce_change(group, actor, action, changed)
        return results

    @staticmethod
    def _apply(group: Group, member: Participant, action: Action) -> bool:
        """Remove, promote or demote; False when nothing changes (a no-op is still a 200)."""
        if action == "remove":
            del group.participants[member.phone]
            return True
        if action == "promote" and not member.admin:
            member.admin = "admin"
            return True
        if action == "demote" and member.admin:
            member.admin = ""
            return True
        return False

    def _announce_change(
        self,
        group: Group,
        actor: Account,
        action: Action,
        changed: list[Participant],
        reason: str = "",
    ) -> None:
        """``<add|remove|promote|demote>`` to the members (removed ones included); a new member's
        devices get the whole group in ``<create>`` instead."""
        attrs = {"reason": reason} if reason else {}
        child = Node(action, attrs, [participant_node(group, m, with_type=False) for m in changed])
        new = {m.phone for m in changed} if action == "add" else set()
        removed = [m.phone for m in changed] if action == "remove" else []
        others = [p for p in group.member_phones() if p not in new]
        notify_members(
            self.world, [*others, *removed], notification(self.world, group, actor, [child])
        )
        if new:
            joined = create_notification(self.world, group, actor, reason=reason or "add")
            notify_members(self.world, new, joined)
        if action in ("remove", "demote"):
            self._ensure_admin(group, actor)

    def _ensure_admin(self, group: Group, actor: Account) -> None:
        """A group left without admins gets one: its longest-standing member, as WhatsApp does."""
        if group.participants and not group.admins():
            heir = next(iter(group.participants.values()))
            heir.admin = "admin"
            node = Node("promote", {}, [participant_node(group, heir, with_type=False)])
            notify_members(
                self.world, group.member_phones(), notification(self.world, group, actor, [node])
            )

    def leave(self, jids: Sequence[str], actor: Account) -> list[Group]:
        groups = [self.member_group(jid, actor) for jid in jids]
        for group in groups:
            member = group.participants.pop(actor.phone)
            child = Node("remove", {}, [participant_node(group, member, with_type=False)])
            node = notification(self.world, group, actor, [child])
            notify_members(self.world, [*group.member_phones(), actor.phone], node)
            self._ensure_admin(group, actor)
        return groups

    # --- metadata ---

    @staticmethod
    def _check_subject(subject: str) -> None:
        if not subject.strip() or len(subject) > MAX_SUBJECT:
            raise GroupError(*NOT_ACCEPTABLE)

    def set_subject(self, jid: str, actor: Account, subject: str) -> Group:
        group = self.info_editor_group(jid, actor)
        self._check_subject(subject)
        group.subject, group.subject_owner, group.subject_time = subject, actor.phone, now()
        attrs: dict[str, str | JID] = {
            "subject": subject,
            "s_t": str(group.subject_time),
            **actor_attrs(self.world, group, actor.phone, "s_o"),
        }
        self._notify(group, actor, [Node("subject", attrs)])
        return group

    def set_description(
        self, jid: str, actor: Account, text: str, *, new_id: str = "", prev: str | None = None
    ) -> Group:
        """Set (or, with empty ``text``, delete) the description; a ``prev`` that is not the
        current id is a conflict (409), as for two admins editing at once."""
        group = self.info_editor_group(jid, actor)
        if prev is not None and prev != group.description_id:
            raise GroupError(409, "conflict")
        if len(text) > MAX_DESCRIPTION:
            raise GroupError(*NOT_ACCEPTABLE)
        previous = group.description_id
        group.description = text
        group.description_id = new_id or secrets.token_hex(8).upper()
        group.description_owner, group.description_time = actor.phone, now()
        attrs = {"id": group.description_id}
        if previous:
            attrs["prev"] = previous
        body = Node("body", {}, text.encode()) if text else Node("delete")
        self._notify(group, actor, [Node("description", attrs, [body])])
        return group

    def set_announce(self, jid: str, actor: Account, on: bool) -> Group:
        group = self.admin_group(jid, actor)
        group.announce = on
        group.announce_version += 1
        tag = "announcement" if on else "not_announcement"
        self._notify(group, actor, [Node(tag, {"v_id": str(group.announce_version)})])
        return group

    def set_locked(self, jid: str, actor: Account, on: bool) -> Group:
        group = self.admin_group(jid, actor)
        group.locked = on
        self._notify(group, actor, [Node("locked" if on else "unlocked")])
        return group

    def set_ephemeral(self, jid: str, actor: Account, seconds: int) -> Group:
        group = self.info_editor_group(jid, actor)
        if seconds < 0:
            raise GroupError(*NOT_ACCEPTABLE)
        group.ephemeral = seconds
        child = (
            Node("ephemeral", {"expiration": str(seconds)}) if seconds else Node("not_ephemeral")
        )
        self._notify(group, actor, [child])
        return group

    def set_member_add_mode(self, jid: str, actor: Account, mode: str) -> Group:
        group = self.admin_group(jid, actor)
        if mode not in ("admin_add", "all_member_add"):
            raise GroupError(*NOT_ACCEPTABLE)
        group.member_add_mode = "admin_add" if mode == "admin_add" else "all_member_add"
        self._notify(group, actor, [Node("member_add_mode", {}, mode.encode())])
        return group

    def set_join_approval(self, jid: str, actor: Account, on: bool) -> Group:
        group = self.admin_group(jid, actor)
        group.join_approval = on
        state = Node("group_join", {"state": "on" if on else "off"})
        self._notify(group, actor, [Node("membership_approval_mode", {}, [state])])
        return group

    def set_picture(self, jid: str, actor: Account, picture: bytes | None) -> Group:
        """Store (or remove) the group photo; members get a ``picture`` notification."""
        group = self.info_editor_group(jid, actor)
        group.picture = picture or b""
        group.picture_id = str(now() * 1000 + secrets.randbelow(1000)) if picture else ""
        attrs: dict[str, str | JID] = {"jid": JID(group.id, "g.us"), "author": group_actor(actor)}
        child = (
            Node("set", {**attrs, "id": group.picture_id}) if picture else Node("delete", attrs)
        )
        node = notification(self.world, group, actor, [child], type="picture")
        notify_members(self.world, group.member_phones(), node)
        return group

    # --- invite links ---

    def invite_code(self, jid: str, actor: Account, *, reset: bool = False) -> str:
        group = self.admin_group(jid, actor)
        if reset or not group.invite_code:
            if group.invite_code:
                self.registry.revoked_invites.add(group.invite_code)
            group.invite_code = new_invite_code()
            if reset:
                self._notify(group, actor, [Node("invite", {"code": group.invite_code})])
        return group.invite_code

    def group_by_invite(self, code: str) -> Group:
        group = self.registry.by_invite(code) if code else None
        if group is None:
            if code in self.registry.revoked_invites:
                raise GroupError(410, "gone")
            raise GroupError(*NOT_ACCEPTABLE)
        return group

    def join_by_invite(self, code: str, actor: Account) -> Group:
        group = self.group_by_invite(code)
        if group.is_member(actor.phone):
            return group
        member = Participant(actor.phone, actor.lid)
        group.participants[actor.phone] = member
        self._announce_change(group, actor, "add", [member], reason="invite")
        return group


def group_actor(actor: Account) -> JID:
    return JID(actor.phone, "s.whatsapp.net")
