"""Incoming ``<call>`` stanzas (whatsmeow ``call.go``): call offers and their end, as events.

Calls themselves are not supported (no VoIP stack); a client only needs to know that one
started, so it can tell its user, and must ack every ``<call>`` or the server sends it again::

    <call from="15551234567@s.whatsapp.net" id="…" t="1700000000" platform="android" version="…">
      <offer call-id="…" call-creator="15551234567:3@s.whatsapp.net"
             [group-jid="…@g.us"] [caller_pn="…"|caller_lid="…"]>…</offer>
    </call>

``offer`` (a one-to-one call ringing here) and ``offer_notice`` (a group call, with ``media``
``audio``/``video`` and ``type`` ``group``) become :class:`~.events.CallOffer`; ``terminate``
becomes :class:`~.events.CallTerminate`; the rest (``accept``, ``reject``, ``relaylatency``,
``transport``…) is acked and ignored. A malformed stanza is logged, acked and dropped.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .binary.errors import BinaryError
from .binary.jid import HIDDEN_USER_SERVER, JID
from .binary.node import Node
from .receipt import build_ack

if TYPE_CHECKING:
    from .client import Client

__all__ = ["CallOffer", "CallParseError", "CallTerminate", "install", "parse_call"]

log = logging.getLogger("mautrix_whatsapp.whatsapp.call")


class CallParseError(BinaryError):
    """A ``<call>`` that does not say what it must."""


@dataclass(frozen=True)
class CallOffer:
    """A call is ringing: ``call_creator`` calls us (``group`` set for a group call).

    ``is_notice`` for an ``offer_notice`` (group calls), whose ``media`` is ``audio`` or
    ``video`` and ``type`` ``group``. ``call_creator_alt`` is the caller's other JID (phone
    number for a LID caller, LID otherwise) when the server says it.
    """

    sender: JID
    timestamp: datetime
    call_creator: JID
    call_id: str
    group: JID | None = None
    call_creator_alt: JID | None = None
    is_notice: bool = False
    media: str = ""
    type: str = ""


@dataclass(frozen=True)
class CallTerminate:
    """A call ended (``reason`` as the server words it, may be empty)."""

    sender: JID
    timestamp: datetime
    call_creator: JID
    call_id: str
    group: JID | None = None
    reason: str = ""


def parse_call(node: Node) -> CallOffer | CallTerminate | None:
    """The event of a ``<call>`` (None for the kinds a client ignores); raises BinaryError."""
    children = node.children
    if len(children) != 1:
        raise CallParseError(f"<call> with {len(children)} children")
    child = children[0]
    if child.tag not in ("offer", "offer_notice", "terminate"):
        return None
    sender = node.attr_jid("from")
    timestamp = node.attr_unix_time("t")
    creator = child.attr_jid("call-creator")
    call_id = child.attr_str("call-id")
    group = child.attr_jid_opt("group-jid")
    alt_key = "caller_pn" if creator.server == HIDDEN_USER_SERVER else "caller_lid"
    creator_alt = child.attr_jid_opt(alt_key)
    if child.tag == "terminate":
        return CallTerminate(
            sender=sender,
            timestamp=timestamp,
            call_creator=creator,
            call_id=call_id,
            group=group,
            reason=child.attr_str_opt("reason") or "",
        )
    return CallOffer(
        sender=sender,
        timestamp=timestamp,
        call_creator=creator,
        call_creator_alt=creator_alt,
        call_id=call_id,
        group=group,
        is_notice=child.tag == "offer_notice",
        media=child.attr_str_opt("media") or "",
        type=child.attr_str_opt("type") or "",
    )


def install(client: Client) -> None:
    """Turn incoming ``<call>`` stanzas into events, acking each one."""

    async def on_call(node: Node) -> None:
        try:
            event = parse_call(node)
        except BinaryError as e:
            log.warning("Ignoring a malformed call stanza: %s", e)
            event = None
        with contextlib.suppress(Exception):
            await client.send_node(build_ack(node))
        if event is not None:
            await client.dispatch(event)

    client.add_node_handler("call", on_call)
