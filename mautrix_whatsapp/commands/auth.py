"""``login`` (QR or pairing code), ``logout`` and ``cancel``."""

from __future__ import annotations

import asyncio
import contextlib

from mautrix.bridge.commands import SECTION_AUTH, SECTION_GENERAL, command_handler
from mautrix.types import EventID, ImageInfo, MediaMessageEventContent, MessageType

from ..login import (
    InvalidPhone,
    LoginCancelled,
    LoginFailed,
    LoginProcess,
    LoginSuccess,
    LoginTimeout,
    PairingCode,
    QRCode,
)
from ..qr import QR_SIZE, qr_png
from ..session import normalize_phone
from ..user import User, format_phone
from .typehint import CommandEvent

LOGIN_USAGE = (
    "**Usage:** `$cmdprefix+sp login` (or `login qr`) to scan a QR code, or "
    "`$cmdprefix+sp login +<phone number>` (or `login phone <number>`) to get a pairing code."
)
QR_INSTRUCTIONS = (
    "Scan the QR code with the WhatsApp mobile app to log in: "
    "WhatsApp → Settings → Linked devices → Link a device."
)
PAIRING_INSTRUCTIONS = (
    "Input the pairing code in the WhatsApp mobile app to log in: WhatsApp → Settings → "
    "Linked devices → Link a device → **Link with phone number instead**, then enter this code:"
)
TIMEOUT_TEXT = "Login failed: Entering code or scanning QR timed out. Please try again."


def parse_login_args(args: list[str]) -> str | None:
    """None for a QR login, else the phone number's digits; ValueError with the reply text."""
    words = [a for a in args if a]
    if not words or (len(words) == 1 and words[0].lower() == "qr"):
        return None
    if words[0].lower() == "phone":
        if len(words) == 1:
            raise ValueError("Please give your number: `$cmdprefix+sp login phone +<number>`")
        return normalize_phone(" ".join(words[1:]))
    if words[0].startswith("+"):
        return normalize_phone(" ".join(words))
    raise ValueError(LOGIN_USAGE)


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=False,
    help_section=SECTION_AUTH,
    help_text="Link the bridge to your WhatsApp account as a linked device.",
    help_args="[`qr` | `phone` _number_ | _+number_]",
)
async def login(evt: CommandEvent) -> None:
    user = evt.sender
    if await user.is_logged_in():
        await evt.reply(
            f"You're already logged in as {format_phone(user.phone)}. "
            "Perhaps you wanted to `$cmdprefix+sp reconnect`?"
        )
        return
    if user.has_ongoing_login():
        await evt.reply(
            "You already have an ongoing login. You can use `$cmdprefix+sp cancel` to cancel it."
        )
        return
    try:
        digits = parse_login_args(evt.args)
    except ValueError as e:
        await evt.reply(str(e))
        return

    # The login is registered before any await, so a second `login` sees it.
    process = user.login = LoginProcess(user, digits)
    user.command_status = {"action": "Login"}
    task = asyncio.create_task(_show_login(evt, user, process))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


_watchers: set[asyncio.Task[None]] = set()


async def _show_login(evt: CommandEvent, user: User, process: LoginProcess) -> None:
    """Show codes as they come and report the outcome; redacts the QR either way."""
    intent = evt.az.intent
    qr_event_id: EventID | None = None
    seen = 0
    try:
        while True:
            state = await process.wait_change(seen)
            seen = process.version
            match state:
                case QRCode(code=code):
                    content = await _qr_content(evt, code)
                    if qr_event_id is None:
                        await evt.reply(QR_INSTRUCTIONS)
                        qr_event_id = await intent.send_message(evt.room_id, content)
                    else:
                        content.set_edit(qr_event_id)
                        await intent.send_message(evt.room_id, content)
                case PairingCode(code=code):
                    await evt.reply(PAIRING_INSTRUCTIONS)
                    await intent.send_notice(evt.room_id, code, html=f"<code>{code}</code>")
                case LoginSuccess(phone=phone):
                    await evt.reply(f"Successfully logged in as {format_phone(phone)}")
                    return
                case LoginTimeout():
                    await evt.reply(TIMEOUT_TEXT)
                    return
                case LoginFailed(message=message):
                    await evt.reply(f"Login failed: {message}")
                    return
                case InvalidPhone(message=message):
                    await evt.reply(message)
                    return
                case LoginCancelled():
                    return
    except Exception:
        user.log.exception("Showing the login failed")
    finally:
        if qr_event_id is not None:
            with contextlib.suppress(Exception):
                await intent.redact(evt.room_id, qr_event_id)
        if user.login is process:
            user.command_status = None


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=False,
    help_section=SECTION_AUTH,
    help_text="Get a link to log in on the bridge's web page (valid once, for a short while).",
)
async def login_web(evt: CommandEvent) -> None:
    page = evt.bridge.login_page
    if page is None:
        await evt.reply("The web login page is disabled in the bridge's config.")
        return
    if await evt.sender.is_logged_in():
        await evt.reply(f"You're already logged in as {format_phone(evt.sender.phone)}.")
        return
    token = page.api.login_tokens.issue(evt.sender.mxid)
    minutes = max(1, round(page.api.login_tokens.lifetime / 60))
    await evt.reply(
        f"Open this link to log in (it works once, for {minutes} minutes): {page.link(token)}"
    )


async def _qr_content(evt: CommandEvent, code: str) -> MediaMessageEventContent:
    data = qr_png(code)
    mxc = await evt.az.intent.upload_media(data, mime_type="image/png", filename="qr.png")
    return MediaMessageEventContent(
        msgtype=MessageType.IMAGE,
        body=code,
        url=mxc,
        info=ImageInfo(mimetype="image/png", size=len(data), width=QR_SIZE, height=QR_SIZE),
    )


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=False,
    help_section=SECTION_AUTH,
    help_text="Unlink the bridge from your WhatsApp account.",
)
async def logout(evt: CommandEvent) -> None:
    if not await evt.sender.is_logged_in():
        await evt.reply("You're not logged in.")
        return
    await evt.sender.logout()
    await evt.reply("Logged out successfully.")


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=False, help_section=SECTION_GENERAL, help_text="Cancel an ongoing action."
)
async def cancel(evt: CommandEvent) -> None:
    user = evt.sender
    process = user.login
    if process is not None and not process.done:
        await process.cancel()
        user.login = None
        user.command_status = None
        await evt.reply("Login cancelled.")
        return
    if user.command_status:
        action = user.command_status.get("action", "Action")
        user.command_status = None
        await evt.reply(f"{action} cancelled.")
        return
    await evt.reply("No ongoing command.")
