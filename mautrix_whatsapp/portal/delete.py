"""``delete-portal``: empty the room, leave it, and forget the portal and its messages.

As the Go bridge (legacy ``Portal.Cleanup``): ghosts leave, other members are kicked, the
portal's main intent leaves last; the portal row and everything bridged in it are deleted, so
the chat's next message makes a fresh portal and room. A portal shared with other logged-in
Matrix users may only be deleted by bridge admins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.errors import MatrixError
from mautrix.types import Membership, UserID

from ..db.portal_data import delete_portal as delete_portal_rows

if TYPE_CHECKING:
    from ..user import User
    from .portal import Portal

KICK_REASON = "Deleting portal"


async def can_delete(portal: Portal, user: User) -> bool:
    """Admins always; others only when no other logged-in Matrix user is in the room."""
    if user.is_admin:
        return True
    if portal.mxid is None:
        return True
    try:
        members = await portal.main_intent.get_room_members(portal.mxid)
    except MatrixError as e:
        portal.log.warning("Can't read the members of %s: %s", portal.mxid, e)
        return False
    bridge = portal.bridge
    for member in members:
        if member == user.mxid or member == bridge.az.bot_mxid or bridge.is_bridge_ghost(member):
            continue
        other = await bridge.get_user(member, create=False)
        if other is not None and await other.is_logged_in():
            return False
    return True


async def delete_portal(portal: Portal) -> None:
    """Clean the room up (best effort) and delete the portal's rows; runs in the portal's
    queue, after whatever it is doing now."""

    async def delete_rows() -> None:
        await delete_portal_rows(portal.bridge.db, portal.jid, portal.receiver)

    async def job() -> None:
        # Forgotten first: what arrives from now on goes to a new portal, not this room.
        await portal.bridge.portals.forget(portal, delete_rows)
        await _cleanup_room(portal)
        portal.log.info("Deleted the portal (room %s)", portal.mxid)

    await portal.queue.run(job)


async def _cleanup_room(portal: Portal) -> None:
    room_id = portal.mxid
    if room_id is None:
        return
    intent = portal.main_intent
    bridge = portal.bridge
    try:
        members = await intent.get_room_members(room_id, (Membership.JOIN, Membership.INVITE))
    except MatrixError as e:
        portal.log.warning("Can't read the members of %s: %s", room_id, e)
        members = []
    for member in members:
        if member == intent.mxid:
            continue
        try:
            await _remove(portal, member)
        except MatrixError as e:
            portal.log.warning("Couldn't remove %s from %s: %s", member, room_id, e)
    try:
        await intent.leave_room(room_id, reason=KICK_REASON)
    except MatrixError as e:
        portal.log.warning("Couldn't leave %s: %s", room_id, e)
    bridge.log.debug("Cleaned up room %s of %s", room_id, portal)


async def _remove(portal: Portal, member: UserID) -> None:
    """Ghosts and the bot leave on their own; people are kicked."""
    room_id = portal.mxid
    assert room_id is not None
    bridge = portal.bridge
    if member == bridge.az.bot_mxid:
        await bridge.az.intent.leave_room(room_id)
        return
    puppet = await bridge.get_puppet(member)
    if puppet is not None or bridge.is_bridge_ghost(member):
        ghost = puppet.intent if puppet is not None else bridge.az.intent.user(member)
        await ghost.leave_room(room_id)
        return
    await portal.main_intent.kick_user(room_id, member, reason=KICK_REASON)
