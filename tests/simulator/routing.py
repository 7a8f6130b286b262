"""Message and receipt routing between devices, as WhatsApp's server does it.

- ``<message to id type>`` from a logged-in device: ``<ack class="message" id from=to t/>``, then
  every ``<participants><to jid><enc/></to>`` goes to its device as ``<message from=<sender
  device> id t type notify=<push name>>`` with that ``<enc>`` (plus ``<device-identity>`` with a
  ``pkmsg``). Our own other devices get ``recipient=<chat>``. Addressing follows the JID the
  sender used: a phone-number ``<to>`` gets ``from`` in PN form and ``sender_lid``, a LID one the
  LID form and ``sender_pn``. Device 0 is the simulated phone (:mod:`.people`).
- ``category="peer"`` messages go to the sender's own phone.
- Group messages (``to=…@g.us``): every device of every member but the sender's gets the
  ``skmsg`` (after its own ``<to>`` enc, if any) with ``from=group``, ``participant``,
  ``addressing_mode`` and the alternate participant JID.
- Status broadcasts (``to=status@broadcast``): the devices the stanza lists (:mod:`.broadcast`).
- Devices that are offline get the stanza queued, in order (:func:`.login.deliver`).

Receipts, chat states and presence are in :mod:`.relay`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .connection import Connection
from .groups import Group, get_groups
from .login import deliver
from .people import account_of
from .phone import PhoneWorld, get_world
from .state import ServerState

log = logging.getLogger("simulator.routing")

PN_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
GROUP_SERVER = "g.us"
BROADCAST_SERVER = "broadcast"

DROPPED_ATTRS = frozenset(
    {"to", "device_fanout", "phash", "addressing_mode", "push_priority", "participant"}
)
"""Attributes of the sender's stanza that the server does not pass on."""
FORWARDED_TAGS = frozenset({"meta", "bot", "biz", "reporting"})
"""Children of the sender's stanza passed on to every recipient as they are."""


@dataclass(frozen=True)
class Sender:
    """The device a stanza came from."""

    account: Account
    device: int

    def jid(self, lid: bool) -> JID:
        if lid:
            return JID(self.account.lid, LID_SERVER, self.device)
        return JID(self.account.phone, PN_SERVER, self.device)

    def user_jid(self, lid: bool) -> JID:
        if lid:
            return JID(self.account.lid, LID_SERVER)
        return JID(self.account.phone, PN_SERVER)


def sender_of(conn: Connection) -> Sender | None:
    account = conn.extra.get("account")
    device = conn.extra.get("linked_device")
    if not isinstance(account, Account) or device is None:
        return None
    return Sender(account, device.device_id)


def devices_of(account: Account) -> list[int]:
    """Device 0 and every confirmed companion, in id order."""
    return [0, *sorted(d for d, dev in account.devices.items() if dev.confirmed)]


def resolve(world: PhoneWorld, jid: JID) -> tuple[Account, int] | None:
    """The account and device a device JID names, if that device exists."""
    account = account_of(world, jid)
    if account is None:
        return None
    if jid.device != 0 and jid.device not in account.devices:
        return None
    return account, jid.device


def deliver_to(state: ServerState, account: Account, device: int, node: Node) -> None:
    """Hand a stanza to a device: the simulated phone for 0, else live or queued."""
    if device == 0:
        from .phone_inbox import phone_gets, receive  # it routes replies: imported late

        if node.tag == "message":
            state.spawn(receive(state, account, node), name="phone receives")
        else:
            phone_gets(state, account, node)
        return
    deliver(get_world(state), account.phone, device, node)


def message_ack(node: Node, t: int, error: str | None = None) -> Node:
    attrs: dict[str, str | JID] = {"class": "message", "id": node.attr_str("id"), "t": str(t)}
    to = node.attrs.get("to")
    if to is not None:
        attrs["from"] = to
    if error is not None:
        attrs["error"] = error
    return Node("ack", attrs)


async def handle_message(conn: Connection, node: Node) -> None:
    sender = sender_of(conn)
    t = int(time.time())
    if sender is None:
        conn.state.record_protocol_error(f"{conn!r}: <message> before login")
        await conn.send_node(message_ack(node, t, "401"))
        return
    node.attr_str("id")
    node.attr_jid("to")
    error = route_message(conn.state, sender, node, t)
    await conn.send_node(message_ack(node, t, error))


