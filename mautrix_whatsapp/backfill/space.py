"""The user's personal space: a Matrix space per bridge user holding their portals (as
bridgev2's ``personal_filtering_spaces``), made by the bridge bot on the first portal and
remembered in ``history_progress.space_room``."""

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

    async def add(self, portal_room: RoomID) -> None:
        """List a portal in the space (best effort: a portal works without its space)."""
        try:
            space = await self.room()
            child: Any = {"via": [self.user.az.domain]}
            await self.user.az.intent.send_state_event(
                space, EventType.SPACE_CHILD, child, state_key=portal_room
            )
        except Exception:
            self.user.log.warning(
                "Failed to add %s to the personal space", portal_room, exc_info=True
            )
