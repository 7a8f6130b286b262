"""The user's personal space: a Matrix space per bridge user holding their portals (as
bridgev2's ``personal_filtering_spaces``), made by the bridge bot and
remembered in ``history_progress.space_room``. It is made when the history's portals are, so
a user who never gets any (backfill off) isn't sent an empty space; every portal made after
it is added."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from mautrix.types import EventType, RoomCreatePreset, RoomID

if TYPE_CHECKING:
    from ..user import User

SPACE_NAME = "WhatsApp"
SPACE_TOPIC = "Your WhatsApp chats"


class PersonalSpace:
    def __init__(self, user: User) -> None:
        self.user = user
        self._lock = asyncio.Lock()

    async def room(self) -> RoomID:
        """The space's room, created (with the user invited) the first time."""
        table = self.user.bridge.tables.history
        async with self._lock:
            progress = await table.get_progress(self.user.mxid)
            if progress.space_room:
                return RoomID(progress.space_room)
            room_id = await self.user.az.intent.create_room(
                name=SPACE_NAME,
                topic=SPACE_TOPIC,
                preset=RoomCreatePreset.PRIVATE,
                invitees=[self.user.mxid],
                creation_content={"type": "m.space"},
            )
            progress = await table.get_progress(self.user.mxid)
            progress.space_room = room_id
            await table.put_progress(progress)
            return room_id

    async def existing(self) -> RoomID | None:
        progress = await self.user.bridge.tables.history.get_progress(self.user.mxid)
        return RoomID(progress.space_room) if progress.space_room else None

    async def add(self, portal_room: RoomID) -> None:
        """List a portal in the space, if the user has one yet (best effort: a portal works
        without its space). The space is made with the first portals from the history."""
        try:
            space = await self.existing()
            if space is None:
                return
            child: Any = {"via": [self.user.az.domain]}
            await self.user.az.intent.send_state_event(
                space, EventType.SPACE_CHILD, child, state_key=portal_room
            )
        except Exception:
            self.user.log.warning(
                "Failed to add %s to the personal space", portal_room, exc_info=True
            )
