"""A Matrix user of the bridge: permissions, their WhatsApp session, notices and bridge states."""

from __future__ import annotations

import asyncio
import time
from functools import cached_property
from typing import TYPE_CHECKING

from mautrix.bridge import BaseUser
from mautrix.types import EventID, RoomID
from mautrix.util import markdown
from mautrix.util.bridge_state import BridgeState, BridgeStateEvent

from . import metrics
from .backfill import UserBackfill  # ---- backfill ----
from .contacts import ContactSync
from .db import UserRow
from .login import LoginProcess
from .portal import status_broadcast
from .portal.chat_state import handle_chat_state_event  # ---- chatstate ----
from .portal.jids import portal_key
from .portal.metadata import handle_group_event
from .session import (
    BusinessName,
    CallOffer,
    ChatStateChanged,  # ---- chatstate ----
    ChatTyping,
    ClientOutdated,
    Connected,
    ConnectFailed,
    ContactNames,
    Disconnected,
    GroupChanged,
    GroupPictureChanged,
    HistoryChunk,  # ---- backfill ----
    HistoryFailed,
    JoinedGroup,
    LoggedOut,
    LogoutKind,
    MessageReceived,
    PhoneSeen,
    PushNames,
    ReceiptReceived,
    SessionEvent,
    StreamReplaced,
    TemporaryBan,
    UserPictureChanged,
    WhatsAppSession,
)

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge
    from .portal import Portal
    from .puppet import Puppet

STATUS_BROADCAST = "status@broadcast"

PHONE_OFFLINE_AFTER = 12 * 24 * 3600
PHONE_OFFLINE_NOTICE_EVERY = 12 * 3600
PHONE_OFFLINE_CHECK_EVERY = 3600.0
PHONE_SEEN_SAVE_EVERY = 3600
"""Phone activity is stored only when it is this much newer (seconds), as mautrix-whatsapp
does: the phone causes a receipt or message every few seconds while it is in use."""

_LOGOUT_NOTICES = {
    LogoutKind.LOGGED_OUT: (
        "You were logged out from another device. Relogin to continue using the bridge."
    ),
    LogoutKind.MAIN_DEVICE_GONE: (
        "Your phone was logged out from WhatsApp. Relogin to continue using the bridge."
    ),
    LogoutKind.UNKNOWN: (
        "You were logged out for an unknown reason. Relogin to continue using the bridge."
    ),
}


def format_duration(seconds: float) -> str:
    """``1 day, 3 hours`` style, to the two largest units."""
    seconds = max(0, int(seconds))
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {name}{'s' if amount != 1 else ''}")
    return ", ".join(parts[:2]) or "0 seconds"


def format_phone(phone: str | None) -> str:
    return f"+{phone}" if phone else "an unknown number"


