"""``login`` (QR or pairing code), ``logout`` and ``cancel``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from mautrix.bridge.commands import SECTION_AUTH, SECTION_GENERAL, command_handler
from mautrix.types import EventID, ImageInfo, MediaMessageEventContent, MessageType

from ..qr import QR_SIZE, qr_png
from ..session import (
    InvalidPhoneNumber,
    LoginFailed,
    LoginSuccess,
    LoginTimeout,
    LoginUpdate,
    PairingCode,
    QRCode,
    normalize_phone,
)
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
    if user.login_task is not None and not user.login_task.done():
        await evt.reply(
            "You already have an ongoing login. You can use `$cmdprefix+sp cancel` to cancel it."
        )
        return
    try:
        digits = parse_login_args(evt.args)
    except ValueError as e:
        await evt.reply(str(e))
        return

    # The task is registered before any await, so a second `login` sees it.
    user.login_task = asyncio.create_task(_run_login(evt, user, digits))
    user.command_status = {"action": "Login"}


async def _run_login(evt: CommandEvent, user: User, digits: str | None) -> None:
    """Show codes as they come and report the outcome; redacts the QR either way."""
    intent = evt.az.intent
    qr_event_id: EventID | None = None
    updates: AsyncIterator[LoginUpdate] | None = None
    try:
        session = await user.get_session()
        updates = session.login_qr() if digits is None else session.login_phone(digits)
        async for update in updates:
            match update:
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
                case LoginSuccess(jid=jid, phone=phone):
                    await user.on_login_success(jid, phone)
                    await evt.reply(f"Successfully logged in as {format_phone(phone)}")
                    return
                case LoginTimeout():
                    await evt.reply(TIMEOUT_TEXT)
                    return
                case LoginFailed(message=message):
                    await evt.reply(f"Login failed: {message}")
                    return
        await evt.reply("Login failed: the connection to WhatsApp ended. Please try again.")
    except InvalidPhoneNumber as e:
        await evt.reply(str(e))
    except asyncio.CancelledError:
        raise
    except Exception:
        user.log.exception("Login failed")
        await evt.reply("Login failed: unexpected error, see the bridge logs.")
    finally:
        aclose = getattr(updates, "aclose", None) if updates is not None else None
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
        if qr_event_id is not None:
            with contextlib.suppress(Exception):
                await intent.redact(evt.room_id, qr_event_id)
        user.command_status = None
        with contextlib.suppress(Exception):
            await user.drop_unpaired_session()


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
    task = user.login_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        user.login_task = None
        await evt.reply("Login cancelled.")
        return
    if user.command_status:
        action = user.command_status.get("action", "Action")
        user.command_status = None
        await evt.reply(f"{action} cancelled.")
        return
    await evt.reply("No ongoing command.")
