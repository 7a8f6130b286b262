"""``create-group``: the Matrix room the command runs in becomes a new WhatsApp group's portal.

As the Go bridge: the group is named after the room, gets its topic and avatar, and its members
are the WhatsApp users whose ghosts are in the room (joined or invited) and the other logged-in
bridge users there; whoever WhatsApp would not add is listed in the reply.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from typing import Any

from mautrix.appservice import IntentAPI
from mautrix.bridge.commands import HelpSection, command_handler
from mautrix.errors import MatrixRequestError
from mautrix.types import ContentURI, EventType, Membership, RoomID

from ..portal.jids import user_jid
from ..portal.membership import AvatarError, avatar_jpeg
from ..portal.metadata import sync_group
from ..session import GroupRequestFailed, ParticipantResult
from .typehint import CommandEvent

SECTION_CHATS = HelpSection("Creating and managing chats", 20, "")  # type: ignore[call-arg]

_FAILED_REASONS = {
    403: "they only accept group invites from their contacts",
    404: "not on WhatsApp",
    409: "already in the group",
}


async def _state(intent: IntentAPI, room_id: RoomID, event_type: EventType, key: str) -> str:
    """One string field of a room's state event ("" when unset or unreadable)."""
    try:
        content: Any = await intent.get_state_event(room_id, event_type)
    except MatrixRequestError:
        return ""
    value = content.get(key) if content is not None else None
    return value if isinstance(value, str) else ""


async def _participants(evt: CommandEvent) -> list[str]:
    """The WhatsApp users of the room's ghosts and of its other logged-in bridge users."""
    bridge, intent = evt.bridge, evt.az.intent
    members = await intent.get_room_members(
        evt.room_id, allowed_memberships=(Membership.JOIN, Membership.INVITE)
    )
    jids: list[str] = []
    for member in members:
        if member in (evt.sender.mxid, intent.mxid):
            continue
        puppet = await bridge.get_puppet(member)
        if puppet is not None:
            jid: str | None = puppet.jid
        else:
            user = await bridge.get_user(member, create=False)
            jid = user_jid(user.wa_jid) if user is not None and user.wa_jid else None
        if jid is not None and jid not in jids:
            jids.append(jid)
    return jids


async def _bot_is_admin(bot: IntentAPI, room_id: RoomID) -> bool:
    """Whether the bot may change the room's power levels (it made the room, or was raised)."""
    try:
        levels = await bot.get_power_levels(room_id, ignore_cache=True)
    except MatrixRequestError:
        return False
    needed = levels.get_event_level(EventType.ROOM_POWER_LEVELS)
    return bool(levels.get_user_level(bot.mxid) >= needed)


def _failures(failed: list[ParticipantResult]) -> str:
    if not failed:
        return ""
    lines = [
        f"* `{r.jid.partition('@')[0]}`: {_FAILED_REASONS.get(r.status, f'error {r.status}')}"
        for r in failed
    ]
    return "\n\nFailed to add some participants:\n" + "\n".join(lines)


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=True,
    management_only=False,
    help_section=SECTION_CHATS,
    help_text="Create a WhatsApp group for the current Matrix room, with the WhatsApp users "
    "invited to it",
    aliases=["create"],
)
async def create_group(evt: CommandEvent) -> None:
    user, bot, room_id = evt.sender, evt.az.intent, evt.room_id
    if evt.portal is not None or await evt.bridge.get_portal(room_id) is not None:
        await evt.reply("This room is already a portal room.")
        return
    session = user.session
    if session is None or not session.is_connected:
        await evt.reply("You're not connected to WhatsApp.")
        return
    name = await _state(bot, room_id, EventType.ROOM_NAME, "name")
    if not name:
        await evt.reply("Please set a name for the room first: WhatsApp groups need one.")
        return
    topic = await _state(bot, room_id, EventType.ROOM_TOPIC, "topic")
    avatar = await _state(bot, room_id, EventType.ROOM_AVATAR, "url")
    participants = await _participants(evt)

    key = "3EB0" + secrets.token_hex(9).upper()
    creations = evt.bridge.portals.group_creations
    done = creations[key] = asyncio.Event()
    try:
        try:
            summary, failed = await session.create_group(name, participants, key)
        except GroupRequestFailed as e:
            await evt.reply(f"Failed to create group: {e}")
            return
        portal = await evt.bridge.portals.get_by_jid(summary.jid, "")
        if portal is None:
            return
        async with portal.create_lock:
            if portal.mxid is not None:
                await evt.reply(f"The group `{summary.jid}` already has another room.")
                return
            portal.row.mxid = room_id
            portal.row.name = name
            portal.row.topic = topic or None
            await portal.save()
    finally:
        done.set()
        creations.pop(key, None)

    problems = []
    if topic:
        try:
            await session.set_group_topic(summary.jid, topic)
        except GroupRequestFailed as e:
            problems.append(f"The topic wasn't set as the group's description: {e}")
    if avatar:
        try:
            jpeg = avatar_jpeg(await bot.download_media(ContentURI(avatar)))
            portal.avatar_id = await session.set_group_photo(summary.jid, jpeg)
            portal.row.avatar_url = ContentURI(avatar)
            await portal.save()
        except (AvatarError, GroupRequestFailed, MatrixRequestError) as e:
            problems.append(f"The avatar wasn't set as the group's picture: {e}")
    await sync_group(portal, user, replace(summary, name=name, topic=topic))
    if not await _bot_is_admin(bot, room_id):
        problems.append(
            "Give the bridge bot power level 100 in this room, so that changes made on "
            "WhatsApp (name, topic, picture, members, admins) can be bridged here."
        )
    extra = _failures(failed) + "".join(f"\n\n{p}" for p in problems)
    await evt.reply(f"Successfully created WhatsApp group `{summary.jid}`{extra}")
