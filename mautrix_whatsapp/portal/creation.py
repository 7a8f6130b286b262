"""Creating a portal's Matrix room, the first time something happens in the chat.

DM rooms are made by the contact's ghost, ``is_direct``, with the user invited (and added to
their ``m.direct`` where the bridge can write it: with double puppeting, whose account also
accepts the invite, in group rooms too). Group rooms are made
by the bridge bot with the group's name and topic, then brought up to date with the group
(members, avatar, admins' power) by :mod:`.metadata`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import RoomID

from .. import double_puppet
from ..backfill.backfill import room_created
from ..encryption import initial_state, join_bot_to_new_portal
from ..session import GroupSummary
from .metadata import group_summary, invite_real_user, sync_group

if TYPE_CHECKING:
    from ..user import User
    from .portal import Portal


async def ensure_room(portal: Portal, source: User) -> RoomID | None:
    """The portal's room, created for ``source`` if needed; ``source`` is invited to an
    existing group room they aren't in (a second bridge user in the same group)."""
    if portal.mxid is not None:
        if portal.is_group:
            await invite_real_user(portal, portal.mxid, source.mxid)
            await double_puppet.join_room(portal.bridge, source, portal.mxid, portal.main_intent)
        return portal.mxid
    async with portal.create_lock:
        if portal.mxid is not None:
            return portal.mxid
        try:
            if portal.is_group:
                room_id = await _create_group_room(portal, source)
            else:
                room_id = await _create_dm_room(portal, source)
        except Exception:
            portal.log.exception("Failed to create the room for %s", portal)
            return None
    await room_created(portal, source)  # ---- backfill ----: stored history first
    return room_id


async def _create_dm_room(portal: Portal, source: User) -> RoomID:
    intent = portal.main_intent
    await intent.ensure_registered()
    room_id = await intent.create_room(
        is_direct=True, invitees=[source.mxid], initial_state=initial_state(portal.bridge)
    )
    await _save_room(portal, room_id)
    await join_bot_to_new_portal(portal, room_id)  # ---- encryption ----
    await double_puppet.join_room(portal.bridge, source, room_id, intent)  # ---- double puppet
    await source.update_direct_chats({intent.mxid: [room_id]})
    return room_id


async def _create_group_room(portal: Portal, source: User) -> RoomID:
    """The bot makes the room with the group's name, topic and rules, then the members'
    ghosts join and admins get their level (:func:`.metadata.sync_group`)."""
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
    await double_puppet.join_room(portal.bridge, source, room_id, intent)  # ---- double puppet
    # Levels are set after creation rather than as an override: the creator's own level is
    # the room version's business (v12 rooms refuse it in the content, older ones need it).
    await sync_group(portal, source, summary)
    return room_id


async def _group_summary(portal: Portal, source: User) -> GroupSummary:
    """The group's info from WhatsApp; a bare summary if it can't be had (room still made)."""
    summary = await group_summary(portal, source)
    return summary if summary is not None else GroupSummary(jid=portal.jid)


async def _save_room(portal: Portal, room_id: RoomID) -> None:
    portal.row.mxid = room_id
    await portal.save()
    portal.log.info("Created room %s for %s", room_id, portal)
