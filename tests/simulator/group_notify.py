"""Group stanzas as the server writes them: the ``<group>`` node of IQ answers and ``w:gp2``
notifications, and their delivery to every linked device of the members.

Shapes follow what whatsmeow (``parseGroupNode``, ``parseGroupChange``, ``parseGroupCreate``) and
Baileys (``extractGroupMetadata``, ``handleGroupNotification``) read. In a ``pn`` group a member is
``<participant jid="PHONE@s.whatsapp.net" lid="LID@lid">``; in a ``lid`` group it is
``<participant jid="LID@lid" phone_number="PHONE@s.whatsapp.net">``, and the actor and owner
attributes carry their ``*_pn`` twins.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .connection import new_stanza_id
from .groups import Group, Participant
from .login import deliver
from .phone import PhoneWorld


def pn_jid(phone: str) -> JID:
    return JID(phone, "s.whatsapp.net")


def lid_jid(lid: str) -> JID:
    return JID(lid, "lid")


def user_jid(group: Group, phone: str, lid: str) -> JID:
    """How the group names a user: by LID in a ``lid`` group, else by phone number."""
    return lid_jid(lid) if group.addressing_mode == "lid" and lid else pn_jid(phone)


def _lid_of(world: PhoneWorld, phone: str) -> str:
    account = world.accounts.find(phone)
    return account.lid if account is not None else ""


def actor_attrs(world: PhoneWorld, group: Group, phone: str, key: str) -> dict[str, str | JID]:
    """``key`` naming the user in the group's addressing, plus ``key_pn`` in a ``lid`` group."""
    if not phone:
        return {}
    lid = _lid_of(world, phone)
    attrs: dict[str, str | JID] = {key: user_jid(group, phone, lid)}
    if group.addressing_mode == "lid" and lid:
        attrs[f"{key}_pn"] = pn_jid(phone)
    return attrs


def participant_node(group: Group, member: Participant, *, with_type: bool = True) -> Node:
    attrs: dict[str, str | JID] = {"jid": user_jid(group, member.phone, member.lid)}
    if group.addressing_mode == "lid" and member.lid:
        attrs["phone_number"] = pn_jid(member.phone)
    elif member.lid:
        attrs["lid"] = lid_jid(member.lid)
    if with_type and member.admin:
        attrs["type"] = member.admin
    return Node("participant", attrs)


def description_node(world: PhoneWorld, group: Group) -> Node:
    attrs: dict[str, str | JID] = {
        "id": group.description_id,
        "t": str(group.description_time),
        **actor_attrs(world, group, group.description_owner, "participant"),
    }
    return Node("description", attrs, [Node("body", {}, group.description.encode())])


def group_node(world: PhoneWorld, group: Group, *, participants: bool = True) -> Node:
    """The ``<group>`` of create, query, participating and invite-info answers."""
    attrs: dict[str, str | JID] = {
        "id": group.id,
        "subject": group.subject,
        "s_t": str(group.subject_time),
        "creation": str(group.creation),
        "size": str(len(group.participants)),
        "addressing_mode": group.addressing_mode,
        **actor_attrs(world, group, group.creator, "creator"),
        **actor_attrs(world, group, group.subject_owner, "s_o"),
    }
    children: list[Node] = []
    if participants:
        children.extend(participant_node(group, m) for m in group.participants.values())
    if group.description:
        children.append(description_node(world, group))
    if group.announce:
        children.append(Node("announcement"))
    if group.locked:
        children.append(Node("locked"))
    if group.ephemeral:
        children.append(Node("ephemeral", {"expiration": str(group.ephemeral)}))
    children.append(Node("member_add_mode", {}, group.member_add_mode.encode()))
    if group.join_approval:
        approval = Node("group_join", {"state": "on"})
        children.append(Node("membership_approval_mode", {}, [approval]))
    return Node("group", attrs, children)


def notification(
    world: PhoneWorld,
    group: Group,
    actor: Account | None,
    children: list[Node],
    type: str = "w:gp2",
) -> Node:
    """``<notification from=GROUP type="w:gp2" id t participant [participant_pn] notify>``."""
    attrs: dict[str, str | JID] = {
        "from": JID(group.id, "g.us"),
        "type": type,
        "id": new_stanza_id(),
        "t": str(int(time.time())),
    }
    if actor is not None:
        attrs.update(actor_attrs(world, group, actor.phone, "participant"))
        attrs["notify"] = actor.push_name
        if type == "w:gp2":
            attrs["addressing_mode"] = group.addressing_mode
    return Node("notification", attrs, children)


def notify_members(world: PhoneWorld, phones: Iterable[str], node: Node) -> int:
    """Deliver ``node`` to every linked device of these accounts (live or queued); how many."""
    count = 0
    for phone in dict.fromkeys(phones):
        account = world.accounts.find(phone)
        if account is None:
            continue
        for device_id in sorted(account.devices):
            deliver(world, phone, device_id, node)
            count += 1
    return count


def create_notification(
    world: PhoneWorld, group: Group, actor: Account, *, reason: str = "", key: str = ""
) -> Node:
    """What a new member's devices get: the whole group in ``<create>`` (Baileys turns it into
    ``groups.upsert``, whatsmeow into ``JoinedGroup``). ``type="new"`` for a new group;
    ``reason`` says why an existing group appears (``add``, ``invite``)."""
    attrs: dict[str, str] = {}
    if reason:
        attrs["reason"] = reason
    else:
        attrs["type"] = "new"
    if key:
        attrs["key"] = key
    return notification(world, group, actor, [Node("create", attrs, [group_node(world, group)])])
