"""The ``usync`` IQ: who is on WhatsApp, their devices, their LID.

Request (whatsmeow ``user.go``, Baileys ``executeUSyncQuery``)::

    <iq xmlns="usync" type="get"><usync sid mode context last index>
      <query><devices version="2"/><contact/><lid/>…</query>
      <list><user jid="…"/> or <user><contact>+number</contact></user>…</list>
    </usync></iq>

Answer: the same ``usync`` attributes, then ``<list>`` with one ``<user jid>`` per user holding one
child per queried protocol:

- ``<devices><device-list><device id="0"/><device id="N" key-index="K"/>…</device-list>
  <key-index-list ts>signed ADVKeyIndexList</key-index-list></devices>`` (confirmed companions);
- ``<contact type="in|out">`` (the number as asked, for numbers queried by phone);
- ``<lid val="…@lid"/>``;
- ``<status>`` / ``<disappearing_mode>`` / ``<business>``: empty but well-formed answers;
- anything else: ``<tag><error code="501" text="feature-not-implemented"/></tag>``, as the
  protocol parsers expect an error child rather than a missing element.

Every user whose device list was fetched is remembered (:func:`watchers`), so that ``devices``
notifications reach those who cached the list.
"""

from __future__ import annotations

import logging
import time

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2

from .accounts import Account
from .connection import Connection, iq_error, iq_result
from .people import account_of, get_people
from .phone import PhoneWorld, get_world
from .routing import LID_SERVER, PN_SERVER, sender_of
from .state import ServerState

log = logging.getLogger("simulator.usync")

KEY_INDEX_LIST_PREFIX = b"\x06\x02"
"""Signature prefix of an ``ADVKeyIndexList`` (account signature over a key index list)."""


def watchers(state: ServerState) -> dict[str, set[tuple[str, int]]]:
    """By phone: the devices (phone, device id) that fetched that account's device list."""
    found = state.extra.get("device_watchers")
    if not isinstance(found, dict):
        found = state.extra["device_watchers"] = {}
    return found


def key_index_list(account: Account, timestamp: int | None = None) -> Node:
    """``<key-index-list ts>`` holding the account-signed ``ADVSignedKeyIndexList``."""
    ts = int(timestamp if timestamp is not None else time.time())
    confirmed = sorted(d.key_index for d in account.devices.values() if d.confirmed)
    details = wa_adv_pb2.ADVKeyIndexList(
        rawID=int.from_bytes(account.identity.public[:4], "big"),
        timestamp=ts,
        currentIndex=max(confirmed, default=0),
        validIndexes=confirmed,
    ).SerializeToString()
    signature = xeddsa.sign(account.identity.private, KEY_INDEX_LIST_PREFIX + details)
    signed = wa_adv_pb2.ADVSignedKeyIndexList(details=details, accountSignature=signature)
    return Node("key-index-list", {"ts": str(ts)}, signed.SerializeToString())


def device_list(account: Account) -> list[Node]:
    devices = [Node("device", {"id": "0"})]
    for device_id in sorted(account.devices):
        device = account.devices[device_id]
        if device.confirmed:
            devices.append(
                Node("device", {"id": str(device_id), "key-index": str(device.key_index)})
            )
    return devices


def devices_node(account: Account | None) -> Node:
    if account is None:
        return Node("devices", {}, [Node("device-list", {}, [])])
    return Node(
        "devices", {}, [Node("device-list", {}, device_list(account)), key_index_list(account)]
    )


def _find_user(world: PhoneWorld, user: Node) -> tuple[JID | None, Account | None, str | None]:
    """(the JID asked for, its account, the phone number asked for by ``<contact>``)."""
    jid = user.attr_jid_opt("jid")
    number: str | None = None
    contact = user.get_optional_child_by_tag("contact")
    if contact is not None and contact.content is not None:
        number = contact.content_str()
    if jid is not None:
        return jid, account_of(world, jid), number
    if number is not None:
        digits = "".join(ch for ch in number if ch.isdigit())
        account = world.accounts.find(digits) if digits else None
        return JID(digits, PN_SERVER) if digits else None, account, number
    return None, None, None


def user_node(
    state: ServerState, protocols: list[Node], user: Node
) -> tuple[Node, Account | None]:
    world = get_world(state)
    jid, account, number = _find_user(world, user)
    children: list[Node] = []
    for protocol in protocols:
        tag = protocol.tag
        if tag == "devices":
            children.append(devices_node(account))
        elif tag == "contact":
            found = "in" if account is not None else "out"
            children.append(Node("contact", {"type": found}, number))
        elif tag == "lid":
            if account is not None and (jid is None or jid.server != LID_SERVER):
                children.append(Node("lid", {"val": JID(account.lid, LID_SERVER)}))
            else:
                children.append(Node("lid", {}))
        elif tag == "status":
            children.append(Node("status", {"t": "0"}) if account else _not_found(tag))
        elif tag == "disappearing_mode":
            children.append(Node("disappearing_mode", {"duration": "0", "t": "0"}))
        elif tag == "business":
            children.append(Node("business", {}))
        else:
            children.append(
                Node(tag, {}, [Node("error", {"code": "501", "text": "feature-not-implemented"})])
            )
    attrs: dict[str, str | JID] = {}
    if jid is not None:
        attrs["jid"] = jid if jid.device == 0 else JID(jid.user, jid.server)
    return Node("user", attrs, children), account


def _not_found(tag: str) -> Node:
    return Node(tag, {}, [Node("error", {"code": "404", "text": "item-not-found"})])


async def handle_usync(conn: Connection, node: Node) -> Node:
    usync = node.get_child_by_tag("usync")
    query = usync.get_child_by_tag("query")
    listed = usync.get_child_by_tag("list")
    protocols = query.children
    if not protocols:
        return iq_error(node, "400", "bad-request")
    asker = sender_of(conn)
    people = get_people(conn.state)
    users: list[Node] = []
    for user in listed.children_by_tag("user"):
        answer, account = user_node(conn.state, protocols, user)
        users.append(answer)
        if account is not None:
            people.of(account)  # the phone's keys must be fetchable from now on
            if asker is not None and any(p.tag == "devices" for p in protocols):
                watchers(conn.state).setdefault(account.phone, set()).add(
                    (asker.account.phone, asker.device)
                )
    attrs = {k: v for k, v in usync.attrs.items() if k in ("sid", "mode", "context", "index")}
    attrs["last"] = "true"
    return iq_result(node, [Node("usync", attrs, [Node("list", {}, users)])])


def install(state: ServerState) -> None:
    state.iq_handlers.register("usync", handle_usync, type="get", child="usync")
