"""Portals: one Matrix room per WhatsApp chat.

A skeleton for now (the chat issues fill it in: creation, backfill, from_whatsapp,
from_matrix, receipts, one module each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import EventID, MessageEventContent, RoomID

from ..db import PortalRow

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..user import User


class Portal:
    """A bridged chat, identified by ``(jid, receiver)``."""

    def __init__(self, bridge: WhatsAppBridge, row: PortalRow) -> None:
        self.bridge = bridge
        self.row = row

    @property
    def mxid(self) -> RoomID | None:
        return self.row.mxid

    @property
    def main_intent(self):  # type: ignore[no-untyped-def]
        return self.bridge.az.intent

    has_relay = False

    async def save(self) -> None:
        await self.bridge.tables.portals.upsert(self.row)

    async def handle_matrix_message(
        self, sender: User, message: MessageEventContent, event_id: EventID
    ) -> None:
        self.bridge.log.debug(
            "Portal %s: dropping %s from %s (sending is not implemented yet)",
            self.row.jid,
            event_id,
            sender.mxid,
        )

    def __repr__(self) -> str:
        return f"Portal({self.row.jid!r}, receiver={self.row.receiver!r})"
