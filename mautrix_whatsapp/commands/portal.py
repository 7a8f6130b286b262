"""``pm``, ``sync`` and ``delete-portal``: starting chats and managing portals (texts as the
Go bridge's legacy ``commands.go``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from mautrix.bridge.commands import HelpSection, command_handler

from ..portal.delete import can_delete
from ..portal.delete import delete_portal as delete_portal_and_room
from ..portal.dm import CheckFailed, NotOnWhatsApp, room_link, start_chat
from ..portal.sync import sync_contacts, sync_groups
from ..session import InvalidPhoneNumber, normalize_phone
from .typehint import CommandEvent

if TYPE_CHECKING:
    from ..portal import Portal

SECTION_CREATING_PORTALS = HelpSection("Creating portals", 20, "")  # type: ignore[call-arg]
SECTION_PORTAL_MANAGEMENT = HelpSection("Portal management", 25, "")  # type: ignore[call-arg]
SECTION_MISCELLANEOUS = HelpSection("Miscellaneous", 30, "")  # type: ignore[call-arg]

PM_USAGE = "**Usage:** `$cmdprefix+sp pm <international phone number>`"
SYNC_USAGE = "**Usage:** `$cmdprefix+sp sync <contacts/groups>`"
NOT_CONNECTED = "You're not connected to WhatsApp. Use `$cmdprefix+sp reconnect` to reconnect."


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=True,
    help_section=SECTION_CREATING_PORTALS,
    help_text="Open a private chat with the given phone number.",
    help_args="<_international phone number_>",
)
async def pm(evt: CommandEvent) -> None:
    if not evt.args or not "".join(evt.args):
        await evt.reply(PM_USAGE)
        return
    try:
        phone = normalize_phone(" ".join(evt.args))
    except InvalidPhoneNumber as e:
        await evt.reply(str(e))
        return
    session = evt.sender.session
    if session is None or not session.is_connected:
        await evt.reply(NOT_CONNECTED)
        return
    try:
        started = await start_chat(evt.sender, phone)
    except (NotOnWhatsApp, CheckFailed) as e:
        await evt.reply(str(e))
        return
    except RuntimeError as e:
        await evt.reply(f"Failed to create portal room: {e}")
        return
    room = started.portal.mxid
    assert room is not None
    if started.created:
        await evt.reply(
            f"Created portal room with +{phone} and invited you to it: [{room}]({room_link(room)})"
        )
    else:
        name = started.puppet.displayname or f"+{phone}"
        await evt.reply(
            f"You already have a private chat portal with +{phone} at [{name}]({room_link(room)})"
        )


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=True,
    help_section=SECTION_MISCELLANEOUS,
    help_text="Synchronize data from WhatsApp.",
    help_args="<contacts/groups>",
)
async def sync(evt: CommandEvent) -> None:
    words = {word.lower() for word in evt.args if word}
    contacts, groups = "contacts" in words, "groups" in words
    if (not contacts and not groups) or words - {"contacts", "groups"}:
        await evt.reply(SYNC_USAGE)
        return
    session = evt.sender.session
    if session is None or not session.is_connected:
        await evt.reply(NOT_CONNECTED)
        return
    if contacts:
        try:
            await sync_contacts(evt.sender)
        except Exception as e:
            evt.sender.log.exception("Contact sync failed")
            await evt.reply(f"Error resyncing contacts: {e}")
        else:
            await evt.reply("Resynced contacts")
    if groups:
        try:
            result = await sync_groups(evt.sender)
        except (RuntimeError, LookupError) as e:
            await evt.reply(f"Error resyncing groups: {e}")
            return
        if result.failed:
            await evt.reply(
                f"Resynced groups, but {result.failed} of {result.groups} portal rooms "
                "couldn't be created (see the bridge's logs)"
            )
        else:
            await evt.reply("Resynced groups")


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=False,
    help_section=SECTION_PORTAL_MANAGEMENT,
    help_text=(
        "Delete the current portal. If the portal is used by other people, this is limited "
        "to bridge admins."
    ),
)
async def delete_portal(evt: CommandEvent) -> None:
    portal = cast("Portal | None", evt.portal)
    if portal is None:
        await evt.reply("You must be in a portal room to use that command")
        return
    if not await can_delete(portal, evt.sender):
        await evt.reply("Only bridge admins can delete portals with other Matrix users")
        return
    portal.log.info("%s requested deletion of the portal", evt.sender.mxid)
    await delete_portal_and_room(portal)
