"""Redelivery of unanswered messages, as WhatsApp's server does it.

A ``<message>`` sent to a device stays the server's until the device answers it: a receipt
naming its id (delivery, retry…; ``<list><item id>`` included) or an ``<ack>``/nack with it.
When the device's connection ends first (a crash, a dropped socket), the unanswered messages
go back to the head of its offline queue, in their order, so its next login gets them again
(``offline="1"``) ahead of anything newer. A client that holds back its receipt until it has
kept the message therefore loses nothing to a crash.

``GET /admin/redelivery`` says how many messages each device has not answered yet.
"""

from __future__ import annotations

from collections import OrderedDict

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

from .accounts import Account
from .connection import Connection, ConnectionClosedError
from .core import json_response
from .login import deliver
from .phone import get_world
from .state import AdminHandler, ServerState, StanzaHandler

Unanswered = OrderedDict[str, Node]
"""A connection's messages by id, in the order they were sent."""

_KEY = "redelivery.unanswered"


def _unanswered(conn: Connection) -> Unanswered:
    found = conn.extra.get(_KEY)
    if isinstance(found, OrderedDict):
        return found
    fresh: Unanswered = OrderedDict()
    conn.extra[_KEY] = fresh
    return fresh


def _track(conn: Connection) -> None:
    """Note every ``<message>`` this connection sends (wrapping its ``send_node``)."""
    send = conn.send_node
    unanswered = _unanswered(conn)

    async def send_node(node: Node) -> None:
        message_id = node.attrs.get("id")
        if node.tag != "message" or not isinstance(message_id, str):
            await send(node)
            return
        # Noted before sending: a message sent into a closing connection (closed, its close
        # hooks not run yet) is then requeued with the others instead of lost.
        unanswered[message_id] = node
        try:
            await send(node)
        except ConnectionClosedError:
            if conn.extra.get(_KEY) is not unanswered:  # requeued already: queue it now
                unanswered.pop(message_id, None)
                _requeue(conn, [node])

    conn.__dict__["send_node"] = send_node


def _answered_ids(node: Node) -> list[str]:
    ids = [node.attrs.get("id")]
    for child in node.children:
        if child.tag == "list":
            ids.extend(item.attrs.get("id") for item in child.children_by_tag("item"))
    return [i for i in ids if isinstance(i, str)]


def _checking_off(original: StanzaHandler | None) -> StanzaHandler:
    async def handle(conn: Connection, node: Node) -> None:
        unanswered = _unanswered(conn)
        for message_id in _answered_ids(node):
            unanswered.pop(message_id, None)
        if original is not None:
            await original(conn, node)
        else:
            await conn._default_stanza(node)

    return handle


async def _requeue_on_close(conn: Connection) -> None:
    unanswered = conn.extra.pop(_KEY, None)
    if unanswered:
        _requeue(conn, list(unanswered.values()))


def _requeue(conn: Connection, unanswered: list[Node]) -> None:
    account = conn.extra.get("account")
    device = conn.extra.get("linked_device")
    if not isinstance(account, Account) or device is None:
        return
    world = get_world(conn.state)
    nodes = [
        Node(n.tag, {k: v for k, v in n.attrs.items() if k != "offline"}, n.content)
        for n in unanswered
    ]
    live = world.connection_of(account, device.device_id)
    if live is not None and live is not conn:
        for node in nodes:  # already logged in again: send them now, in order
            deliver(world, account.phone, device.device_id, node)
        return
    queue = world.offline_queues.setdefault((account.phone, device.device_id), [])
    queue[:0] = nodes


def _status(state: ServerState) -> AdminHandler:
    async def status(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return json_response({"unanswered": _counts(state)})

    return status


def _counts(state: ServerState) -> dict[str, int]:
    counts: dict[str, int] = {}
    for conn in state.connections:
        account = conn.extra.get("account")
        device = conn.extra.get("linked_device")
        if isinstance(account, Account) and device is not None:
            counts[account.device_jid(device.device_id)] = len(_unanswered(conn))
    return counts


def install(state: ServerState) -> None:
    login = state.login_handler

    async def tracking_login(conn: Connection, payload: ClientPayload) -> None:
        _track(conn)
        if login is not None:
            await login(conn, payload)

    state.login_handler = tracking_login
    for tag in ("receipt", "ack"):
        state.stanza_handlers.register(
            tag, _checking_off(state.stanza_handlers.find(tag)), replace=True
        )
    state.close_hooks.append(_requeue_on_close)
    state.admin_routes.add("GET", "/redelivery", _status(state))
