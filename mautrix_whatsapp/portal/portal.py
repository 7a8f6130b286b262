"""The Portal object and the registry that keeps one per chat.

A portal is identified by ``(jid, receiver)``: the contact's JID and the owning user's JID for
a DM, the group JID and ``""`` for a group (shared by every bridge user in it). The registry
caches portals so each has exactly one queue, whichever way it was looked up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING

from mautrix.appservice import IntentAPI
from mautrix.types import Event, EventID, MessageEventContent, RoomID

from ..db import PortalRow
from .convert import FromMatrixConverter, ToMatrixConverter
from .converters import MsgconvToMatrix, MsgconvToWhatsApp
from .creation import ensure_room
from .from_matrix import handle_message as send_to_whatsapp
from .from_whatsapp import handle_message as bridge_to_matrix
from .membership import handle_matrix_invite as add_invited_ghost
from .pending import accept as keep_and_queue
from .queue import PortalQueue
from .receipts import handle_call_offer, handle_matrix_receipt, handle_whatsapp_receipt
from .relation_events import handle_matrix_event as handle_relation_event
from .typing import handle_whatsapp_typing, send_typing

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..puppet import Puppet
    from ..session import CallOffer, ChatTyping, MessageReceived, ReceiptReceived
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
        self.uncertain_sends: set[str] = set()
        """Transaction ids whose send failed in an outage (see :mod:`.matrix_send`)."""

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

    # ---- receipts ----

    def handle_whatsapp_receipt(self, source: User, receipt: ReceiptReceived) -> None:
        """Queued behind the messages it is about, so their events exist when it's handled."""

        async def job() -> None:
            await handle_whatsapp_receipt(self, source, receipt)

        self.queue.submit(job)

    async def handle_whatsapp_typing(self, typing: ChatTyping) -> None:
        await handle_whatsapp_typing(self, typing)

    def handle_whatsapp_call(self, source: User, call: CallOffer) -> None:
        async def job() -> None:
            await handle_call_offer(self, source, call)

        self.queue.submit(job)

    async def handle_matrix_read_receipt(self, user: User, event_id: EventID) -> None:
        await handle_matrix_receipt(self, user, event_id)

    async def handle_matrix_typing(self, user: User, typing: bool) -> None:
        await send_typing(self, user, typing)

    async def schedule_disappearing(self) -> None:
        """mautrix calls this on every Matrix read receipt (for timers that start when read).
        WhatsApp's timers start when a message is sent: nothing to start here."""

    # ---- groups ----

    avatar_id: str | None = None
    """The WhatsApp id of the group picture the room shows ("" none, None not yet known)."""

    async def handle_matrix_invite(self, invited_by: User, puppet: Puppet) -> None:
        """A ghost invited into the room (mautrix calls this): added to the WhatsApp group;
        raises RejectMatrixInvite with WhatsApp's reason (the ghost then leaves)."""
        await add_invited_ghost(self, invited_by, puppet)

    # ---- crash safety ----

    async def accept_whatsapp_message(self, source: User, message: MessageReceived) -> None:
        """Keep a received message in the database and queue it (:mod:`.pending`): once
        this returns, WhatsApp may be told we have it. Raises if it could not be kept."""
        await keep_and_queue(self, source, message)


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

    # ---- groups ----

    @cached_property
    def group_creations(self) -> dict[str, asyncio.Event]:
        """Create keys of groups the ``create-group`` command is making right now, set once
        the room it ran in is the portal: their JoinedGroup waits for that rather than make
        a second room (see :mod:`.metadata`)."""
        return {}

    # ---- dms ----

    async def forget(self, portal: Portal, delete_rows: Callable[[], Awaitable[None]]) -> None:
        """Delete a portal's rows and drop it from the cache in one step: the chat's next
        lookup makes a new portal, and never finds the old one or its room."""
        async with self._lock:
            await delete_rows()
            key = (portal.jid, portal.receiver)
            if self._by_key.get(key) is portal:
                del self._by_key[key]
