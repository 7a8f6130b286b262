"""The status broadcast room: contacts' WhatsApp statuses (``status@broadcast``).

Off by default (``bridge.enable_status_broadcast``): statuses are then dropped. When on, each
user gets one room, "WhatsApp Status Broadcast", made by the bridge bot, where every status
appears from its author's ghost. mautrix-whatsapp mutes the room and tags it low priority in
the user's account; that needs the user's own Matrix account (double puppeting), so here the
room is made and the user's settings are left for then (:func:`_user_local_settings`).
Sending from Matrix to the room is refused while ``bridge.disable_status_broadcast_send`` is
true (the default): a message there would be a status seen by every contact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import RoomID

from ..session import SendFailed

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..user import User
    from .portal import Portal

STATUS_BROADCAST_JID = "status@broadcast"
NAME = "WhatsApp Status Broadcast"
TOPIC = "WhatsApp status updates from your contacts"


def is_status_broadcast(jid: str) -> bool:
    return jid == STATUS_BROADCAST_JID


def enabled(bridge: WhatsAppBridge) -> bool:
    return bool(bridge.config["bridge.enable_status_broadcast"])


def check_send(portal: Portal) -> None:
    """Raise :class:`SendFailed` for a message to the status room while sending is off."""
    if (
        is_status_broadcast(portal.jid)
        and portal.bridge.config["bridge.disable_status_broadcast_send"]
    ):
        raise SendFailed("sending status broadcasts is disabled on this bridge")


async def ensure_room(portal: Portal, source: User) -> RoomID | None:
    """The status room, made by the bot with its name and topic (not a DM: no ghost owns it)."""
    if portal.mxid is not None:
        return portal.mxid
    async with portal.create_lock:
        if portal.mxid is not None:
            return portal.mxid
        try:
            room_id = await portal.main_intent.create_room(
                name=NAME, topic=TOPIC, invitees=[source.mxid]
            )
        except Exception:
            portal.log.exception("Failed to create the status broadcast room")
            return None
        portal.row.mxid = room_id
        portal.row.name = NAME
        portal.row.topic = TOPIC
        await portal.save()
        portal.log.info("Created status broadcast room %s for %s", room_id, source.mxid)
        await _user_local_settings(portal, source, room_id)
        return room_id


async def _user_local_settings(portal: Portal, source: User, room_id: RoomID) -> None:
    """Mute and tag the room in the user's account (needs double puppeting; not yet)."""
    portal.log.debug("Not muting %s for %s: no double puppet", room_id, source.mxid)