class User(BaseUser):
    """One Matrix user. Owns at most one WhatsApp session; the truth lives in ``row``."""

    bridge: WhatsAppBridge

    def __init__(self, bridge: WhatsAppBridge, row: UserRow) -> None:
        self.mxid = row.mxid
        super().__init__()
        self.bridge = bridge
        self.az = bridge.az
        self.loop = bridge.loop
        self.row = row
        perms = bridge.config.get_permissions(row.mxid)
        self.relay_whitelisted = perms.relay
        self.is_whitelisted = perms.user
        self.is_admin = perms.admin
        self.session: WhatsAppSession | None = None
        self.login: LoginProcess | None = None
        self._login_lock = asyncio.Lock()
        self.session_lock = asyncio.Lock()
        self._disconnect_notice_task: asyncio.Task[None] | None = None
        self._offline_check_task: asyncio.Task[None] | None = None
        self._drop_noticed = False
        self._logging_out = False
        self._state: BridgeState | None = None
        self._connected_metric = metrics.ConnectionTracker()
        self.contacts = ContactSync(bridge, lambda: self.session, self.log.getChild("contacts"))

    # ---- persistence -------------------------------------------------------------------

    async def save(self) -> None:
        await self.bridge.tables.users.upsert(self.row)

    @property
    def wa_jid(self) -> str | None:
        return self.row.wa_jid

    @property
    def phone(self) -> str | None:
        return self.row.phone

    async def set_management_room(self, room_id: RoomID) -> None:
        if self.row.management_room != room_id:
            self.row.management_room = room_id
            await self.save()

    # ---- BaseUser ----------------------------------------------------------------------

    async def is_logged_in(self) -> bool:
        return self.row.wa_jid is not None

    async def get_puppet(self) -> Puppet | None:  # type: ignore[override]
        if not self.row.wa_jid:
            return None
        return await self.bridge.get_puppet_by_jid(self.row.wa_jid)

    async def get_portal_with(  # type: ignore[override]
        self, puppet: Puppet, create: bool = True
    ) -> Portal | None:
        """The DM portal between this user and ``puppet``'s contact."""
        if not self.row.wa_jid:
            return None
        jid, receiver = portal_key(puppet.jid, self.row.wa_jid)
        return await self.bridge.portals.get_by_jid(jid, receiver, create=create)

    async def get_bridge_states(self) -> list[BridgeState]:
        if not await self.is_logged_in():
            return []
        state = self._state or BridgeState(
            state_event=(
                BridgeStateEvent.CONNECTED
                if self.session and self.session.is_connected
                else BridgeStateEvent.CONNECTING
            )
        )
        return [state]

    async def fill_bridge_state(self, state: BridgeState) -> None:
        await super().fill_bridge_state(state)
        state.remote_id = self.row.phone
        state.remote_name = format_phone(self.row.phone) if self.row.phone else None

    async def _set_state(
        self, event: BridgeStateEvent, error: str | None = None, message: str | None = None
    ) -> None:
        """Remember the state (for the bridge-state endpoint), push it to the status endpoint,
        and count a change into an error state as a failure (by its code)."""
        previous = self._state
        self._state = BridgeState(state_event=event, error=error, message=message)
        changed = previous is None or (previous.state_event, previous.error) != (event, error)
        if error is not None and changed:
            metrics.failure(error)
        await self.push_bridge_state(event, error=error, message=message, remote_id=self.row.phone)

    # ---- login -------------------------------------------------------------------------

    @property
    def login_task(self) -> asyncio.Task[None] | None:
        """The ongoing login's task (None before a pairing-code login has its number)."""
        return self.login.task if self.login is not None else None

    def has_ongoing_login(self) -> bool:
        return self.login is not None and not self.login.done

    async def replace_login(self, phone: str | None) -> LoginProcess:
        """Cancel any ongoing login and start a new one (the provisioning API's start)."""
        async with self._login_lock:
            old = self.login
            if old is not None:
                await old.cancel()
            self.login = LoginProcess(self, phone)
            return self.login

    # ---- session lifecycle -------------------------------------------------------------

    async def get_session(self) -> WhatsAppSession:
        """The user's session, created on first use (unpaired until a login completes)."""
        async with self.session_lock:
            if self.session is None:
                self.session = await self.bridge.session_factory(self.mxid, self.handle_event)
            return self.session

    async def connect(self) -> None:
        """Reconnect a logged-in user (on start and on ``reconnect``)."""
        if not await self.is_logged_in():
            return
        session = await self.get_session()
        await self._set_state(BridgeStateEvent.CONNECTING)
        await session.connect()

    async def disconnect(self) -> None:
        """Close the connection, keep the link (bridge shutdown)."""
        self._cancel_disconnect_notice()
        self._cancel_offline_check()
        if self.login_task and not self.login_task.done():
            self.login_task.cancel()
        self._connected_metric.set(False)
        await self.contacts.stop()
        session = self.session
        if session is not None:
            await session.disconnect()

    async def logout(self) -> None:
        """Unlink at WhatsApp and forget the device."""
        self._cancel_disconnect_notice()
        self._cancel_offline_check()
        session = await self.get_session()
        # WhatsApp may end the stream (401) while we unlink; that is this logout, not news.
        self._logging_out = True
        self._connected_metric.set(False)
        await self.contacts.stop()
        try:
            await session.logout()
        finally:
            self._logging_out = False
            self.session = None
            await self._forget_login()
            await self._set_state(BridgeStateEvent.LOGGED_OUT)

    async def on_login_success(self, jid: str, phone: str) -> None:
        """Remember the link. The phone's activity is learnt from what it sends afterwards
        (a real phone starts the history sync right away), never assumed."""
        self.row.wa_jid = jid
        self.row.phone = phone
        self.row.phone_last_seen = None
        self.row.offline_notice_ts = None
        await self.save()
        self._connected_metric.set(True)
        await self._set_state(BridgeStateEvent.CONNECTED)
        # The client's Connected came before the link was recorded, so start the check here.
        self._start_offline_check()

    async def drop_unpaired_session(self) -> None:
        """After a failed or cancelled login: the half-made session is useless."""
        if await self.is_logged_in():
            return
        session, self.session = self.session, None
        if session is not None:
            await session.disconnect()

    async def _forget_login(self) -> None:
        self.row.wa_jid = None
        self.row.phone_last_seen = None
        self.row.offline_notice_ts = None
        await self.save()

    # ---- notices -----------------------------------------------------------------------

    async def send_notice(self, text: str) -> EventID | None:
        """Tell the user something in their management room (if they have one)."""
        room_id = self.row.management_room
        if not room_id:
            self.log.debug("No management room for notice: %s", text)
            return None
        try:
            return await self.az.intent.send_notice(room_id, text, html=markdown.render(text))
        except Exception:
            self.log.warning("Failed to send notice to %s", room_id, exc_info=True)
            return None

    def _cancel_disconnect_notice(self) -> None:
        if self._disconnect_notice_task and not self._disconnect_notice_task.done():
            self._disconnect_notice_task.cancel()
        self._disconnect_notice_task = None

    async def _notice_lasting_drop(self, delay: float, reason: str) -> None:
        await asyncio.sleep(delay)
        self._drop_noticed = True
        suffix = f" ({reason})" if reason else ""
        await self.send_notice(f"Disconnected from WhatsApp{suffix}. Trying to reconnect.")
        await self._set_state(
            BridgeStateEvent.TRANSIENT_DISCONNECT,
            error="wa-transient-disconnect",
            message=reason or None,
        )

    def _start_offline_check(self) -> None:
        if self._offline_check_task is None or self._offline_check_task.done():
            self._offline_check_task = asyncio.create_task(self._offline_check_loop())

    def _cancel_offline_check(self) -> None:
        if self._offline_check_task and not self._offline_check_task.done():
            self._offline_check_task.cancel()
        self._offline_check_task = None

    async def _offline_check_loop(self) -> None:
        """While connected, look at the phone's last activity every hour."""
        while True:
            await asyncio.sleep(PHONE_OFFLINE_CHECK_EVERY)
            try:
                await self._check_phone_offline()
            except Exception:
                self.log.exception("Phone offline check failed")

    async def _check_phone_offline(self) -> None:
        seen = self.row.phone_last_seen
        now = time.time()
        if seen is None or now - seen <= PHONE_OFFLINE_AFTER:
            return
        last = self.row.offline_notice_ts
        if last is not None and now - last < PHONE_OFFLINE_NOTICE_EVERY:
            return
        self.row.offline_notice_ts = int(now)
        await self.save()
        text = (
            "Your phone hasn't been seen in over 12 days. The bridge is currently connected, "
            "but will get disconnected if you don't open the app soon."
        )
        await self.send_notice(text)
        await self._set_state(
            BridgeStateEvent.TRANSIENT_DISCONNECT, error="wa-phone-offline", message=text
        )

    async def _note_phone_seen(self, ts: int) -> None:
        """Move the phone's last activity forward only, and save it at most hourly.

        Signs of life arrive out of order (the offline queue, a restart that seeds the client
        with the stored value), so an older time never replaces a newer one. A warning that was
        sent stops counting once the phone is back, so the next absence warns afresh.
        """
        seen = self.row.phone_last_seen
        if seen is not None and ts < seen + PHONE_SEEN_SAVE_EVERY:
            return
        self.row.phone_last_seen = ts
        if time.time() - ts <= PHONE_OFFLINE_AFTER:
            self.row.offline_notice_ts = None
        await self.save()

    # ---- session events ----------------------------------------------------------------

    async def handle_event(self, evt: SessionEvent) -> None:
        """Turn one session event into notices, bridge states and DB updates; never raises,
        except for a message that could not be kept (so WhatsApp redelivers it)."""
        if isinstance(evt, MessageReceived):
            # ---- crash safety ---- raises: the client then holds back WhatsApp's receipt.
            await self._handle_message(evt)
            return
        try:
            if isinstance(evt, ContactNames | PushNames | BusinessName | UserPictureChanged):
                await self.contacts.handle(evt)
                return
            if isinstance(evt, ReceiptReceived | ChatTyping | CallOffer):  # ---- receipts ----
                await self._handle_receipts_event(evt)
                return
            # ---- groups ----
            if isinstance(evt, GroupChanged | JoinedGroup | GroupPictureChanged):
                await handle_group_event(self, evt)
                return
            # ---- backfill ----
            if isinstance(evt, HistoryChunk | HistoryFailed):
                await self.backfill.handle(evt)
                return
            # ---- chatstate ----
            if isinstance(evt, ChatStateChanged):
                await handle_chat_state_event(self, evt)
                return
            if isinstance(evt, Connected):
                await self._resume_backfill()
            if isinstance(evt, Connected):
                self._connected_metric.set(await self.is_logged_in())
            elif not isinstance(evt, PhoneSeen | MessageReceived):
                self._connected_metric.set(False)  # every other event is a lost connection
            await self._handle_event(evt)
        except Exception:
            self.log.exception("Error handling session event %s", type(evt).__name__)

    async def _handle_event(self, evt: SessionEvent) -> None:
        match evt:
            case Connected():
                self._cancel_disconnect_notice()
                if self._drop_noticed:
                    self._drop_noticed = False
                    await self.send_notice("Reconnected to WhatsApp.")
                if await self.is_logged_in():
                    await self._set_state(BridgeStateEvent.CONNECTED)
                    await self._check_phone_offline()
                    self._start_offline_check()
            case Disconnected(reason=reason):
                if not await self.is_logged_in():
                    return
                # As mautrix-whatsapp: right away, unless the phone-offline warning (also a
                # TRANSIENT_DISCONNECT) is what the user should keep seeing.
                if self._state is None or self._state.error != "wa-phone-offline":
                    await self._set_state(
                        BridgeStateEvent.TRANSIENT_DISCONNECT,
                        error="wa-transient-disconnect",
                        message=reason or None,
                    )
                if self._disconnect_notice_task is None and not self._drop_noticed:
                    delay = self.bridge.disconnect_notice_delay
                    self._disconnect_notice_task = asyncio.create_task(
                        self._notice_lasting_drop(delay, reason)
                    )
            case LoggedOut() if self._logging_out:
                self.log.debug("Ignoring %s during our own logout", evt)
            case LoggedOut(kind=kind):
                self._cancel_disconnect_notice()
                self._cancel_offline_check()
                was_logged_in = await self.is_logged_in()
                session, self.session = self.session, None
                if session is not None:
                    await session.disconnect()
                await self._forget_login()
                await self._set_state(
                    BridgeStateEvent.BAD_CREDENTIALS,
                    error=kind.value,
                    message=_LOGOUT_NOTICES[kind],
                )
                if was_logged_in:
                    await self.send_notice(_LOGOUT_NOTICES[kind])
            case TemporaryBan(code=code, expires_in=expires_in):
                expiry = (
                    f"The ban expires in {format_duration(expires_in)}."
                    if expires_in is not None
                    else "The ban's expiry is unknown."
                )
                text = f"You've been temporarily banned: {code}: {evt.reason}. {expiry}"
                await self.send_notice(text)
                await self._set_state(
                    BridgeStateEvent.BAD_CREDENTIALS, error="wa-temporary-ban", message=text
                )
            case ClientOutdated():
                text = (
                    "Got client outdated error while connecting to WhatsApp. "
                    "The bridge must be updated to continue."
                )
                await self.send_notice(text)
                await self._set_state(
                    BridgeStateEvent.UNKNOWN_ERROR, error="wa-client-outdated", message=text
                )
            case StreamReplaced():
                text = (
                    "Stream replaced: the bridge was started in another location. "
                    "Use `reconnect` to take the connection back."
                )
                await self.send_notice(text)
                await self._set_state(
                    BridgeStateEvent.UNKNOWN_ERROR, error="wa-stream-replaced", message=text
                )
            case ConnectFailed(code=code, message=message):
                detail = f": {message}" if message else ""
                text = (
                    f"Connecting to WhatsApp failed (error {code}{detail}). "
                    "Use `reconnect` to try again."
                )
                await self.send_notice(text)
                await self._set_state(
                    BridgeStateEvent.UNKNOWN_ERROR,
                    error=f"wa-connect-failure-{code}",
                    message=text,
                )
            case PhoneSeen(timestamp=ts):
                await self._note_phone_seen(int(ts))
                await self._check_phone_offline()
            case MessageReceived():
                await self._handle_message(evt)

    async def _handle_message(self, evt: MessageReceived) -> None:
        """Hand a message to its portal's queue, making the portal (not yet its room) if the
        chat has none. Status broadcasts wait for their own feature (off by default)."""
        if self.row.wa_jid is None:
            return
        if evt.chat == STATUS_BROADCAST and not status_broadcast.enabled(self.bridge):
            return
        jid, receiver = portal_key(evt.chat, self.row.wa_jid)
        portal = await self.bridge.portals.get_by_jid(jid, receiver)
        if portal is not None:
            if evt.chat == STATUS_BROADCAST:  # ---- receipts ----: its own kind of room
                await status_broadcast.ensure_room(portal, self)
            await portal.accept_whatsapp_message(self, evt)

    def __repr__(self) -> str:
        return f"User({self.mxid!r}, wa_jid={self.row.wa_jid!r})"

    # ---- receipts ----

    async def _handle_receipts_event(self, evt: ReceiptReceived | ChatTyping | CallOffer) -> None:
        """Receipts and typing go to an existing portal only; a call makes one (as a message
        would: the notice must be seen)."""
        if self.row.wa_jid is None or evt.chat == STATUS_BROADCAST:
            return
        jid, receiver = portal_key(evt.chat, self.row.wa_jid)
        portal = await self.bridge.portals.get_by_jid(
            jid, receiver, create=isinstance(evt, CallOffer)
        )
        if portal is None:
            return
        match evt:
            case ReceiptReceived():
                portal.handle_whatsapp_receipt(self, evt)
            case ChatTyping():
                await portal.handle_whatsapp_typing(evt)
            case CallOffer():
                portal.handle_whatsapp_call(self, evt)

    # ---- backfill ----

    async def _resume_backfill(self) -> None:
        """Go on with an interrupted backfill; its failure must not stop the connection's
        own handling."""
        try:
            await self.backfill.resume()
        except Exception:
            self.log.exception("Failed to resume the backfill")

    @cached_property
    def backfill(self) -> UserBackfill:
        """The user's history sync, portal creation after login and personal space."""
        return UserBackfill(self)
