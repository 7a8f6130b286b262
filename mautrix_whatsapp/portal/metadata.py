"""WhatsApp → Matrix for groups: a portal's room kept in step with its WhatsApp group.

:func:`sync_group` brings a room up to date with a :class:`~..session.GroupSummary` (name,
topic, picture, members, power levels); it is what room creation, joining a group and a
``sync groups`` command use. :func:`apply_change` and :func:`apply_picture` bridge one change as
it happens, from the ghost of whoever made it where that ghost may (the bridge bot otherwise).

Every step compares with what the room already has, so the same change reported by the
sessions of two bridge users in one group is bridged once. Power levels follow the Go bridge:
WhatsApp admins 50, everyone else 0; ``announce`` raises sending to 50, ``locked`` the name,
topic and avatar.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from mautrix.appservice import IntentAPI
from mautrix.errors import IntentError, MatrixError
from mautrix.types import (
    ContentURI,
    EventType,
    Membership,
    PowerLevelStateEventContent,
    RoomID,
    UserID,
)

from ..puppet import InvalidJID, ghost_id_for_jid
from ..session import GroupChanged, GroupPictureChanged, GroupSummary, JoinedGroup
from .jids import user_jid

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..user import User
    from .portal import Portal

log = logging.getLogger("mau.portal.groups")

ADMIN_LEVEL = 50
METADATA_EVENTS = (EventType.ROOM_NAME, EventType.ROOM_TOPIC, EventType.ROOM_AVATAR)
REMOVED_REASON = "You were removed from the WhatsApp group"
LEFT_REASON = "You left the WhatsApp group"

GroupEvent = GroupChanged | JoinedGroup | GroupPictureChanged

OWN_CREATION_WAIT = 60.0


# ---- entry point from the user's session -------------------------------------------------


async def handle_group_event(source: User, evt: GroupEvent) -> None:
    """Queue a group event on its portal (made, without a room, when we joined the group)."""
    create = isinstance(evt, JoinedGroup)
    portal = await source.bridge.portals.get_by_jid(user_jid(evt.jid), "", create=create)
    if portal is None:
        return

    async def job() -> None:
        match evt:
            case JoinedGroup():
                await joined_group(portal, source, evt)
            case GroupChanged():
                await apply_change(portal, source, evt)
            case GroupPictureChanged():
                await apply_picture(portal, source, evt)

    portal.queue.submit(job)


async def joined_group(portal: Portal, source: User, evt: JoinedGroup) -> None:
    """The user is in a (new to them) group: its room is made, or they are invited to it."""
    creations = portal.bridge.portals.group_creations
    made_here = creations.get(evt.create_key) if evt.create_key else None
    if made_here is not None:
        # The command syncs the group itself once its room is the portal (this event's info
        # predates the topic and picture it sets); others in the group are just invited.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(made_here.wait(), OWN_CREATION_WAIT)
        if portal.mxid is not None:
            await portal.ensure_room(source)
            return
    if portal.mxid is None:
        await portal.ensure_room(source)  # creation syncs the whole group
        return
    await portal.ensure_room(source)  # invites the user to the existing room
    info = evt.info or await group_summary(portal, source)
    if info is not None:
        await sync_group(portal, source, info)


async def group_summary(portal: Portal, source: User) -> GroupSummary | None:
    session = source.session
    if session is None:
        return None
    try:
        return await session.get_group_info(portal.jid)
    except LookupError as e:
        portal.log.warning("No group info for %s: %s", portal.jid, e)
        return None


# ---- who is who ----------------------------------------------------------------------------


class Members:
    """Maps WhatsApp members to Matrix users: logged-in bridge users are themselves (by phone
    number), everyone else is their ghost."""

    def __init__(self, bridge: WhatsAppBridge, users_by_phone: dict[str, UserID]) -> None:
        self.bridge = bridge
        self.users_by_phone = users_by_phone

    @classmethod
    async def load(cls, bridge: WhatsAppBridge) -> Members:
        rows = await bridge.tables.users.all_logged_in()
        return cls(bridge, {row.phone: row.mxid for row in rows if row.phone})

    def bridge_user(self, jid: str) -> UserID | None:
        user, _, server = user_jid(jid).partition("@")
        return self.users_by_phone.get(user) if server == "s.whatsapp.net" else None

    def mxid(self, jid: str) -> UserID | None:
        """The Matrix user standing for ``jid`` (None for a JID no ghost can have)."""
        real = self.bridge_user(jid)
        if real is not None:
            return real
        try:
            return self.bridge.ghost_mxid(ghost_id_for_jid(jid))
        except InvalidJID:
            return None

    async def intent(self, jid: str) -> IntentAPI | None:
        """The ghost's intent for ``jid`` (None for bridge users and unknown JIDs)."""
        if not jid or self.bridge_user(jid) is not None:
            return None
        puppet = await self.bridge.get_puppet_by_jid(jid)
        return puppet.intent if puppet is not None else None


