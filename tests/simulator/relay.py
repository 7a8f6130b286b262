"""Receipts, chat states and presence, relayed between accounts as WhatsApp's server does.

- ``<receipt to id [type] [participant] [recipient]>`` (with ``<list>``, or ``<retry>``,
  ``<registration>``, ``<keys>`` for retries, all passed on intact) is acked, then goes to the
  author of the message: every device of ``to`` (a group's ``participant``), or only the device
  named when ``to`` is a device JID (retry receipts). ``from`` is who sent the receipt (its
  device JID for a companion, its user JID for a phone); group receipts come ``from`` the group
  with the reader as ``participant``, a status's ``from`` status@broadcast. The reader's other
  devices see ``read``/``played`` receipts as ``read-self``/``played-self`` with ``recipient``
  = the chat. A ``server-error`` receipt (a media-retry request to one's own account) goes to
  the phone alone.
- ``<chatstate to><composing/>…`` goes to the devices of ``to`` (or of the group's members)
  ``from`` the typer (``from`` = group, ``participant`` = typer, in groups).
- ``<presence type="available|unavailable" name>`` sets the account's presence (and push name);
  ``<presence type="subscribe" to>`` is answered with ``to``'s presence, and the subscriber
  gets later changes.
"""

from __future__ import annotations

import logging
import time
from typing import NoReturn

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.errors import NodeError
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .connection import SERVER, Connection
from .groups import get_groups
from .login import deliver
from .people import account_of
from .phone import get_world
from .routing import (
    BROADCAST_SERVER,
    GROUP_SERVER,
    LID_SERVER,
    PN_SERVER,
    Sender,
    deliver_to,
    devices_of,
    member_devices,
    sender_of,
)
from .state import ServerState

log = logging.getLogger("simulator.relay")

SELF_TYPES = {"read": "read-self", "played": "played-self"}


async def handle_receipt(conn: Connection, node: Node) -> None:
    receipt_id = node.attr_str("id")
    sender = sender_of(conn)
    ack: dict[str, str | JID] = {"class": "receipt", "id": receipt_id, "from": SERVER}
    if "type" in node.attrs:
        ack["type"] = node.attr_str("type")
    if sender is None:
        conn.state.record_protocol_error(f"{conn!r}: <receipt> before login")
        await conn.send_node(Node("ack", ack))
        return
    node.attr_jid("to")
    route_receipt(conn.state, sender, node, int(time.time()))
    await conn.send_node(Node("ack", ack))


def route_receipt(state: ServerState, sender: Sender, node: Node, t: int) -> None:
    world = get_world(state)
    to = node.attr_jid("to")
    receipt_type = str(node.attrs.get("type", ""))
    participant = node.attr_jid_opt("participant")
    base: dict[str, str | JID] = {"id": node.attr_str("id"), "t": str(t)}
    if receipt_type:
        base["type"] = receipt_type
    if to.server in (GROUP_SERVER, BROADCAST_SERVER):  # a status's receipt goes to its author
        if participant is None:
            raise_shape(node, "a group receipt needs a participant")
        target_jid = participant
        lid = participant.server == LID_SERVER
        attrs = {**base, "from": to, "participant": _author(sender, lid)}
        chat = to
    else:
        target_jid = to
        lid = to.server == LID_SERVER
        attrs = {**base, "from": _author(sender, lid)}
        recipient = node.attr_jid_opt("recipient")
        if recipient is not None:
            attrs["recipient"] = recipient
        chat = JID(to.user, to.server)
    target = account_of(world, target_jid)
    if target is None:
        log.info("receipt %s for unknown %s", base["id"], target_jid)
        return
    if receipt_type == "server-error":  # a media-retry request: for the phone only
        devices = [0] if target is sender.account else []
    elif target_jid.device or target_jid.ad or receipt_type == "retry":  # one device's business
        devices = [target_jid.device] if target_jid.device in devices_of(target) else []
    else:
        devices = devices_of(target)
    for device in devices:
        if target is sender.account and device == sender.device:
            continue
        deliver_to(state, target, device, Node("receipt", dict(attrs), node.content))
    self_type = SELF_TYPES.get(receipt_type)
    if self_type is not None and target is not sender.account:
        own = {**base, "type": self_type, "from": sender.user_jid(lid), "recipient": chat}
        if to.server in (GROUP_SERVER, BROADCAST_SERVER) and participant is not None:
            own["participant"] = participant
        for device in devices_of(sender.account):
            if device != sender.device:
                deliver_to(state, sender.account, device, Node("receipt", dict(own), node.content))


