"""Creating a portal's Matrix room, the first time something happens in the chat.

DM rooms are made by the contact's ghost, ``is_direct``, with the user invited (and added to
their ``m.direct`` where the bridge can write it: with double puppeting). Group rooms are made
by the bridge bot with the group's name and topic; WhatsApp admins get moderator power.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.errors import MatrixRequestError
from mautrix.types import Membership, RoomID, UserID

from ..encryption import initial_state, join_bot_to_new_portal
from ..puppet import InvalidJID, ghost_id_for_jid
from ..session import GroupSummary

if TYPE_CHECKING:
    from ..user import User
    from .portal import Portal

ADMIN_LEVEL = 50


async def ensure_room(portal: Portal, source: User) -> RoomID | None:
    """The portal's room, created for ``source`` if needed; ``source`` is invited to an
    existing group room they aren't in (a second bridge user in the same group)."""
    if portal.mxid is not None:
        if portal.is_group:
            await _invite(portal, portal.mxid, source.mxid)
        return portal.mxid
    async with portal.create_lock:
        if portal.mxid is not None:
            return portal.mxid
        try:
            if portal.is_group:
                return await _create_group_room(portal, source)
            return await _create_dm_room(portal, source)
        except Exception:
            portal.log.exception("Failed to create the room for %s", portal)
            return None


async def _invite(portal: Portal, room_id: RoomID, user_id: UserID) -> None:
    membership = await portal.main_intent.state_store.get_membership(room_id, user_id)
    if membership in (Membership.JOIN, Membership.INVITE):
        return
    try:
        await portal.main_intent.invite_user(room_id, user_id, check_cache=True)
    except MatrixRequestError as e:
        portal.log.debug("Didn't invite %s to %s: %s", user_id, room_id, e)


async def _create_dm_room(portal: Portal, source: User) -> RoomID:
    intent = portal.main_intent
    await intent.ensure_registered()
    room_id = await intent.create_room(
        is_direct=True, invitees=[source.mxid], initial_state=initial_state(portal.bridge)
    )
    await _save_room(portal, room_id)
    await join_bot_to_new_portal(portal, room_id)  # ---- encryption ----
    await source.update_direct_chats({intent.mxid: [room_id]})
    return room_id


async def _create_group_room(portal: Portal, source: User) -> RoomID:
    summary = await _group_summary(portal, source)
    portal.row.name = summary.name or None
    portal.row.topic = summary.topic or None
    intent = portal.main_intent
    room_id = await intent.create_room(
        name=portal.row.name,
        topic=portal.row.topic,
        invitees=[source.mxid],
        initial_state=initial_state(portal.bridge),
    )
    await _save_room(portal, room_id)
    if summary.admins:
        # Set after creation rather than as an override: the creator's own level is the room
        # version's business (v12 rooms refuse it in the content, older ones need it there).
        levels = await intent.get_power_levels(room_id)
        for admin in summary.admins:
            levels.set_user_level(UserID(_matrix_id_of(portal, source, admin)), ADMIN_LEVEL)
        await intent.set_power_levels(room_id, levels)
    return room_id


def _matrix_id_of(portal: Portal, source: User, jid: str) -> str:
    """The Matrix user standing for a WhatsApp member: the bridge user for themselves."""
    if source.wa_jid is not None and jid.partition("@")[0] == source.wa_jid.split(":")[0]:
        return source.mxid
    try:
        return portal.bridge.ghost_mxid(ghost_id_for_jid(jid))
    except InvalidJID:
        return jid


async def _group_summary(portal: Portal, source: User) -> GroupSummary:
    """The group's info from WhatsApp; a bare summary if it can't be had (room still made)."""
    session = source.session
    if session is None:
        return GroupSummary(jid=portal.jid)
    try:
        return await session.get_group_info(portal.jid)
    except LookupError as e:
        portal.log.warning("No group info for %s: %s", portal.jid, e)
        return GroupSummary(jid=portal.jid)


async def _save_room(portal: Portal, room_id: RoomID) -> None:
    portal.row.mxid = room_id
    await portal.save()
    portal.log.info("Created room %s for %s", room_id, portal)
