"""Starting a private chat from Matrix: ``pm +<number>``, or inviting a ghost to a new room.

Both end with the DM portal of the user and the contact. ``pm`` creates its room the usual way
(the ghost creates it, ``is_direct``, the user invited); an invite makes the user's own room the
portal, unless the portal already has a room: then the ghost points there and leaves, as the Go
bridge does. Texts follow the Go bridge (legacy ``commands.go`` ``fnPM``, ``matrix.go``
``CreatePrivatePortal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixError
from mautrix.types import Membership, RoomID, UserID
from mautrix.util import markdown

from ..puppet import InvalidJID, jid_for_ghost_id

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..puppet import Puppet
    from ..user import User
    from .portal import Portal

NOT_LOGGED_IN = (
    "You're not logged into WhatsApp, so this ghost can't start a chat. "
    "Log in with the bridge bot first."
)
NOT_ON_WHATSAPP = "The server said +{phone} is not on WhatsApp"
ALREADY_HAVE_PORTAL = "You already have a private chat portal with me at [{room}]({link})"
PORTAL_CREATED = "Private chat portal created"


class NotOnWhatsApp(LookupError):
    """The number has no WhatsApp account; the text says so."""


class CheckFailed(LookupError):
    """WhatsApp couldn't be asked whether the number has an account; the text says why."""


@dataclass(frozen=True)
class StartedChat:
    portal: Portal
    puppet: Puppet
    created: bool
    """False when the portal already had a room (the user was invited back to it if needed)."""


def room_link(room_id: RoomID) -> str:
    return f"https://matrix.to/#/{room_id}"


async def start_chat(user: User, phone: str) -> StartedChat:
    """The DM portal with ``phone`` (digits), its room made now if it has none.

    Raises :class:`NotOnWhatsApp`, :class:`CheckFailed`, or ``RuntimeError`` when the user
    has no connected session or the room can't be created."""
    session = user.session
    if session is None or not session.is_connected:
        raise RuntimeError("you're not connected to WhatsApp")
    try:
        jid = await session.is_on_whatsapp(phone)
    except Exception as e:
        raise CheckFailed(f"Failed to check if +{phone} is on WhatsApp: {e}") from e
    if jid is None:
        raise NotOnWhatsApp(NOT_ON_WHATSAPP.format(phone=phone))
    puppet = await user.bridge.get_puppet_by_jid(jid)
    portal = await user.get_portal_with(puppet) if puppet is not None else None
    if puppet is None or portal is None:
        raise RuntimeError(f"no private chat can be made with {jid}")
    if portal.mxid is not None:
        await _ensure_invited(portal.main_intent, portal.mxid, user.mxid)
        return StartedChat(portal, puppet, created=False)
    if await portal.ensure_room(user) is None:
        raise RuntimeError("the room could not be created")
    return StartedChat(portal, puppet, created=True)


async def _ensure_invited(intent: IntentAPI, room_id: RoomID, user_id: UserID) -> bool:
    """Invite ``user_id`` back unless they are in the room or invited; False if that failed."""
    try:
        members = await intent.get_room_members(room_id, (Membership.JOIN, Membership.INVITE))
    except MatrixError as e:
        intent.log.debug("Can't read the members of %s: %s", room_id, e)
        return False
    if user_id in members:
        return True
    try:
        await intent.invite_user(room_id, user_id)
    except MatrixError as e:
        intent.log.debug("Can't invite %s to %s: %s", user_id, room_id, e)
        return False
    return True


# ---- a ghost invited to a room ---------------------------------------------------------


def jid_of_ghost(bridge: WhatsAppBridge, ghost: UserID) -> str | None:
    """The WhatsApp user a ghost's Matrix ID stands for (None: not one of our ghosts)."""
    prefix, suffix = bridge.config["bridge.username_template"].split("{userid}", 1)
    localpart, _, server = ghost.removeprefix("@").partition(":")
    if server != bridge.config["homeserver.domain"]:
        return None
    if not localpart.startswith(prefix) or not localpart.endswith(suffix):
        return None
    ghost_id = localpart[len(prefix) : len(localpart) - len(suffix)]
    try:
        return jid_for_ghost_id(ghost_id)
    except InvalidJID:
        return None


async def puppet_for_invite(
    bridge: WhatsAppBridge, room_id: RoomID, ghost: UserID, inviter: User
) -> Puppet | None:
    """The ghost of a number the bridge hasn't met yet, once WhatsApp says it exists.

    Otherwise the ghost rejects the invite with the reason (None is returned): the inviter
    can't ask WhatsApp (not logged in or not connected), or the number has no account."""
    jid = jid_of_ghost(bridge, ghost)
    if jid is None:
        return None
    intent = bridge.az.intent.user(ghost)
    session = inviter.session
    if not await inviter.is_logged_in() or session is None or not session.is_connected:
        await _reject(intent, room_id, NOT_LOGGED_IN)
        return None
    phone, _, server = jid.partition("@")
    if server == "s.whatsapp.net":
        try:
            found = await session.is_on_whatsapp(phone)
        except Exception as e:
            bridge.log.warning("Can't check if +%s is on WhatsApp: %s", phone, e)
            await _reject(intent, room_id, f"Failed to check if +{phone} is on WhatsApp: {e}")
            return None
        if found is None:
            await _reject(intent, room_id, NOT_ON_WHATSAPP.format(phone=phone))
            return None
        jid = found
    return await bridge.get_puppet_by_jid(jid)


async def _reject(intent: IntentAPI, room_id: RoomID, reason: str) -> None:
    """Reject an invite (leave), the reason shown to the inviter; failures only logged."""
    try:
        await intent.leave_room(room_id, reason=reason)
    except MatrixError as e:
        intent.log.debug("Couldn't reject the invite to %s: %s", room_id, e)


async def refuse_invite(puppet: Puppet, room_id: RoomID, reason: str = NOT_LOGGED_IN) -> None:
    """The ghost rejects the invite, with the reason shown to the inviter."""
    await _reject(puppet.intent, room_id, reason)


async def accept_dm_invite(room_id: RoomID, inviter: User, puppet: Puppet) -> None:
    """The invited ghost (already joined) makes the room the DM portal, or points at the
    existing one and leaves."""
    intent = puppet.intent
    portal = await inviter.get_portal_with(puppet)
    if portal is None:  # not logged in
        await _reject(intent, room_id, NOT_LOGGED_IN)
        return
    async with portal.create_lock:
        existing = portal.mxid
        if existing is not None and existing != room_id:
            if await _ensure_invited(portal.main_intent, existing, inviter.mxid):
                text = ALREADY_HAVE_PORTAL.format(room=existing, link=room_link(existing))
                await _notice(intent, room_id, text)
                await _reject(intent, room_id, "You already have a private chat with me")
                return
            portal.log.warning("Can't invite %s to %s, moving the portal", inviter.mxid, existing)
        portal.row.mxid = room_id
        await portal.save()
    portal.log.info("Room %s became the private chat portal (invite from %s)", room_id, inviter)
    await _notice(intent, room_id, PORTAL_CREATED)


async def _notice(intent: IntentAPI, room_id: RoomID, text: str) -> None:
    try:
        await intent.send_notice(room_id, text, html=markdown.render(text))
    except MatrixError as e:
        intent.log.warning("Couldn't send a notice to %s: %s", room_id, e)