def route_message(state: ServerState, sender: Sender, node: Node, t: int) -> str | None:
    """Deliver a device's ``<message>``; returns an ack error code, or None."""
    to = node.attr_jid("to")
    if node.attrs.get("category") == "peer":
        return _route_peer(state, sender, node, t)
    if to.server == GROUP_SERVER:
        return _route_group(state, sender, node, to, t)
    if to.server == BROADCAST_SERVER:  # ---- status broadcast ----
        from .broadcast import route_broadcast  # it builds on this module: imported late

        return route_broadcast(state, sender, node, to, t)
    if to.server not in (PN_SERVER, LID_SERVER):
        return "400"
    world = get_world(state)
    participants = node.get_optional_child_by_tag("participants")
    targets: list[tuple[JID, list[Node]]] = []
    if participants is not None:
        for child in participants.children_by_tag("to"):
            targets.append((child.attr_jid("jid"), child.children_by_tag("enc")))
    else:  # a resend to one device (retry): the <enc> is a direct child
        targets.append((to, node.children_by_tag("enc")))
    chat = to if to.device == 0 else JID(to.user, to.server)
    recipient_attr = node.attrs.get("recipient")
    for target_jid, encs in targets:
        found = resolve(world, target_jid)
        if found is None or not encs:
            log.info("message %s: no device %s", node.attrs.get("id"), target_jid)
            continue
        account, device = found
        if account is sender.account and device == sender.device:
            continue
        lid = target_jid.server == LID_SERVER
        attrs = _base_attrs(node, sender, t)
        attrs["from"] = sender.jid(lid)
        attrs["sender_pn" if lid else "sender_lid"] = sender.user_jid(not lid)
        if account is sender.account:
            own_chat = JID.parse(str(recipient_attr)) if recipient_attr else chat
            if own_chat.user != sender.account.phone and own_chat.user != sender.account.lid:
                attrs["recipient"] = own_chat
                alt = _alternate(world, own_chat)
                if alt is not None:
                    lid_chat = own_chat.server == LID_SERVER
                    attrs["peer_recipient_pn" if lid_chat else "peer_recipient_lid"] = alt
        deliver_to(state, account, device, Node("message", attrs, _content(node, encs)))
    return None


def _route_peer(state: ServerState, sender: Sender, node: Node, t: int) -> str | None:
    encs = node.children_by_tag("enc")
    to = node.attr_jid("to")
    world = get_world(state)
    found = resolve(world, to)
    if found is None or found[0] is not sender.account or not encs:
        return "400"
    account, device = found
    lid = to.server == LID_SERVER
    attrs = _base_attrs(node, sender, t)
    attrs["from"] = sender.jid(lid)
    deliver_to(state, account, device, Node("message", attrs, _content(node, encs)))
    return None


def _route_group(state: ServerState, sender: Sender, node: Node, to: JID, t: int) -> str | None:
    group = get_groups(state).get(str(to))
    if group is None:
        return "404"
    if not group.is_member(sender.account.phone):
        return "403"
    world = get_world(state)
    skmsg = [e for e in node.children_by_tag("enc") if e.attrs.get("type") == "skmsg"]
    own: dict[tuple[str, int], list[Node]] = {}
    participants = node.get_optional_child_by_tag("participants")
    resend_to = node.attr_jid_opt("participant")
    if resend_to is not None:  # a retry resend: the direct <enc> for that one device only
        found = resolve(world, resend_to)
        if found is None:
            return "400"
        own[(found[0].phone, found[1])] = node.children_by_tag("enc")
        skmsg = []
    elif participants is not None:
        for child in participants.children_by_tag("to"):
            found = resolve(world, child.attr_jid("jid"))
            if found is not None:
                own[(found[0].phone, found[1])] = child.children_by_tag("enc")
    lid = group.addressing_mode == "lid"
    attrs = _base_attrs(node, sender, t)
    attrs["from"] = to
    attrs["participant"] = sender.jid(lid)
    attrs["addressing_mode"] = group.addressing_mode
    attrs["participant_pn" if lid else "participant_lid"] = sender.user_jid(not lid)
    for account, device in member_devices(world, group):
        if account is sender.account and device == sender.device:
            continue
        if resend_to is not None and (account.phone, device) not in own:
            continue
        encs = own.get((account.phone, device), []) + skmsg
        if not encs:
            continue
        deliver_to(state, account, device, Node("message", dict(attrs), _content(node, encs)))
    return None


def member_devices(world: PhoneWorld, group: Group) -> Iterator[tuple[Account, int]]:
    for phone in group.member_phones():
        account = world.accounts.find(phone)
        if account is None:
            continue
        for device in devices_of(account):
            yield account, device


def _base_attrs(node: Node, sender: Sender, t: int) -> dict[str, str | JID]:
    attrs: dict[str, str | JID] = {
        key: value for key, value in node.attrs.items() if key not in DROPPED_ATTRS
    }
    attrs["t"] = str(t)
    if sender.account.push_name:
        attrs["notify"] = sender.account.push_name
    return attrs


def _content(node: Node, encs: list[Node]) -> list[Node]:
    content = list(encs)
    if any(e.attrs.get("type") == "pkmsg" for e in encs):
        identity = node.get_optional_child_by_tag("device-identity")
        if identity is not None:
            content.append(identity)
    content.extend(child for child in node.children if child.tag in FORWARDED_TAGS)
    return content


def _alternate(world: PhoneWorld, jid: JID) -> JID | None:
    """The other form (LID ↔ PN) of a user JID."""
    account = account_of(world, jid)
    if account is None:
        return None
    if jid.server == LID_SERVER:
        return JID(account.phone, PN_SERVER)
    return JID(account.lid, LID_SERVER)


def install(state: ServerState) -> None:
    state.stanza_handlers.register("message", handle_message)
