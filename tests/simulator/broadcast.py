"""Status broadcasts (``to="status@broadcast"``), routed as WhatsApp's server does.

The server keeps no member list for a status: the sender's stanza names every recipient device
in ``<participants>`` (Baileys' ``statusJidList``, whatsmeow's status privacy list), each
``<to jid>`` with its sender-key distribution ``<enc>`` (if that device still needs the key),
next to one ``skmsg`` for all. Each listed device but the sender's gets ``<message
from="status@broadcast" participant=<sender device>>`` with its own ``<enc>`` then the
``skmsg``, like a group message; ``participant`` takes the form (PN or LID) of the ``<to>`` JID
(``addressing_mode`` says which) and the other form comes as ``participant_pn`` /
``participant_lid``. A device listed twice gets it once; unknown devices are skipped.
Other broadcast lists (``<id>@broadcast``) are not simulated: refused with 400.
"""

from __future__ import annotations

import logging

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID, STATUS_BROADCAST_JID

from .accounts import Account
from .phone import get_world
from .routing import LID_SERVER, Sender, _base_attrs, _content, deliver_to, resolve
from .state import ServerState

log = logging.getLogger("simulator.broadcast")


def route_broadcast(state: ServerState, sender: Sender, node: Node, to: JID, t: int) -> str | None:
    """Deliver a status to the devices its stanza lists; returns an ack error code, or None."""
    if to != STATUS_BROADCAST_JID:
        return "400"
    participants = node.get_optional_child_by_tag("participants")
    if participants is None:
        return "400"
    world = get_world(state)
    skmsg = [e for e in node.children_by_tag("enc") if e.attrs.get("type") == "skmsg"]
    seen: set[tuple[str, int]] = set()
    targets: list[tuple[Account, int, bool, list[Node]]] = []
    for child in participants.children_by_tag("to"):
        jid = child.attr_jid("jid")
        found = resolve(world, jid)
        if found is None:
            log.info("status %s: no device %s", node.attrs.get("id"), jid)
            continue
        account, device = found
        if (account.phone, device) in seen:
            continue
        seen.add((account.phone, device))
        if account is sender.account and device == sender.device:
            continue
        targets.append((account, device, jid.server == LID_SERVER, child.children_by_tag("enc")))
    for account, device, lid, own in targets:
        encs = own + skmsg
        if not encs:
            continue
        attrs = _base_attrs(node, sender, t)
        attrs["from"] = to
        attrs["participant"] = sender.jid(lid)
        attrs["addressing_mode"] = "lid" if lid else "pn"
        attrs["participant_pn" if lid else "participant_lid"] = sender.user_jid(not lid)
        deliver_to(state, account, device, Node("message", attrs, _content(node, encs)))
    return None
