"""Keeping ghosts current from one user's session: names, and avatars in the background.

Every bridge user's session reports the people it knows (address-book names from app state,
push names from messages and history sync, picture changes). Names are applied at once; an
avatar is fetched when a ghost has never had one asked for, or when a ``picture`` notification
names a new picture. Avatar fetches are IQs plus a download, so they go through a queue worked
off one at a time by a task of this user's, never in the session's event dispatch (which must
not wait for the answers it is itself meant to read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .session import BusinessName, ContactEvent, ContactNames, PushNames, UserPictureChanged

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge
    from .puppet import PictureSource, Puppet


class ContactSync:
    """One user's share of ghost upkeep."""

    def __init__(
        self,
        bridge: WhatsAppBridge,
        session: Callable[[], PictureSource | None],
        log: logging.Logger,
    ) -> None:
        self.bridge = bridge
        self._session = session
        self.log = log
        self._pending: dict[str, str | None] = {}  # ghost JID → picture id (None: ask)
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None

    async def handle(self, evt: ContactEvent) -> None:
        """Apply one event; a bad JID or a Matrix failure is logged, never raised."""
        match evt:
            case ContactNames(jid=jid, full_name=full_name, first_name=first_name):
                puppet = await self.bridge.get_puppet_by_jid(jid)
                if puppet is not None:
                    await puppet.update_names(full_name=full_name, first_name=first_name)
                    self._want_first_avatar(puppet)
            case PushNames(names=names):
                for jid, name in names:
                    puppet = await self.bridge.get_puppet_by_jid(jid)
                    if puppet is not None:
                        await puppet.update_names(push_name=name)
                        self._want_first_avatar(puppet)
            case BusinessName(jid=jid, name=name, push_name=push_name):
                puppet = await self.bridge.get_puppet_by_jid(jid)
                if puppet is not None:
                    await puppet.update_names(business_name=name, push_name=push_name)
                    self._want_first_avatar(puppet)
            case UserPictureChanged(jid=jid, picture_id=picture_id):
                puppet = await self.bridge.get_puppet_by_jid(jid)
                if puppet is not None:
                    self.want_avatar(puppet, picture_id)

    def _want_first_avatar(self, puppet: Puppet) -> None:
        if puppet.row.avatar_id is None and puppet.jid not in self._pending:
            self.want_avatar(puppet, None)

    def want_avatar(self, puppet: Puppet, picture_id: str | None = None) -> None:
        """Queue an avatar update (``picture_id`` from a notification; None: ask WhatsApp)."""
        self._pending[puppet.jid] = picture_id
        self._idle.clear()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())

    async def wait_idle(self) -> None:
        """Until every queued avatar update has been tried (tests, the sync command)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Drop the queue and end the worker (logout, shutdown)."""
        self._pending.clear()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._idle.set()

    async def _work(self) -> None:
        while self._pending:
            jid = next(iter(self._pending))
            picture_id = self._pending.pop(jid)
            await self._update_avatar(jid, picture_id)
        self._idle.set()

    async def _update_avatar(self, jid: str, picture_id: str | None) -> None:
        session = self._session()
        if session is None or not session.is_connected:
            self.log.debug("Not connected, the avatar of %s waits for its next mention", jid)
            return
        puppet = await self.bridge.get_puppet_by_jid(jid)
        if puppet is None:
            return
        try:
            await puppet.update_avatar(session, picture_id)
        except Exception as e:
            self.log.warning("Failed to update the avatar of %s: %s", jid, e)
