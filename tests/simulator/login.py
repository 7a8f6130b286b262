"""Login of linked companions, and the session around it.

- Login: the payload's username/device must name a linked device whose noise key is the one the
  handshake proved; otherwise ``<failure reason="401">``. Failures injected by the admin API
  (``402`` with ``code``/``expire``, ``403``, ``405``, ``409``, ``503``…) are sent instead of
  ``<success>``.
- After ``<success t lid>``: queued offline stanzas (``offline_preview``, the stanzas with an
  ``offline`` attribute, ``<ib><offline count/>``). Nothing else: like WhatsApp, the server
  never states when the phone was last active (see :mod:`.phone_activity`).
- A second login of the same device replaces the first (``<stream:error><conflict
  type="replaced"/>``), as on WhatsApp.
- IQs: ``passive`` (active/passive), ``md`` ``remove-companion-device`` (logout) and
  ``link_code_companion_reg`` (code pairing).
"""

from __future__ import annotations

import logging
import time

from mautrix_whatsapp.whatsapp.binary import BinaryError, Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

from .connection import SERVER, Connection, iq_error, iq_result
from .phone import PhoneWorld, end_stream, get_world
from .qr import ScannedQR
from .state import PendingRegistration, ServerState

log = logging.getLogger("simulator.login")


def deliver(world: PhoneWorld, phone: str, device_id: int, node: Node) -> bool:
    """Send ``node`` to a companion now, or queue it for its next login. True if sent now."""
    account = world.accounts.find(phone)
    conn = world.connection_of(account, device_id) if account is not None else None
    if conn is not None:
        world.state.spawn(conn.send_node(node), name="deliver")
        return True
    world.offline_queues.setdefault((phone, device_id), []).append(node)
    return False


async def handle_login(conn: Connection, payload: ClientPayload) -> None:
    world = get_world(conn.state)
    found = world.accounts.find_device(conn.client_static or b"")
    if found is None:
        await conn.send_failure("401")
        return
    account, device = found
    if str(payload.username) != account.phone or payload.device != device.device_id:
        await conn.send_failure("401")
        return
    jid_text = account.device_jid(device.device_id)
    for failure_key in (jid_text, "*"):
        queued = world.login_failures.get(failure_key)
        if queued:
            failure = queued.pop(0)
            await conn.send_failure(str(failure.reason), **failure.attrs)
            return
    key = (account.phone, device.device_id)
    old = world.connection_of(account, device.device_id)
    world.sessions[key] = conn
    conn.extra["account"] = account
    conn.extra["linked_device"] = device
    if old is not None and old is not conn:
        conn.state.spawn(
            end_stream(old, None, [Node("conflict", {"type": "replaced"})]), name="replaced"
        )
    attrs: dict[str, str | JID] = {
        "t": str(int(time.time())),
        "props": "0",
        "lid": JID.parse(account.device_lid(device.device_id)),
        "display_name": "",
        "creation": str(int(time.time())),
    }
    await conn.send_node(Node("success", attrs))
    queued_nodes = world.offline_queues.pop(key, [])
    if queued_nodes:
        await conn.send_node(
            Node(
                "ib",
                {"from": SERVER},
                [Node("offline_preview", {"count": str(len(queued_nodes))})],
            )
        )
        for node in queued_nodes:
            await conn.send_node(Node(node.tag, {**node.attrs, "offline": "1"}, node.content))
    await conn.send_node(
        Node("ib", {"from": SERVER}, [Node("offline", {"count": str(len(queued_nodes))})])
    )


async def forget_session(conn: Connection) -> None:
    world = get_world(conn.state)
    for key, session in list(world.sessions.items()):
        if session is conn:
            del world.sessions[key]


async def handle_passive(conn: Connection, node: Node) -> Node:
    children = node.children
    if not children or children[0].tag not in ("active", "passive"):
        return iq_error(node, "400", "bad-request")
    conn.extra["active"] = children[0].tag == "active"
    return iq_result(node)


async def handle_remove_companion(conn: Connection, node: Node) -> Node:
    """Logout: the companion unlinks itself (or another of the account's companions)."""
    world = get_world(conn.state)
    account = conn.extra.get("account")
    if account is None:
        return iq_error(node, "401", "not-authorized")
    try:
        jid = node.get_child_by_tag("remove-companion-device").attr_jid("jid")
    except BinaryError:
        return iq_error(node, "400", "bad-request")
    if jid.user != account.phone or jid.device not in account.devices:
        return iq_error(node, "404", "item-not-found")
    world.unlink(account, account.devices[jid.device], notify=False)
    return iq_result(node)


async def handle_link_code(conn: Connection, node: Node) -> Node:
    world = get_world(conn.state)
    reg = node.get_optional_child_by_tag("link_code_companion_reg")
    if reg is None or not isinstance(conn.extra.get("registration"), PendingRegistration):
        return iq_error(node, "400", "bad-request")
    stage = reg.attrs.get("stage")
    try:
        if stage == "companion_hello":
            ref, _ = world.companion_hello(conn, reg)
            answer = Node(
                "link_code_companion_reg",
                {},
                [Node("link_code_pairing_ref", {}, ref.encode())],
            )
            return iq_result(node, [answer])
        if stage == "companion_finish":
            outcome = await world.companion_finish(conn, reg)
            if outcome is None:
                return iq_error(node, "404", "item-not-found")
            if outcome.tag == "error":
                return iq_error(node, str(outcome.attrs["code"]), str(outcome.attrs["text"]))
            return iq_result(node)
    except (BinaryError, ValueError) as e:  # CodePairingError is a ValueError
        log.info("bad code-pairing request: %s", e)
        return iq_error(node, "400", "bad-request")
    return iq_error(node, "400", "bad-request")


def install(state: ServerState) -> None:
    world = get_world(state)
    state.login_handler = handle_login
    state.close_hooks.append(forget_session)
    state.iq_handlers.register("passive", handle_passive, type="set")
    state.iq_handlers.register("md", handle_remove_companion, child="remove-companion-device")
    state.iq_handlers.register("md", handle_link_code, child="link_code_companion_reg")

    async def scan(scanned: ScannedQR, registration: PendingRegistration) -> dict[str, object]:
        return await world.scan_qr(scanned, registration)

    state.qr_scan_handler = scan
