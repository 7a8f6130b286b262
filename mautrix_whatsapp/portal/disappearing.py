"""Disappearing messages: the chat's timer, and bridged events redacted when they expire.

WhatsApp's timers run from when a message was *sent* (mautrix-whatsapp's ``after_send``), so
each bridged event that disappears gets its expiry (send time + timer) in the
``disappearing_message`` table as soon as it is in the room; one loop redacts what is due and
sleeps until the next expiry. The table is the truth: the loop starts with the bridge and picks
up what was scheduled before a restart (what expired meanwhile is redacted at once).

The chat's timer (stored on the portal) changes with an explicit timer message (its notice
comes from msgconv), or implicitly when a message carries another timer with a newer
``ephemeralSettingTimestamp`` than the one the portal knows (then a notice says so), as
mautrix-whatsapp does. Messages sent from Matrix in a chat with a timer carry it
(``contextInfo.expiration``) and disappear from Matrix after it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from mautrix.types import EventID, EventType, RoomID

from ..db.disappearing import PortalTimer
from ..msgconv import disappearing_notice
from ..whatsapp.message_builders import unwrap
from ..whatsapp.proto import wa_e2e_pb2
from .jids import user_jid

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..session import MessageReceived
    from .portal import Portal

EXPIRED_REASON = "Message expired"
_EPHEMERAL_SETTING = wa_e2e_pb2.ProtocolMessage.EPHEMERAL_SETTING


class DisappearingLoop:
    """Redacts expired events; :meth:`add` schedules one (durably, then wakes the loop)."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        self.bridge = bridge
        self.table = bridge.tables.disappearing
        self.log = logging.getLogger("mau.disappearing")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def add(self, room_id: RoomID, event_id: EventID, expire_at: int) -> None:
        await self.table.insert(room_id, event_id, expire_at)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._redact_due()
                next_at = await self.table.next_expiry()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("Disappearing messages loop failed; retrying in a minute")
                next_at = int(time.time()) + 60
            self._wake.clear()
            timeout = None if next_at is None else max(0.0, next_at - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _redact_due(self) -> None:
        while rows := await self.table.get_expired(int(time.time())):
            for row in rows:
                portal = await self.bridge.portals.get_by_mxid(row.room_id)
                intent = portal.main_intent if portal is not None else self.bridge.az.intent
                try:
                    await intent.redact(row.room_id, row.event_id, reason=EXPIRED_REASON)
                except Exception as e:
                    # Not retried: an event that can't be redacted now (room gone, no power)
                    # won't be redactable later either.
                    self.log.warning("Couldn't redact expired %s: %s", row.event_id, e)
                await self.table.delete(row.room_id, row.event_id)


def _context_infos(message: wa_e2e_pb2.Message) -> list[wa_e2e_pb2.ContextInfo]:
    """The ``contextInfo`` of each content field (where WhatsApp puts a message's timer)."""
    infos = []
    for _, value in unwrap(message).ListFields():
        if hasattr(value, "contextInfo") and value.HasField("contextInfo"):
            infos.append(value.contextInfo)
    return infos


def timer_of(message: wa_e2e_pb2.Message) -> tuple[int, int]:
    """(the message's own timer in seconds, 0 for none; when its sender last set the chat's
    timer, unix seconds, 0 if unsaid)."""
    for info in _context_infos(message):
        if info.expiration or info.ephemeralSettingTimestamp:
            return info.expiration, info.ephemeralSettingTimestamp
    return 0, 0


def timer_change_of(message: wa_e2e_pb2.Message) -> tuple[int, int] | None:
    """(new timer, set at) when ``message`` changes the chat's timer, else None."""
    message = unwrap(message)
    protocol = message.protocolMessage
    if message.HasField("protocolMessage") and protocol.type == _EPHEMERAL_SETTING:
        return protocol.ephemeralExpiration, protocol.ephemeralSettingTimestamp
    return None


async def after_whatsapp_message(portal: Portal, message: MessageReceived) -> None:
    """Once ``message`` is in the room: follow its timer change, schedule its expiry."""
    table = portal.bridge.tables.disappearing
    current = await table.get_timer(portal.jid, portal.receiver)
    change = timer_change_of(message.message)
    if change is not None:
        seconds, set_at = change
        if not set_at or current.set_at < set_at:
            await table.set_timer(portal.jid, portal.receiver, PortalTimer(seconds, set_at))
        return
    seconds, set_at = timer_of(message.message)
    if seconds != current.seconds and current.set_at < set_at:
        await table.set_timer(portal.jid, portal.receiver, PortalTimer(seconds, set_at))
        await _implicit_notice(portal, seconds)
    if seconds <= 0:
        return
    parts = await portal.bridge.tables.messages.get_parts(
        portal.jid, portal.receiver, user_jid(message.sender), message.id
    )
    expire_at = int(message.timestamp) + seconds
    for part in parts:
        await portal.bridge.disappearing.add(part.mx_room, part.mxid, expire_at)


async def _implicit_notice(portal: Portal, seconds: int) -> None:
    if portal.mxid is None:
        return
    part = disappearing_notice(seconds, implicit=True)
    try:
        await portal.main_intent.send_message_event(
            portal.mxid,
            EventType.ROOM_MESSAGE,
            part.content,  # type: ignore[arg-type]
        )
    except Exception:
        portal.log.warning("Couldn't send the disappearing timer notice", exc_info=True)


async def add_expiration(portal: Portal, message: wa_e2e_pb2.Message) -> int:
    """Give a message going to WhatsApp the chat's timer; returns the timer (0 = none)."""
    timer = await portal.bridge.tables.disappearing.get_timer(portal.jid, portal.receiver)
    if timer.seconds <= 0:
        return 0
    if message.HasField("conversation"):  # plain text has no contextInfo: make it extended
        text = message.conversation
        message.ClearField("conversation")
        message.extendedTextMessage.text = text
    for descriptor, part in unwrap(message).ListFields():
        part_type = descriptor.message_type
        if part_type is not None and "contextInfo" in part_type.fields_by_name:
            part.contextInfo.expiration = timer.seconds
    return timer.seconds


async def after_matrix_message(
    portal: Portal, room_id: RoomID, event_id: EventID, sent_at: float, seconds: int
) -> None:
    """A Matrix message sent with a timer disappears from Matrix when it does on WhatsApp."""
    if seconds > 0:
        await portal.bridge.disappearing.add(room_id, event_id, int(sent_at) + seconds)
