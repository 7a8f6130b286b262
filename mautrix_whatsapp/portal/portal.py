"""The Portal object and the registry that keeps one per chat.

A portal is identified by ``(jid, receiver)``: the contact's JID and the owning user's JID for
a DM, the group JID and ``""`` for a group (shared by every bridge user in it). The registry
caches portals so each has exactly one queue, whichever way it was looked up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from mautrix.appservice import IntentAPI
from mautrix.types import Event, EventID, MessageEventContent, RoomID

from ..db import PortalRow
from .convert import FromMatrixConverter, ToMatrixConverter
from .converters import MsgconvToMatrix, MsgconvToWhatsApp
from .creation import ensure_room
from .from_matrix import handle_message as send_to_whatsapp
from .from_whatsapp import handle_message as bridge_to_matrix
from .queue import PortalQueue
from .relation_events import handle_matrix_event as handle_relation_event

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..session import MessageReceived
    from ..user import User


class Portal:
    """A bridged chat: its row, its room (once created) and its one ordered queue."""

    def __init__(
        self,
        bridge: WhatsAppBridge,
        row: PortalRow,
        to_matrix: ToMatrixConverter,
        from_matrix: FromMatrixConverter,
    ) -> None:
        self.bridge = bridge
        self.row = row
        self.to_matrix = to_matrix
        self.from_matrix = from_matrix
        self.log = logging.getLogger("mau.portal").getChild(row.jid)
        self.queue = PortalQueue(self.log)
        self.main_intent: IntentAPI = bridge.az.intent
        self.create_lock = asyncio.Lock()

    async def postinit(self) -> None:
        """A DM room belongs to the contact's ghost (as in mautrix bridges); groups to the bot."""
        if not self.is_group:
            puppet = await self.bridge.get_puppet_by_jid(self.row.jid)
            if puppet is not None:
                self.main_intent = puppet.intent

    @property
    def mxid(self) -> RoomID | None:
        return self.row.mxid

    @property
    def jid(self) -> str:
        return self.row.jid

    @property
    def receiver(self) -> str:
        return self.row.receiver

    @property
    def is_group(self) -> bool:
        return self.row.receiver == ""

    async def save(self) -> None:
        await self.bridge.tables.portals.upsert(self.row)

    # ---- entry points (both go through the queue) --------------------------------------

    def handle_whatsapp_message(self, source: User, message: MessageReceived) -> None:
        """Queue a received message; returns at once (the client's loop isn't held up)."""

        async def job() -> None:
            await bridge_to_matrix(self, source, message)

        self.queue.submit(job)

    async def handle_matrix_message(
        self, sender: User, message: MessageEventContent, event_id: EventID
    ) -> None:
        """Send a Matrix message to WhatsApp, in order with everything else of this chat."""

        async def job() -> None:
            await send_to_whatsapp(self, sender, message, event_id)

        await self.queue.run(job)

    async def ensure_room(self, source: User) -> RoomID | None:
        """The portal's room, created now if it has none (None if creation failed)."""
        return await ensure_room(self, source)

    def __repr__(self) -> str:
        return f"Portal({self.row.jid!r}, receiver={self.row.receiver!r})"

    # ---- relations ----

    async def handle_matrix_relation(self, sender: User, evt: Event) -> None:
        """A Matrix reaction, redaction or poll event, in order with the chat's messages."""

        async def job() -> None:
            await handle_relation_event(self, sender, evt)

        await self.queue.run(job)


class PortalRegistry:
    """The bridge's portals, loaded from the DB on first use and kept (one object each)."""

    def __init__(
        self,
        bridge: WhatsAppBridge,
        to_matrix: ToMatrixConverter | None = None,
        from_matrix: FromMatrixConverter | None = None,
    ) -> None:
        self.bridge = bridge
        self.to_matrix: ToMatrixConverter = to_matrix or MsgconvToMatrix()
        self.from_matrix: FromMatrixConverter = from_matrix or MsgconvToWhatsApp()
        self._by_key: dict[tuple[str, str], Portal] = {}
        self._lock = asyncio.Lock()

    async def _load(self, row: PortalRow) -> Portal:
        key = (row.jid, row.receiver)
        portal = self._by_key.get(key)
        if portal is None:
            portal = Portal(self.bridge, row, self.to_matrix, self.from_matrix)
            await portal.postinit()
            self._by_key[key] = portal
        return portal

    async def get_by_jid(self, jid: str, receiver: str, create: bool = True) -> Portal | None:
        """The portal for ``(jid, receiver)`` (a DB row made when ``create``; no room yet)."""
        async with self._lock:
            portal = self._by_key.get((jid, receiver))
            if portal is not None:
                return portal
            row = await self.bridge.tables.portals.get_by_jid(jid, receiver)
            if row is None:
                if not create:
                    return None
                row = PortalRow(jid=jid, receiver=receiver)
                await self.bridge.tables.portals.upsert(row)
            return await self._load(row)

    async def get_by_mxid(self, room_id: RoomID) -> Portal | None:
        """The portal of a room (the DB's index finds the key; the cache the object)."""
        async with self._lock:
            row = await self.bridge.tables.portals.get_by_mxid(room_id)
            return await self._load(row) if row is not None else None

    async def stop(self) -> None:
        """Stop every portal's queue (bridge shutdown)."""
        await asyncio.gather(*(p.queue.stop() for p in self._by_key.values()))
