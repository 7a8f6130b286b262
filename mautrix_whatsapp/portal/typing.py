"""Typing notifications both ways.

WhatsApp → Matrix: a contact's ``composing`` (typing, or recording a voice message) becomes
their ghost typing in the portal for 15 seconds, ``paused`` stops it (as mautrix-whatsapp).

Matrix → WhatsApp: Matrix sends the whole list of who types in a room with every change; each
bridge user who joins or leaves that list is shown typing (``composing``) or stopping
(``paused``) in the chat. The previous list is kept per room, in memory: typing is ephemeral.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import RoomID, UserID

from ..session import SendFailed
from .jids import user_jid

if TYPE_CHECKING:
    from ..session import ChatTyping
    from ..user import User
    from .portal import Portal

TYPING_TIMEOUT_MS = 15_000
"""How long a ghost types when WhatsApp says nothing more (WhatsApp resends while typing)."""


async def handle_whatsapp_typing(portal: Portal, typing: ChatTyping) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    puppet = await portal.bridge.get_puppet_by_jid(typing.sender)
    if puppet is None:
        return
    await puppet.intent.ensure_joined(room_id, bot=portal.main_intent)
    await puppet.intent.set_typing(room_id, timeout=TYPING_TIMEOUT_MS if typing.typing else 0)


class MatrixTyping:
    """Who was typing in each portal room at the last ``m.typing``, to send only changes."""

    def __init__(self) -> None:
        self._typing: dict[RoomID, set[UserID]] = {}

    def changes(self, room_id: RoomID, user_ids: list[UserID]) -> tuple[set[UserID], set[UserID]]:
        """(started, stopped) since the last list for ``room_id``; remembers the new list."""
        now = set(user_ids)
        before = self._typing.get(room_id, set())
        if now:
            self._typing[room_id] = now
        else:
            self._typing.pop(room_id, None)
        return now - before, before - now


async def send_typing(portal: Portal, user: User, typing: bool) -> None:
    """Show ``user`` typing (or not) in the portal's chat, if they are in it on WhatsApp."""
    session = user.session
    if session is None or user.wa_jid is None:
        return
    if not portal.is_group and user_jid(user.wa_jid) != portal.receiver:
        return
    try:
        await session.send_typing(portal.jid, typing)
    except SendFailed as e:
        portal.log.debug("Couldn't send typing of %s: %s", user.mxid, e)
