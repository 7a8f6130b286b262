"""``devices`` and ``encrypt`` notifications about an account, to those who need to know.

When a companion is linked (confirmed) or unlinked, the account's own other companions and every
device that fetched the account's device list by ``usync`` get (whatsmeow
``handleDeviceNotification``)::

    <notification from="PHONE@s.whatsapp.net" lid="LID@lid" type="devices" id t>
      <add|remove device_hash="2:…"><device jid="PHONE:N@s.whatsapp.net" lid="LID:N@lid"/>
        <key-index-list ts>…</key-index-list></add|remove>
    </notification>

When an account's identity changes (the phone was reinstalled, admin-triggered), the same
audience gets ``<notification from type="encrypt"><identity/></notification>``.
"""

from __future__ import annotations

import base64
import hashlib
import time

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account, LinkedDevice
from .connection import new_stanza_id
from .login import deliver
from .phone import get_world
from .routing import LID_SERVER, PN_SERVER, devices_of
from .state import ServerState
from .usync import key_index_list, watchers


def device_hash(jids: list[JID]) -> str:
    """whatsmeow's ``participantListHashV2`` over device JIDs in AD form."""
    texts = sorted(f"{j.user}.0:{j.device}@{j.server}" for j in jids)
    digest = hashlib.sha256("".join(texts).encode()).digest()
    return "2:" + base64.b64encode(digest[:6]).decode().rstrip("=")


def audience(
    state: ServerState, account: Account, exclude: int | None = None
) -> set[tuple[str, int]]:
    """Companions that must hear about ``account``'s devices or identity."""
    world = get_world(state)
    targets = {(account.phone, d) for d in devices_of(account) if d not in (0, exclude)}
    for phone, device in watchers(state).get(account.phone, set()):
        other = world.accounts.find(phone)
        if device != 0 and other is not None and device in other.devices:
            targets.add((phone, device))
    targets.discard((account.phone, exclude if exclude is not None else -1))
    return targets


def devices_notification(account: Account, device: LinkedDevice, action: str) -> Node:
    pn_devices = [JID(account.phone, PN_SERVER, d) for d in devices_of(account)]
    lid_devices = [JID(account.lid, LID_SERVER, d) for d in devices_of(account)]
    change = Node(
        action,
        {"device_hash": device_hash(pn_devices), "device_lid_hash": device_hash(lid_devices)},
        [
            Node(
                "device",
                {
                    "jid": JID(account.phone, PN_SERVER, device.device_id),
                    "lid": JID(account.lid, LID_SERVER, device.device_id),
                },
            ),
            key_index_list(account),
        ],
    )
    return Node(
        "notification",
        {
            "from": JID(account.phone, PN_SERVER),
            "lid": JID(account.lid, LID_SERVER),
            "type": "devices",
            "id": new_stanza_id(),
            "t": str(int(time.time())),
        },
        [change],
    )


def identity_notification(account: Account) -> Node:
    return Node(
        "notification",
        {
            "from": JID(account.phone, PN_SERVER),
            "type": "encrypt",
            "id": new_stanza_id(),
            "t": str(int(time.time())),
        },
        [Node("identity", {})],
    )


def notify_identity_change(state: ServerState, account: Account) -> int:
    """Tell everyone who knows ``account`` that its identity changed; returns how many."""
    world = get_world(state)
    targets = audience(state, account)
    for phone, device in sorted(targets):
        deliver(world, phone, device, identity_notification(account))
    return len(targets)


def install(state: ServerState) -> None:
    world = get_world(state)

    def on_device(account: Account, device: LinkedDevice, action: str) -> None:
        node = devices_notification(account, device, action)
        for phone, device_id in sorted(audience(state, account, exclude=device.device_id)):
            deliver(world, phone, device_id, node)

    world.device_hooks.append(on_device)
