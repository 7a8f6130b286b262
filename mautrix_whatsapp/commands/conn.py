"""``ping`` and ``reconnect``: the state of the user's connection to WhatsApp."""

from __future__ import annotations

from mautrix.bridge.commands import HelpSection, command_handler

from ..user import format_phone
from .typehint import CommandEvent

SECTION_CONNECTION = HelpSection("Connection management", 15, "")  # type: ignore[call-arg]


def _device_suffix(jid: str | None) -> str:
    user = (jid or "").partition("@")[0]
    _, sep, device = user.partition(":")
    return f" (device #{device})" if sep and device.isdigit() else ""


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=False,
    help_section=SECTION_CONNECTION,
    help_text="Check if you're logged into WhatsApp and connected.",
)
async def ping(evt: CommandEvent) -> None:
    user = evt.sender
    if not await user.is_logged_in():
        await evt.reply("You're not logged into WhatsApp.")
        return
    who = f"{format_phone(user.phone)}{_device_suffix(user.wa_jid)}"
    if user.session is not None and user.session.is_connected:
        await evt.reply(f"Logged in as {who}, connection to WhatsApp OK.")
    else:
        await evt.reply(f"Logged in as {who}, but not connected to WhatsApp.")


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=True,
    help_section=SECTION_CONNECTION,
    help_text="Reconnect to WhatsApp.",
)
async def reconnect(evt: CommandEvent) -> None:
    user = evt.sender
    session = await user.get_session()
    await session.disconnect()
    await user.connect()
    await evt.reply("Reconnecting to WhatsApp.")