# ---- the whole group at once ---------------------------------------------------------------


async def sync_group(portal: Portal, source: User, info: GroupSummary) -> None:
    """Bring the portal's room up to date with ``info``: name, topic, avatar, members and
    power levels (a room-less portal is left alone)."""
    room_id = portal.mxid
    if room_id is None:
        return
    members = await Members.load(portal.bridge)
    await set_name(portal, room_id, info.name, None)
    await set_topic(portal, room_id, info.topic, None)
    await sync_avatar(portal, source, None)
    for jid in info.members:
        await add_member(portal, room_id, members, jid)
    await sync_power_levels(
        portal,
        room_id,
        members,
        admins=info.admins,
        others=[m for m in info.members if m not in info.admins],
        announce=info.announce,
        locked=info.locked,
    )


async def add_member(portal: Portal, room_id: RoomID, members: Members, jid: str) -> None:
    """A ghost joins the room; a bridge user is invited to it."""
    real = members.bridge_user(jid)
    if real is not None:
        await invite_real_user(portal, room_id, real)
        return
    intent = await members.intent(jid)
    if intent is None:
        portal.log.debug("No ghost for group member %s", jid)
        return
    try:
        await intent.ensure_joined(room_id, bot=portal.main_intent)
    except (MatrixError, IntentError) as e:
        portal.log.warning("%s couldn't join %s: %s", intent.mxid, room_id, e)


async def invite_real_user(portal: Portal, room_id: RoomID, user_id: UserID) -> None:
    """Invite a Matrix user (a bridge user in the group) unless they're in or invited."""
    membership = await portal.main_intent.state_store.get_membership(room_id, user_id)
    if membership in (Membership.JOIN, Membership.INVITE):
        return
    try:
        await portal.main_intent.invite_user(room_id, user_id, check_cache=True)
    except (MatrixError, IntentError) as e:
        portal.log.debug("Didn't invite %s to %s: %s", user_id, room_id, e)


# ---- one change at a time ------------------------------------------------------------------


async def apply_change(portal: Portal, source: User, change: GroupChanged) -> None:
    """Bridge one ``w:gp2`` change into the room (nothing before the room exists)."""
    room_id = portal.mxid
    if room_id is None:
        return
    members = await Members.load(portal.bridge)
    actor = await members.intent(change.sender)
    if change.name is not None:
        await set_name(portal, room_id, change.name, actor)
    if change.topic is not None:
        await set_topic(portal, room_id, change.topic, actor)
    for jid in change.join:
        await add_member(portal, room_id, members, jid)
    for jid in change.leave:
        await remove_member(portal, room_id, members, jid, change.sender, actor)
    if change.promote or change.demote or change.announce is not None or change.locked is not None:
        await sync_power_levels(
            portal,
            room_id,
            members,
            admins=change.promote,
            others=change.demote,
            announce=change.announce,
            locked=change.locked,
        )


async def remove_member(
    portal: Portal,
    room_id: RoomID,
    members: Members,
    jid: str,
    sender: str,
    actor: IntentAPI | None,
) -> None:
    """Someone left (``jid == sender``) or was removed: their ghost leaves or is kicked by the
    remover's ghost (the bot if it may not); a bridge user is kicked with the reason."""
    target = members.mxid(jid)
    if target is None:
        return
    left = user_jid(jid) == user_jid(sender) if sender else False
    membership = await portal.main_intent.state_store.get_membership(room_id, target)
    if membership not in (Membership.JOIN, Membership.INVITE, None):
        return
    real = members.bridge_user(jid)
    if real is not None:
        reason = LEFT_REASON if left else REMOVED_REASON
        await _kick(portal, room_id, target, reason, [portal.main_intent])
        return
    if left:
        intent = await members.intent(jid)
        if intent is not None:
            try:
                await intent.leave_room(room_id)
                return
            except (MatrixError, IntentError) as e:
                portal.log.debug("%s couldn't leave %s: %s", target, room_id, e)
    kickers = [a for a in (actor, portal.main_intent) if a is not None]
    await _kick(portal, room_id, target, "" if left else "Removed on WhatsApp", kickers)


async def _kick(
    portal: Portal, room_id: RoomID, target: UserID, reason: str, kickers: list[IntentAPI]
) -> None:
    for intent in kickers:
        try:
            await intent.kick_user(room_id, target, reason)
            return
        except (MatrixError, IntentError) as e:
            portal.log.debug("%s couldn't kick %s: %s", intent.mxid, target, e)
    portal.log.warning("Nobody could remove %s from %s", target, room_id)


