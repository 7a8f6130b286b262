"""Pre-key storage and the ``encrypt`` IQs: count, upload, fetch (consumes a one-time key), digest.

Other modules may store bundles for simulated peers (e.g. a phone acting as a Signal peer) with
:meth:`PreKeyServer.put`; fetches hand out one one-time pre-key per request, as WhatsApp does.
When a device's stock falls below :data:`LOW_COUNT` after a fetch, it gets an ``encrypt``
notification with ``<count value/>`` (live, or queued for its next login).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.binary import BinaryError, Node

from .connection import SERVER, Connection, iq_error, iq_result, new_stanza_id
from .login import deliver
from .phone import get_world
from .state import ServerState

log = logging.getLogger("simulator.prekeys")

LOW_COUNT = 5


@dataclass
class KeyBundle:
    registration_id: int
    identity: bytes
    signed_id: int
    signed_public: bytes
    signed_signature: bytes
    one_time: dict[int, bytes] = field(default_factory=dict)


class PreKeyServer:
    """Bundles by (user, device); the user is the phone number (or LID) of the account."""

    def __init__(self) -> None:
        self.bundles: dict[tuple[str, int], KeyBundle] = {}

    def put(self, user: str, device: int, bundle: KeyBundle) -> None:
        old = self.bundles.get((user, device))
        if old is not None and old.identity == bundle.identity:
            old.one_time.update(bundle.one_time)
            old.signed_id, old.signed_public = bundle.signed_id, bundle.signed_public
            old.signed_signature = bundle.signed_signature
            old.registration_id = bundle.registration_id
        else:
            self.bundles[(user, device)] = bundle

    def count(self, user: str, device: int) -> int:
        bundle = self.bundles.get((user, device))
        return len(bundle.one_time) if bundle is not None else 0


def get_prekeys(state: ServerState) -> PreKeyServer:
    server = state.extra.get("prekeys")
    if not isinstance(server, PreKeyServer):
        server = state.extra["prekeys"] = PreKeyServer()
    return server


def _id(data: bytes) -> int:
    if len(data) != 3:
        raise ValueError("key ids are 3 bytes")
    return int.from_bytes(data, "big")


def _key32(node: Node) -> bytes:
    value = node.content_bytes()
    if len(value) != 32:
        raise ValueError(f"<{node.tag}> is not a 32-byte key")
    return value


def _who(conn: Connection) -> tuple[str, int] | None:
    account = conn.extra.get("account")
    device = conn.extra.get("linked_device")
    if account is None or device is None:
        return None
    return account.phone, device.device_id


async def handle_upload(conn: Connection, node: Node) -> Node:
    who = _who(conn)
    if who is None:
        return iq_error(node, "401", "not-authorized")
    try:
        registration = node.get_child_by_tag("registration").content_bytes()
        identity = _key32(node.get_child_by_tag("identity"))
        skey = node.get_child_by_tag("skey")
        one_time = {
            _id(key.get_child_by_tag("id").content_bytes()): _key32(key.get_child_by_tag("value"))
            for key in node.get_child_by_tag("list").children_by_tag("key")
        }
        bundle = KeyBundle(
            registration_id=int.from_bytes(registration, "big"),
            identity=identity,
            signed_id=_id(skey.get_child_by_tag("id").content_bytes()),
            signed_public=_key32(skey.get_child_by_tag("value")),
            signed_signature=skey.get_child_by_tag("signature").content_bytes(),
            one_time=one_time,
        )
    except (BinaryError, ValueError) as e:
        log.info("bad pre-key upload: %s", e)
        return iq_error(node, "400", "bad-request")
    get_prekeys(conn.state).put(*who, bundle)
    return iq_result(node)


async def handle_count(conn: Connection, node: Node) -> Node:
    who = _who(conn)
    if who is None:
        return iq_error(node, "401", "not-authorized")
    count = get_prekeys(conn.state).count(*who)
    return iq_result(node, [Node("count", {"value": str(count)})])


def _skey(bundle: KeyBundle) -> Node:
    return Node(
        "skey",
        {},
        [
            Node("id", {}, bundle.signed_id.to_bytes(3, "big")),
            Node("value", {}, bundle.signed_public),
            Node("signature", {}, bundle.signed_signature),
        ],
    )


async def handle_fetch(conn: Connection, node: Node) -> Node:
    server = get_prekeys(conn.state)
    users: list[Node] = []
    for request in node.get_child_by_tag("key").children_by_tag("user"):
        try:
            jid = request.attr_jid("jid")
        except BinaryError:
            continue
        user = jid.user
        if jid.server == "lid":
            account = get_world(conn.state).accounts.find_by_lid(jid.user)
            user = account.phone if account is not None else jid.user
        bundle = server.bundles.get((user, jid.device))
        if bundle is None:
            users.append(
                Node(
                    "user",
                    {"jid": jid},
                    [Node("error", {"code": "404", "text": "item-not-found"})],
                )
            )
            continue
        content = [
            Node("registration", {}, bundle.registration_id.to_bytes(4, "big")),
            Node("type", {}, b"\x05"),
            Node("identity", {}, bundle.identity),
            _skey(bundle),
        ]
        if bundle.one_time:
            key_id = min(bundle.one_time)
            public = bundle.one_time.pop(key_id)
            content.append(
                Node(
                    "key",
                    {},
                    [Node("id", {}, key_id.to_bytes(3, "big")), Node("value", {}, public)],
                )
            )
            if len(bundle.one_time) < LOW_COUNT:
                notify_low(conn.state, user, jid.device, len(bundle.one_time))
        users.append(Node("user", {"jid": jid}, content))
    return iq_result(node, [Node("list", {}, users)])


def notify_low(state: ServerState, user: str, device: int, count: int) -> None:
    notification = Node(
        "notification",
        {"from": SERVER, "type": "encrypt", "id": new_stanza_id(), "t": str(int(time.time()))},
        [Node("count", {"value": str(count)})],
    )
    deliver(get_world(state), user, device, notification)


async def handle_digest(conn: Connection, node: Node) -> Node:
    who = _who(conn)
    bundle = get_prekeys(conn.state).bundles.get(who) if who is not None else None
    if bundle is None:
        return iq_error(node, "404", "item-not-found")
    ids = sorted(bundle.one_time)
    digest = hashlib.sha1(
        bundle.identity
        + bundle.signed_public
        + bundle.signed_signature
        + b"".join(bundle.one_time[i] for i in ids)
    ).digest()
    return iq_result(
        node,
        [
            Node(
                "digest",
                {},
                [
                    Node("registration", {}, bundle.registration_id.to_bytes(4, "big")),
                    Node("type", {}, b"\x05"),
                    Node("identity", {}, bundle.identity),
                    _skey(bundle),
                    Node("list", {}, [Node("id", {}, i.to_bytes(3, "big")) for i in ids]),
                    Node("hash", {}, digest),
                ],
            )
        ],
    )


def install(state: ServerState) -> None:
    get_prekeys(state)
    state.iq_handlers.register("encrypt", handle_upload, type="set", child="registration")
    state.iq_handlers.register("encrypt", handle_count, type="get", child="count")
    state.iq_handlers.register("encrypt", handle_fetch, type="get", child="key")
    state.iq_handlers.register("encrypt", handle_digest, type="get", child="digest")
