"""Presence (online/offline, last seen) and chat state (typing, recording), both ways.

Outgoing (whatsmeow ``presence.go``, Baileys ``chats.ts``)::

    await send_presence(client, available=True)       # <presence type="available" name=…>
    await subscribe_presence(client, contact)         # <presence type="subscribe" to=…>
    await send_chat_presence(client, chat, ChatState.COMPOSING, media=ChatStateMedia.AUDIO)

WhatsApp only sends a contact's presence after we subscribed to it, and chat states only while
we are ``available``. Incoming ``<presence>`` and ``<chatstate>`` stanzas become
:class:`~.events.Presence` and :class:`~.events.ChatPresence` events; a malformed one is logged
and dropped (these stanzas are not acked). :func:`install` registers the handlers.
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

from .binary.errors import BinaryError
from .binary.jid import JID
from .binary.node import Node
from .connection import ClientError
from .events import ChatPresence, Presence
from .message_source import parse_message_source

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "ChatState",
    "ChatStateMedia",
    "NoPushNameError",
    "install",
    "parse_chat_state",
    "parse_presence",
    "send_chat_presence",
    "send_presence",
    "subscribe_presence",
]

log = logging.getLogger("mautrix_whatsapp.whatsapp.presence")


class ChatState(enum.StrEnum):
    COMPOSING = "composing"
    PAUSED = "paused"


class ChatStateMedia(enum.StrEnum):
    TEXT = ""
    AUDIO = "audio"
    """Recording a voice message."""


class NoPushNameError(ClientError):
    """Presence needs our push name, which the phone has not sent yet (app state sync)."""


class PresenceParseError(BinaryError):
    """A ``<presence>`` or ``<chatstate>`` that does not say what it must."""


_HIDDEN_LAST_SEEN = frozenset({"deny", "none", "error"})


async def send_presence(client: Client, *, available: bool) -> None:
    """Mark us online (chat states and receipts flow) or offline (the phone notifies again)."""
    name = client.device.push_name
    if not name:
        raise NoPushNameError("no push name to send presence with")
    state = "available" if available else "unavailable"
    await client.send_node(Node("presence", {"type": state, "name": name}))


async def subscribe_presence(client: Client, jid: JID, *, token: bytes | None = None) -> None:
    """Ask for ``jid``'s presence updates; ``token`` is its privacy (tc) token if we have one."""
    content = [Node("tctoken", None, token)] if token else None
    attrs: dict[str, str | JID] = {"type": "subscribe", "to": jid.to_non_ad()}
    await client.send_node(Node("presence", attrs, content))


async def send_chat_presence(
    client: Client, chat: JID, state: ChatState, media: ChatStateMedia = ChatStateMedia.TEXT
) -> None:
    """Show that we type (``composing``; with ``AUDIO``: record) or stopped (``paused``)."""
    state = ChatState(state)
    attrs = {"media": str(media)} if state is ChatState.COMPOSING and media else None
    await client.send_node(Node("chatstate", {"to": chat}, [Node(state.value, attrs)]))


def parse_presence(node: Node) -> Presence:
    """``<presence from type? last?>``; raises BinaryError when malformed."""
    sender = node.attr_jid("from")
    kind = node.attr_str_opt("type") or ""
    if kind not in ("", "available", "unavailable"):
        raise PresenceParseError(f"unknown presence type {kind!r:.32}")
    last = node.attrs.get("last")
    last_seen = None
    if last is not None and last not in _HIDDEN_LAST_SEEN:
        last_seen = node.attr_unix_time("last")
    return Presence(sender=sender, unavailable=kind == "unavailable", last_seen=last_seen)


def parse_chat_state(node: Node, own: JID | None, own_lid: JID | None) -> ChatPresence:
    """``<chatstate from participant?><composing media?/></chatstate>``."""
    source = parse_message_source(node, own, own_lid)
    children = node.children
    if len(children) != 1:
        raise PresenceParseError(f"<chatstate> with {len(children)} children")
    state = children[0].tag
    if state not in (ChatState.COMPOSING, ChatState.PAUSED):
        raise PresenceParseError(f"unknown chat state {state!r:.32}")
    if source.sender is None:
        raise PresenceParseError("group <chatstate> without a participant")
    return ChatPresence(
        chat=source.chat,
        sender=source.sender,
        is_from_me=source.is_from_me,
        is_group=source.is_group,
        state=state,
        media=children[0].attr_str_opt("media") or "",
    )


def install(client: Client) -> None:
    """Turn incoming ``<presence>`` and ``<chatstate>`` stanzas into events."""

    async def on_presence(node: Node) -> None:
        try:
            event = parse_presence(node)
        except BinaryError as e:
            log.warning("Ignoring a malformed presence: %s", e)
            return
        await client.dispatch(event)

    async def on_chat_state(node: Node) -> None:
        try:
            event = parse_chat_state(node, client.device.jid, client.device.lid)
        except BinaryError as e:
            log.warning("Ignoring a malformed chat state: %s", e)
            return
        await client.dispatch(event)

    client.add_node_handler("presence", on_presence)
    client.add_node_handler("chatstate", on_chat_state)