def raise_shape(node: Node, message: str) -> NoReturn:
    raise NodeError(f"<{node.tag}>: {message}")


def _author(sender: Sender, lid: bool) -> JID:
    return sender.jid(lid) if sender.device else sender.user_jid(lid)


async def handle_chatstate(conn: Connection, node: Node) -> None:
    sender = sender_of(conn)
    if sender is None:
        conn.state.record_protocol_error(f"{conn!r}: <chatstate> before login")
        return
    route_chatstate(conn.state, sender, node)


def route_chatstate(state: ServerState, sender: Sender, node: Node) -> None:
    world = get_world(state)
    to = node.attr_jid("to")
    if to.server == GROUP_SERVER:
        group = get_groups(state).get(str(to))
        if group is None or not group.is_member(sender.account.phone):
            return
        lid = group.addressing_mode == "lid"
        attrs: dict[str, str | JID] = {"from": to, "participant": sender.user_jid(lid)}
        targets = list(member_devices(world, group))
    else:
        account = account_of(world, to)
        if account is None:
            return
        attrs = {"from": sender.user_jid(to.server == LID_SERVER)}
        targets = [(account, d) for d in devices_of(account)]
    for account, device in targets:
        if device == 0 or account is sender.account:
            continue
        deliver_to(state, account, device, Node("chatstate", dict(attrs), node.content))


class Presences:
    """Who is online, and who subscribed to whose presence."""

    def __init__(self) -> None:
        self.available: dict[str, bool] = {}
        self.last: dict[str, int] = {}
        self.subscribers: dict[str, set[tuple[str, int]]] = {}

    def node_for(self, account: Account, lid: bool = False) -> Node:
        jid = JID(account.lid, LID_SERVER) if lid else JID(account.phone, PN_SERVER)
        if self.available.get(account.phone):
            return Node("presence", {"from": jid, "type": "available"})
        last = self.last.get(account.phone, int(account.last_seen))
        return Node("presence", {"from": jid, "type": "unavailable", "last": str(last)})


def get_presences(state: ServerState) -> Presences:
    presences = state.extra.get("presences")
    if not isinstance(presences, Presences):
        presences = state.extra["presences"] = Presences()
    return presences


async def handle_presence(conn: Connection, node: Node) -> None:
    sender = sender_of(conn)
    if sender is None:
        # Baileys announces itself on the registration connection of a code pairing, before
        # any login; WhatsApp lets that pass, so it is no client fault.
        log.debug("%r: <presence> before login ignored", conn)
        return
    presences = get_presences(conn.state)
    world = get_world(conn.state)
    presence_type = str(node.attrs.get("type", "available"))
    account = sender.account
    if presence_type == "subscribe":
        to = node.attr_jid("to")
        target = account_of(world, to)
        if target is None:
            return
        presences.subscribers.setdefault(target.phone, set()).add((account.phone, sender.device))
        await conn.send_node(presences.node_for(target, to.server == LID_SERVER))
        return
    if presence_type == "unsubscribe":
        to = node.attr_jid("to")
        target = account_of(world, to)
        if target is not None:
            presences.subscribers.get(target.phone, set()).discard((account.phone, sender.device))
        return
    if presence_type not in ("available", "unavailable"):
        raise_shape(node, f"unknown presence type {presence_type!r}")
    name = node.attrs.get("name")
    if name:
        account.push_name = str(name)
    was = presences.available.get(account.phone)
    presences.available[account.phone] = presence_type == "available"
    if presence_type == "unavailable":
        presences.last[account.phone] = int(time.time())
    if was == presences.available[account.phone]:
        return
    update = presences.node_for(account)
    for phone, device in presences.subscribers.get(account.phone, set()):
        subscriber = world.accounts.find(phone)
        if subscriber is not None and world.connection_of(subscriber, device) is not None:
            deliver(world, phone, device, update)


def install(state: ServerState) -> None:
    state.stanza_handlers.register("receipt", handle_receipt)
    state.stanza_handlers.register("chatstate", handle_chatstate)
    state.stanza_handlers.register("presence", handle_presence)
