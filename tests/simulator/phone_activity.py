"""What a linked device can see of its phone's activity: receipts the phone causes.

WhatsApp never tells a companion when its phone was last online. Companions (whatsmeow,
mautrix-whatsapp) infer it from stanzas the phone causes: receipts from their own account's
device 0 (``read-self`` when the phone reads a chat, ``sender``, ``peer_msg``…) and messages the
phone sends. Moving the phone's last activity (admin ``POST /admin/mock-phone/last-seen``) makes
the phone read a chat at that time: each linked device gets

    <receipt from="PHONE@s.whatsapp.net" recipient="CHAT@s.whatsapp.net" id t type="read-self"/>

live, or from the offline queue at its next login. Acks the companions send back are recorded
(:func:`record_ack`) so tests can check that receipts were acknowledged.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account
from .connection import Connection, new_stanza_id
from .login import deliver
from .phone import PhoneWorld, get_world

DEFAULT_CHAT = "15550100000@s.whatsapp.net"
"""The contact whose chat the phone reads when the admin moves its last activity."""

MAX_ACKS_PER_DEVICE = 200
"""Recorded acks per device (the oldest are dropped)."""


@dataclass(frozen=True)
class Announced:
    """Where a phone receipt went: live to ``notified`` devices, queued for ``queued``."""

    notified: int
    queued: int


def receipt_node(
    sender: JID,
    t: float,
    *,
    receipt_type: str = "read-self",
    chat: JID | None = None,
    participant: JID | None = None,
    message_id: str | None = None,
) -> Node:
    """A ``<receipt>`` as the server relays it.

    ``from`` is the sender (the group for group receipts, with the reader as ``participant``);
    ``recipient`` names the chat of receipts from one's own devices.
    """
    attrs: dict[str, str | JID] = {
        "from": sender,
        "id": message_id or new_stanza_id(),
        "t": str(int(t)),
    }
    if chat is not None:
        attrs["recipient"] = chat
    if participant is not None:
        attrs["participant"] = participant
    if receipt_type:
        attrs["type"] = receipt_type
    return Node("receipt", attrs)


def announce_phone_activity(
    world: PhoneWorld, account: Account, t: float, chat: str = DEFAULT_CHAT
) -> Announced:
    """The phone reads ``chat`` at ``t``: every linked device gets its ``read-self`` receipt."""
    phone_jid = JID.parse(account.jid)
    notified = queued = 0
    for device_id in list(account.devices):
        node = receipt_node(phone_jid, t, chat=JID.parse(chat))
        if deliver(world, account.phone, device_id, node):
            notified += 1
        else:
            queued += 1
    return Announced(notified, queued)


def set_last_activity(world: PhoneWorld, account: Account, t: float | None = None) -> Announced:
    """Record the phone's activity at ``t`` (default now) and show it to its companions."""
    account.last_seen = time.time() if t is None else t
    return announce_phone_activity(world, account, account.last_seen)


async def record_ack(conn: Connection, node: Node) -> None:
    """Keep the acks a logged-in companion sends (what the server would check off)."""
    world = get_world(conn.state)
    account = conn.extra.get("account")
    device = conn.extra.get("linked_device")
    if account is None or device is None:
        return
    jid = account.device_jid(device.device_id)
    world.acks.setdefault(jid, deque(maxlen=MAX_ACKS_PER_DEVICE)).append(node)


def ack_json(node: Node) -> dict[str, str]:
    return {key: str(value) for key, value in node.attrs.items()}
