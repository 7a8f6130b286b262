"""The crypto machine's view of rooms, for :mod:`.encryption` (imported only when encryption
is on: it needs mautrix's crypto, the ``e2be`` extra)."""

from __future__ import annotations

from mautrix.appservice import ASStateStore
from mautrix.crypto import StateStore
from mautrix.types import RoomEncryptionStateEventContent, RoomID, UserID
from mautrix.util.async_db import Database


class RoomStateCryptoStore(StateStore):
    """What the crypto machine asks about rooms, answered from mautrix's room-state cache
    (``mx_room_state``, which records every ``m.room.encryption`` the bridge sees or sends).

    mautrix's own ``PgCryptoStateStore`` reads ``portal.encrypted`` (an attribute and a column
    of mautrix's ``BasePortal``), which this bridge's portals don't have."""

    def __init__(self, db: Database, rooms: ASStateStore) -> None:
        self.db = db
        self.rooms = rooms

    async def is_encrypted(self, room_id: RoomID) -> bool:
        return bool(await self.rooms.is_encrypted(room_id))

    async def get_encryption_info(self, room_id: RoomID) -> RoomEncryptionStateEventContent | None:
        return await self.rooms.get_encryption_info(room_id)

    async def find_shared_rooms(self, user_id: UserID) -> list[RoomID]:
        rows = await self.db.fetch(
            "SELECT profile.room_id FROM mx_user_profile AS profile "
            "JOIN mx_room_state AS state ON state.room_id=profile.room_id "
            "WHERE profile.user_id=$1 AND profile.membership IN ('join', 'invite') "
            "AND state.is_encrypted=true",
            user_id,
        )
        return [RoomID(row["room_id"]) for row in rows]
