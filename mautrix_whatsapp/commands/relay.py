"""``set-relay`` / ``unset-relay``, with the Go bridge's rules and texts, and the refusal of
every command to ``relay``-level users (they may only talk through a portal's relay).

Who may manage a portal's relay (as mautrix-go's ``canManageRelay``): a bridge admin, the
current relay, or a room member whose power level allows the ``fi.mau.bridge.set_relay`` state
event (WhatsApp group admins have it in their portals). The relay is the sender's own login,
so they must be logged in; in a private chat only its owner can relay.

Overrides mautrix's built-in commands of the same names (registered later, by name).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mautrix.bridge.commands import SECTION_AUTH, command_handler
from mautrix.bridge.commands import CommandEvent as BaseCommandEvent
from mautrix.types import EventID, EventType, RoomID

from ..portal import Portal
from ..portal.jids import user_jid
from ..portal.relay import get_relay_user, set_relay_user
from ..user import User, format_phone
from .typehint import CommandEvent

RELAY_DISABLED = "This bridge does not allow relay mode"
NOT_PORTAL = "You must be in a portal room to use that command"
NO_PERMISSION = "You don't have permission to manage the relay in this room"
NOT_LOGGED_IN = "You're not logged in and there are no default relay users configured"
NOT_OWN_CHAT = "Only the owner of this private chat can relay it"
SAVE_FAILED = "Failed to save relay settings"
RELAY_SET = (
    "Messages sent by users who haven't logged in will now be relayed through "
    "{name} ([{mxid}](https://matrix.to/#/{mxid})'s login)"
)
NO_RELAY = "This portal doesn't have a relay set."
RELAY_UNSET = "Stopped relaying messages for users who haven't logged in"
RELAY_ONLY_COMMANDS = (
    "You don't have permission to use commands: you can only send messages in rooms with a relay."
)

SET_RELAY_EVENT = EventType.find("fi.mau.bridge.set_relay", EventType.Class.STATE)


async def _can_manage_relay(evt: CommandEvent, portal: Portal) -> bool:
    if not evt.sender.is_whitelisted:
        return False
    if evt.sender.is_admin:
        return True
    relay = await get_relay_user(portal)
    if relay is not None and relay.mxid == evt.sender.mxid:
        return True
    try:
        levels = await evt.az.intent.get_power_levels(RoomID(evt.room_id))
    except Exception as e:
        evt.log.warning("Failed to check the power levels of %s: %s", evt.room_id, e)
        return False
    return levels.get_user_level(evt.sender.mxid) >= levels.get_event_level(SET_RELAY_EVENT)


def _relay_portal(evt: CommandEvent) -> Portal | str:
    """The portal the command is about, or why there is none to manage."""
    if not evt.config["bridge.relay.enabled"]:
        return RELAY_DISABLED
    return evt.portal if isinstance(evt.portal, Portal) else NOT_PORTAL


async def _save(evt: CommandEvent, portal: Portal, relay: User | None, done: str) -> EventID:
    try:
        await set_relay_user(portal, relay)
    except Exception:
        evt.log.exception("Failed to save the relay of %s", portal)
        return await evt.reply(SAVE_FAILED)
    return await evt.reply(done)


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    name="set-relay",
    needs_auth=False,
    help_section=SECTION_AUTH,
    help_text="Use your account to relay messages sent by users who haven't logged in",
)
async def set_relay(evt: CommandEvent) -> EventID:
    portal = _relay_portal(evt)
    if isinstance(portal, str):
        return await evt.reply(portal)
    if not await _can_manage_relay(evt, portal):
        return await evt.reply(NO_PERMISSION)
    sender = evt.sender
    if not await sender.is_logged_in() or sender.wa_jid is None:
        return await evt.reply(NOT_LOGGED_IN)
    if not portal.is_group and user_jid(sender.wa_jid) != portal.receiver:
        return await evt.reply(NOT_OWN_CHAT)
    done = RELAY_SET.format(name=format_phone(sender.phone), mxid=sender.mxid)
    return await _save(evt, portal, sender, done)


@command_handler(  # type: ignore[arg-type]
    name="unset-relay",
    needs_auth=False,
    help_section=SECTION_AUTH,
    help_text="Stop relaying messages sent by users who haven't logged in",
)
async def unset_relay(evt: CommandEvent) -> EventID:
    portal = _relay_portal(evt)
    if isinstance(portal, str):
        return await evt.reply(portal)
    if await get_relay_user(portal) is None:
        return await evt.reply(NO_RELAY)
    if not await _can_manage_relay(evt, portal):
        return await evt.reply(NO_PERMISSION)
    return await _save(evt, portal, None, RELAY_UNSET)


Handler = Callable[[BaseCommandEvent], Awaitable[Any]]


async def run_unless_relay_only(handler: Handler, evt: BaseCommandEvent) -> Any:
    """Run a command, unless its sender may only be relayed (``relay`` permission level)."""
    if not evt.sender.is_whitelisted:
        return await evt.reply(RELAY_ONLY_COMMANDS)
    return await handler(evt)
