"""One login attempt of a user (QR code or pairing code), shared by the bot's ``login`` command
and the provisioning API (and through it the web login page).

A :class:`LoginProcess` runs the session's login in a task and keeps its latest state; any number
of watchers wait for the next change (:meth:`LoginProcess.wait_change`). The process itself does
what every login must do: record the link on success, and drop a half-made session otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .session import (
    InvalidPhoneNumber,
    LoginFailed,
    LoginSuccess,
    LoginTimeout,
    LoginUpdate,
    PairingCode,
    QRCode,
)

if TYPE_CHECKING:
    from .user import User


@dataclass(frozen=True)
class AwaitingPhone:
    """A pairing-code login that waits for the phone number (the provisioning API's first step)."""


@dataclass(frozen=True)
class Starting:
    """Connecting to WhatsApp; no code yet."""


@dataclass(frozen=True)
class InvalidPhone:
    """WhatsApp refused the phone number; ``message`` says why."""

    message: str


@dataclass(frozen=True)
class LoginCancelled:
    """Cancelled by the user (``cancel``, a new login, logout) or by the bridge stopping."""


LoginState = AwaitingPhone | Starting | LoginUpdate | InvalidPhone | LoginCancelled
FINAL_STATES = (LoginSuccess, LoginTimeout, LoginFailed, InvalidPhone, LoginCancelled)
ENDED_TEXT = "the connection to WhatsApp ended. Please try again."
UNEXPECTED_TEXT = "unexpected error, see the bridge logs."


class LoginProcess:
    """One user's login attempt. ``phone`` None is a QR login; ``phone=""`` waits for the
    number (:meth:`submit_phone`); digits start a pairing-code login right away."""

    def __init__(self, user: User, phone: str | None) -> None:
        self.id = secrets.token_hex(12)
        self.user = user
        self.flow = "qr" if phone is None else "phone"
        self.phone = phone or None
        self.state: LoginState = AwaitingPhone() if phone == "" else Starting()
        self.version = 0
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        if phone != "":
            self.task = asyncio.create_task(self._run())

    @property
    def done(self) -> bool:
        return isinstance(self.state, FINAL_STATES)

    def submit_phone(self, digits: str) -> None:
        """Start the pairing-code login of a process made with ``phone=""``."""
        if not isinstance(self.state, AwaitingPhone) or self.task is not None:
            raise RuntimeError("this login is not waiting for a phone number")
        self.phone = digits
        self._set(Starting())
        self.task = asyncio.create_task(self._run())

    async def cancel(self) -> None:
        """Stop the login (no-op once it ended) and wait until it has cleaned up."""
        task = self.task
        if task is None:
            if not self.done:
                self._set(LoginCancelled())
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def wait_change(self, seen_version: int) -> LoginState:
        """The state once it is newer than ``seen_version`` (or final)."""
        while self.version <= seen_version and not self.done:
            await self._changed.wait()
        return self.state

    def _set(self, state: LoginState) -> None:
        self.state = state
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _run(self) -> None:
        user = self.user
        updates: AsyncIterator[LoginUpdate] | None = None
        try:
            session = await user.get_session()
            updates = session.login_qr() if self.phone is None else session.login_phone(self.phone)
            async for update in updates:
                if isinstance(update, LoginSuccess):
                    await user.on_login_success(update.jid, update.phone)
                self._set(update)
                if self.done:
                    return
            self._set(LoginFailed(ENDED_TEXT))
        except InvalidPhoneNumber as e:
            self._set(InvalidPhone(str(e)))
        except asyncio.CancelledError:
            self._set(LoginCancelled())
            raise
        except Exception:
            user.log.exception("Login failed")
            self._set(LoginFailed(UNEXPECTED_TEXT))
        finally:
            aclose = getattr(updates, "aclose", None) if updates is not None else None
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            with contextlib.suppress(Exception):
                await user.drop_unpaired_session()
            if not self.done:  # cancelled before the first await of the task
                self._set(LoginCancelled())


__all__ = [
    "FINAL_STATES",
    "AwaitingPhone",
    "InvalidPhone",
    "LoginCancelled",
    "LoginFailed",
    "LoginProcess",
    "LoginState",
    "LoginSuccess",
    "LoginTimeout",
    "PairingCode",
    "QRCode",
    "Starting",
]
