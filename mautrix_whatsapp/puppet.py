"""Ghosts: the Matrix users that stand for WhatsApp contacts.

The ghost's localpart is ``username_template`` with ``{userid}`` = the phone digits, or
``lid-<n>`` for contacts known only by their LID.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mautrix.appservice import IntentAPI
from mautrix.types import UserID

from .db import PuppetRow

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge


class InvalidJID(ValueError):
    """Not a WhatsApp user JID the bridge can make a ghost for."""


_USER_PART = re.compile(r"^[0-9]{1,20}$")


def ghost_id_for_jid(jid: str) -> str:
    """``15551234567:3@s.whatsapp.net`` → ``15551234567``; ``42@lid`` → ``lid-42``."""
    user, sep, server = jid.partition("@")
    user = user.split(":", 1)[0].split(".", 1)[0]
    if not sep or not _USER_PART.match(user):
        raise InvalidJID(f"not a WhatsApp user JID: {jid!r}")
    if server == "s.whatsapp.net":
        return user
    if server == "lid":
        return f"lid-{user}"
    raise InvalidJID(f"not a WhatsApp user JID: {jid!r}")


def jid_for_ghost_id(ghost_id: str) -> str:
    """The inverse of :func:`ghost_id_for_jid` (user JIDs without device)."""
    if ghost_id.startswith("lid-") and _USER_PART.match(ghost_id[4:]):
        return f"{ghost_id[4:]}@lid"
    if _USER_PART.match(ghost_id):
        return f"{ghost_id}@s.whatsapp.net"
    raise InvalidJID(f"not a ghost ID: {ghost_id!r}")


class Puppet:
    """A ghost; just enough for the state store and the user's own ghost for now."""

    def __init__(self, bridge: WhatsAppBridge, row: PuppetRow) -> None:
        self.bridge = bridge
        self.row = row
        self.mxid: UserID = bridge.ghost_mxid(ghost_id_for_jid(row.jid))
        self.intent: IntentAPI = bridge.az.intent.user(self.mxid)
        self.custom_mxid = row.custom_mxid
        self.is_real_user = False

    @property
    def jid(self) -> str:
        return self.row.jid

    @property
    def is_registered(self) -> bool:
        return self.row.is_registered

    @is_registered.setter
    def is_registered(self, value: bool) -> None:
        self.row.is_registered = value

    async def save(self) -> None:
        await self.bridge.tables.puppets.upsert(self.row)

    def __repr__(self) -> str:
        return f"Puppet({self.row.jid!r})"
