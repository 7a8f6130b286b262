"""The ``privacy`` namespace: privacy settings and trusted-contact tokens.

Settings: ``get <privacy/>`` answers ``<privacy><category name value/>…</privacy>`` (WhatsApp's
defaults until changed); ``set <privacy><category name value/></privacy>`` changes one. Clients
read them before sending read receipts (``readreceipts``).

Tokens:
After a 1:1 message, clients issue a token to the contact (Baileys ``issuePrivacyTokens``,
whatsmeow ``ensureTCToken``): ``<iq xmlns="privacy" type="set"><tokens><token jid t
type="trusted_contact"/></tokens></iq>``. The server mints an opaque token per (issuer, contact),
answers ``result``, and tells the contact's companions (whatsmeow
``handlePrivacyTokenNotification``)::

    <notification from="ISSUER@s.whatsapp.net" sender_lid="ISSUER@lid" type="privacy_token" id t>
      <tokens><token jid="CONTACT@s.whatsapp.net" t type="trusted_contact">bytes</token></tokens>
    </notification>

Tokens are not required on messages (the ``privacyTokenOn1to1`` server prop stays off).
"""

from __future__ import annotations

import os

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .connection import Connection, iq_error, iq_result, new_stanza_id
from .people import account_of
from .phone import get_world
from .routing import LID_SERVER, PN_SERVER, deliver_to, devices_of, sender_of
from .state import ServerState

TOKEN_TYPE = "trusted_contact"
DEFAULT_SETTINGS = {
    "last": "all",
    "online": "all",
    "profile": "all",
    "status": "contacts",
    "readreceipts": "all",
    "groupadd": "all",
    "calladd": "all",
    "messages": "all",
    "stickers": "all",
}
"""WhatsApp's defaults for a new account."""


def settings(state: ServerState, phone: str) -> dict[str, str]:
    found = state.extra.setdefault("privacy_settings", {})
    assert isinstance(found, dict)
    account_settings = found.setdefault(phone, dict(DEFAULT_SETTINGS))
    assert isinstance(account_settings, dict)
    return account_settings


async def handle_get(conn: Connection, node: Node) -> Node:
    asker = sender_of(conn)
    if asker is None:
        return iq_error(node, "401", "not-authorized")
    categories = [
        Node("category", {"name": name, "value": value})
        for name, value in settings(conn.state, asker.account.phone).items()
    ]
    return iq_result(node, [Node("privacy", {}, categories)])


async def handle_set(conn: Connection, node: Node) -> Node:
    asker = sender_of(conn)
    if asker is None:
        return iq_error(node, "401", "not-authorized")
    account_settings = settings(conn.state, asker.account.phone)
    changed = []
    for category in node.get_child_by_tag("privacy").children_by_tag("category"):
        name, value = category.attr_str("name"), category.attr_str("value")
        account_settings[name] = value
        changed.append(Node("category", {"name": name, "value": value}))
    return iq_result(node, [Node("privacy", {}, changed)])


def tokens(state: ServerState) -> dict[tuple[str, str], bytes]:
    """Minted tokens by (issuer phone, contact phone)."""
    found = state.extra.get("privacy_tokens")
    if not isinstance(found, dict):
        found = state.extra["privacy_tokens"] = {}
    return found


async def handle_tokens(conn: Connection, node: Node) -> Node:
    issuer = sender_of(conn)
    if issuer is None:
        return iq_error(node, "401", "not-authorized")
    world = get_world(conn.state)
    minted = tokens(conn.state)
    for token in node.get_child_by_tag("tokens").children_by_tag("token"):
        if token.attrs.get("type") != TOKEN_TYPE:
            return iq_error(node, "400", "bad-request")
        contact = account_of(world, token.attr_jid("jid"))
        t = token.attr_str("t")
        if contact is None or contact is issuer.account:
            continue
        value = minted.setdefault((issuer.account.phone, contact.phone), os.urandom(24))
        notification = Node(
            "notification",
            {
                "from": JID(issuer.account.phone, PN_SERVER),
                "sender_lid": JID(issuer.account.lid, LID_SERVER),
                "type": "privacy_token",
                "id": new_stanza_id(),
                "t": t,
            },
            [
                Node(
                    "tokens",
                    {},
                    [
                        Node(
                            "token",
                            {"jid": JID(contact.phone, PN_SERVER), "t": t, "type": TOKEN_TYPE},
                            value,
                        )
                    ],
                )
            ],
        )
        for device in devices_of(contact):
            if device != 0:
                deliver_to(conn.state, contact, device, notification)
    return iq_result(node)


def install(state: ServerState) -> None:
    state.iq_handlers.register("privacy", handle_tokens, type="set", child="tokens")
    state.iq_handlers.register("privacy", handle_get, type="get", child="privacy")
    state.iq_handlers.register("privacy", handle_set, type="set", child="privacy")