async def _as_actor(
    portal: Portal,
    actor: IntentAPI | None,
    what: str,
    call: Callable[[IntentAPI], Awaitable[object]],
) -> None:
    """Do it as the actor's ghost (joined first); as the bot when the ghost may not."""
    intents = [a for a in (actor, portal.main_intent) if a is not None]
    for intent in intents:
        try:
            if intent is not portal.main_intent and portal.mxid is not None:
                await intent.ensure_joined(portal.mxid, bot=portal.main_intent)
            await call(intent)
            return
        except (MatrixError, IntentError) as e:
            portal.log.debug("%s couldn't set the %s: %s", intent.mxid, what, e)
    portal.log.warning("Couldn't set the %s of %s", what, portal.mxid)


async def set_name(portal: Portal, room_id: RoomID, name: str, actor: IntentAPI | None) -> None:
    await _set_text(portal, room_id, "name", name, actor)


async def set_topic(portal: Portal, room_id: RoomID, topic: str, actor: IntentAPI | None) -> None:
    await _set_text(portal, room_id, "topic", topic, actor)


async def _set_text(
    portal: Portal, room_id: RoomID, field: str, value: str, actor: IntentAPI | None
) -> None:
    """The room's name or topic (``field``) becomes ``value`` unless it already is."""
    if (getattr(portal.row, field) or "") == value:
        return
    setattr(portal.row, field, value or None)
    await portal.save()
    if field == "name":
        await _as_actor(portal, actor, field, lambda i: i.set_room_name(room_id, value))
    else:
        await _as_actor(portal, actor, field, lambda i: i.set_room_topic(room_id, value))


async def apply_picture(portal: Portal, source: User, change: GroupPictureChanged) -> None:
    if portal.mxid is None or change.picture_id == portal.avatar_id:
        return
    members = await Members.load(portal.bridge)
    await sync_avatar(portal, source, await members.intent(change.sender), change.picture_id)


async def sync_avatar(
    portal: Portal, source: User, actor: IntentAPI | None, picture_id: str | None = None
) -> None:
    """The room's avatar becomes the group's picture (uploaded once per picture id)."""
    room_id, session = portal.mxid, source.session
    if room_id is None or session is None:
        return
    if picture_id == "":
        picture = None
    else:
        try:
            picture = await session.get_profile_picture(portal.jid, existing_id=portal.avatar_id)
        except Exception as e:
            portal.log.warning("Couldn't get the picture of %s: %s", portal.jid, e)
            return
    if picture is None:
        if portal.avatar_id == "" or (portal.avatar_id is None and not portal.row.avatar_url):
            portal.avatar_id = ""
            return
        new_id, mxc = "", ContentURI("")
    elif picture.data is None or picture.id == portal.avatar_id:
        return
    else:
        new_id = picture.id
        mxc = await portal.main_intent.upload_media(
            picture.data, mime_type="image/jpeg", filename="avatar.jpg"
        )
    portal.avatar_id = new_id
    portal.row.avatar_url = mxc or None
    await portal.save()
    await _as_actor(portal, actor, "avatar", lambda i: i.set_room_avatar(room_id, mxc))


# ---- power levels --------------------------------------------------------------------------


def group_levels(
    levels: PowerLevelStateEventContent,
    admins: Iterable[UserID],
    others: Iterable[UserID],
    announce: bool | None = None,
    locked: bool | None = None,
) -> bool:
    """Change ``levels`` in place to the group's rules; returns whether anything changed."""
    before = levels.serialize()
    for user_id in admins:
        if levels.get_user_level(user_id) < ADMIN_LEVEL:
            levels.set_user_level(user_id, ADMIN_LEVEL)
    for user_id in others:
        if levels.users.get(user_id, 0) <= ADMIN_LEVEL and user_id in levels.users:
            del levels.users[user_id]
    if announce is not None:
        levels.events_default = ADMIN_LEVEL if announce else 0
    if locked is not None:
        for event_type in METADATA_EVENTS:
            levels.events[event_type] = ADMIN_LEVEL if locked else 0
    # Admins may promote and demote from Matrix (bridged as such) and kick (removal).
    levels.events[EventType.ROOM_POWER_LEVELS] = ADMIN_LEVEL
    levels.kick = ADMIN_LEVEL
    levels.invite = 0
    return bool(levels.serialize() != before)


async def sync_power_levels(
    portal: Portal,
    room_id: RoomID,
    members: Members,
    *,
    admins: Iterable[str],
    others: Iterable[str],
    announce: bool | None = None,
    locked: bool | None = None,
) -> None:
    admin_ids = [m for m in (members.mxid(j) for j in admins) if m is not None]
    other_ids = [m for m in (members.mxid(j) for j in others) if m is not None]
    intent = portal.main_intent
    try:
        levels = await intent.get_power_levels(room_id, ignore_cache=True)
        if group_levels(levels, admin_ids, other_ids, announce, locked):
            await intent.set_power_levels(room_id, levels)
    except (MatrixError, IntentError) as e:
        portal.log.warning("Couldn't update the power levels of %s: %s", room_id, e)
