"""The real :class:`~mautrix_whatsapp.session.WhatsAppSession`, on ``whatsapp.Client``.

It owns one user's client, keeps the device identity and Signal state in the bridge database
(``db/whatsapp_store.py``), and turns the client's protocol events into the bridge's
:data:`~mautrix_whatsapp.session.SessionEvent` vocabulary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mautrix.types import UserID

from . import metrics
from . import session as s
from .db.appstate_store import SQLAppStateStore
from .db.event_buffer import SQLEventBuffer
from .db.whatsapp_store import (
    SQLDeviceStore,
    SQLMessagingStore,
    SQLSignalStore,
    delete_signal_state,
)
from .wa_chat_state import translate_chat_state_event  # ---- chatstate ----
from .wa_history import translate_history_event  # ---- backfill ----
from .wa_media import download_message_media, upload_media_data
from .whatsapp import call, group, presence, profile
from .whatsapp import events as ev
from .whatsapp.appstate import events as app_events
from .whatsapp.binary.errors import JIDParseError
from .whatsapp.binary.jid import DEFAULT_USER_SERVER, GROUP_SERVER, HIDDEN_USER_SERVER, JID
from .whatsapp.binary.node import Node
from .whatsapp.client import Client, ClientError, ConnectionTiming
from .whatsapp.client_payload import ClientConfig
from .whatsapp.device import DeviceIdentity
from .whatsapp.group_info import GroupInfo
from .whatsapp.history_request import HistoryRequestError  # ---- backfill ----
from .whatsapp.media import MediaType, UploadResult
from .whatsapp.msgsecret import MessageSecretError
from .whatsapp.pair_code import InvalidPhoneNumberError
from .whatsapp.proto import wa_companion_reg_pb2 as companion_reg
from .whatsapp.proto import wa_e2e_pb2
from .whatsapp.qrchan import LoginChannel, QRTiming
from .whatsapp.request import IQDisconnectedError, IQError, IQTimeoutError
from .whatsapp.send import AckLostError, NotSentError, SendTimeoutError
from .whatsapp.socket.errors import SocketError

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge

CONNECTED_AFTER_PAIR_WAIT = 30.0
"""After pair-success the client restarts (515) and logs in; this long we wait for that."""

CLIENT_STOP_WAIT = 15.0
HISTORY_REQUEST_TIMEOUT = 20.0  # ---- backfill ----: how long the phone gets to answer
"""How long a failed login waits for the client to close its own connection."""

_LOGOUT_KINDS = {
    ev.ConnectFailureReason.LOGGED_OUT: s.LogoutKind.LOGGED_OUT,
    ev.ConnectFailureReason.MAIN_DEVICE_GONE: s.LogoutKind.MAIN_DEVICE_GONE,
}


def _platform_type(browser_name: str) -> int:
    """``whatsapp.browser_name`` → DeviceProps.PlatformType (UNKNOWN for unknown names)."""
    enum = companion_reg.DeviceProps.PlatformType
    try:
        return int(enum.Value(browser_name.strip().upper()))
    except ValueError:
        return int(enum.Value("UNKNOWN"))


def translate_event(event: object) -> s.SessionEvent | None:
    """The bridge's view of a client event (None for the ones a user needn't hear about)."""
    match event:
        case ev.Connected():
            return s.Connected()
        case ev.Disconnected(code=code):
            return s.Disconnected(reason=f"code {code}" if code else "")
        case ev.LoggedOut(on_connect=on_connect, reason=reason):
            kind = _LOGOUT_KINDS.get(reason, s.LogoutKind.UNKNOWN)
            return s.LoggedOut(kind=kind, on_connect=on_connect, reason=str(int(reason)))
        case ev.TemporaryBan(code=code, expire=expire):
            seconds = expire.total_seconds() if expire else None
            return s.TemporaryBan(code=code, expires_in=seconds)
        case ev.ClientOutdated():
            return s.ClientOutdated()
        case ev.StreamReplaced():
            return s.StreamReplaced()
        case ev.ConnectFailure(reason=reason, message=message):
            return s.ConnectFailed(code=reason, message=message)
        case ev.PhoneSeen(at=at):
            return s.PhoneSeen(timestamp=at.timestamp())
        case ev.Message(info=info, message=message, is_view_once=view_once) if not info.is_peer:
            return s.MessageReceived(
                chat=str(info.chat.to_non_ad()),
                sender=str(info.sender.to_non_ad()),
                id=info.id,
                timestamp=info.timestamp.timestamp(),
                is_from_me=info.is_from_me,
                is_group=info.is_group,
                message=message,
                push_name=info.push_name,
                is_view_once=view_once,
            )
        # ---- receipts ----
        case ev.Receipt() | ev.ChatPresence() | call.CallOffer():
            return translate_receipts_event(event)
        # ---- groups ----
        case ev.GroupInfoChanged() | ev.JoinedGroup() | ev.PictureChanged():
            return translate_group_event(event)
    return None


# ---- receipts ----

_READ_RECEIPTS = ("read", "read-self")


def translate_receipts_event(
    event: ev.Receipt | ev.ChatPresence | call.CallOffer,
) -> s.ReceiptReceived | s.ChatTyping | s.CallOffer | None:
    """Read receipts, typing and call offers in the bridge's terms (None for delivery and
    played receipts, which the bridge doesn't show)."""
    match event:
        case ev.Receipt(type=receipt_type) if receipt_type in _READ_RECEIPTS:
            at = event.timestamp.timestamp() if event.timestamp is not None else time.time()
            return s.ReceiptReceived(
                chat=str(event.chat.to_non_ad()),
                sender=str(event.sender.to_non_ad()),
                message_ids=event.message_ids,
                timestamp=at,
                is_from_me=event.is_from_me,
                is_group=event.is_group,
            )
        case ev.ChatPresence():
            return s.ChatTyping(
                chat=str(event.chat.to_non_ad()),
                sender=str(event.sender.to_non_ad()),
                is_group=event.is_group,
                typing=event.state == presence.ChatState.COMPOSING,
                recording=event.media == presence.ChatStateMedia.AUDIO,
            )
        case call.CallOffer():
            caller = str(event.call_creator.to_non_ad())
            return s.CallOffer(
                chat=str(event.group.to_non_ad()) if event.group is not None else caller,
                sender=caller,
                call_id=event.call_id,
                timestamp=event.timestamp.timestamp(),
                call_type=event.type if event.is_notice else "",
            )
    return None


def summarize_group(info: GroupInfo) -> s.GroupSummary:
    """The bridge's view of a group (member JIDs without devices)."""
    members = tuple(_user(p.jid, p.phone_number) for p in info.participants)
    admins = frozenset(
        _user(p.jid, p.phone_number) for p in info.participants if p.is_admin or p.is_super_admin
    )
    return s.GroupSummary(
        jid=str(info.jid),
        name=info.subject,
        topic=info.description,
        members=members,
        admins=admins,
        announce=info.announce,
        locked=info.locked,
    )


def translate_contact_event(event: object) -> s.ContactEvent | None:
    """Names and pictures of people, for their ghosts (None for everything else).

    Address-book names come from app state, push names from messages (``notify``) and history
    sync, verified business names from messages' certificates; group pictures are the portals'
    business and are left out here.
    """
    match event:
        case (
            app_events.Contact(jid=jid, full_name=full, first_name=first)
            | app_events.LIDContact(jid=jid, full_name=full, first_name=first)
        ):
            return s.ContactNames(jid=str(jid.to_non_ad()), full_name=full, first_name=first)
        case ev.Message(info=info) if info.verified_name and not info.is_from_me:
            sender = str(info.sender.to_non_ad())
            return s.BusinessName(sender, info.verified_name, info.push_name)
        case ev.Message(info=info) if info.push_name and not info.is_from_me:
            return s.PushNames(((str(info.sender.to_non_ad()), info.push_name),))
        case ev.HistorySyncChunk(push_names=push_names) if push_names:
            names = tuple((str(jid.to_non_ad()), name) for jid, name in push_names if name)
            return s.PushNames(names) if names else None
        case ev.PictureChanged(jid=jid, picture_id=picture_id, removed=removed) if jid.server in (
            DEFAULT_USER_SERVER,
            HIDDEN_USER_SERVER,
        ):
            return s.UserPictureChanged(
                jid=str(jid.to_non_ad()), picture_id="" if removed else picture_id
            )
    return None


# ---- groups ----


def _user(jid: JID | None, pn: JID | None = None) -> str:
    """A person as the bridge names them: the phone-number JID when known, without device."""
    chosen = pn or jid
    return str(chosen.to_non_ad()) if chosen is not None else ""


def translate_group_event(event: object) -> s.SessionEvent | None:
    """A group change, a group we joined, or a group's new picture (None for anything else).

    Members named by LID become phone-number JIDs where the notification revealed the pair.
    """
    match event:
        case ev.GroupInfoChanged() if event.jid.is_group:
            pn_of = {str(lid.to_non_ad()): pn for lid, pn in event.lid_pairs}

            def people(jids: tuple[JID, ...]) -> tuple[str, ...]:
                return tuple(_user(j, pn_of.get(str(j.to_non_ad()))) for j in jids)

            return s.GroupChanged(
                jid=str(event.jid),
                sender=_user(event.sender, event.sender_pn),
                timestamp=event.timestamp.timestamp(),
                name=event.name.name if event.name is not None else None,
                topic=event.topic.topic if event.topic is not None else None,
                announce=event.announce,
                locked=event.locked,
                join=people(event.join),
                leave=people(event.leave),
                promote=people(event.promote),
                demote=people(event.demote),
            )
        case ev.JoinedGroup(jid=jid, info=info):
            return s.JoinedGroup(
                jid=str(jid),
                info=summarize_group(info) if info is not None else None,
                sender=_user(event.sender, event.sender_pn),
                create_key=event.create_key,
            )
        case ev.PictureChanged(jid=jid) if jid.is_group:
            return s.GroupPictureChanged(
                jid=str(jid),
                sender=_user(event.author),
                picture_id="" if event.removed else event.picture_id,
            )
    return None


def _group_failure(e: Exception) -> s.GroupRequestFailed:
    """A refusal in words a user understands (WhatsApp's codes as whatsmeow names them)."""
    reasons = {
        400: "WhatsApp refused the request as malformed",
        401: "you're not allowed to do that in this group (only admins may)",
        403: "you're not in this group on WhatsApp",
        404: "WhatsApp doesn't know this group or person",
        406: "WhatsApp didn't accept the value",
        409: "that is already the case",
        419: "the group is full",
        429: "too many requests, try again later",
    }
    code = getattr(e, "code", 0)
    text = reasons.get(code) if isinstance(code, int) else None
    return s.GroupRequestFailed(text or str(e) or type(e).__name__)


class TimedClient(Client):
    """The client, with every IQ round trip timed into ``whatsapp_request_seconds``."""

    async def send_iq(self, xmlns: str, iq_type: str, *args: Any, **kwargs: Any) -> Node:
        start = time.monotonic()
        outcome: metrics.RequestOutcome = "ok"
        try:
            return await super().send_iq(xmlns, iq_type, *args, **kwargs)
        except IQTimeoutError:
            outcome = "timeout"
            raise
        except IQDisconnectedError:
            outcome = "disconnected"
            raise
        except IQError:
            outcome = "error"
            raise
        except BaseException:
            outcome = "disconnected"
            raise
        finally:
            metrics.whatsapp_request(xmlns, outcome, time.monotonic() - start)


class ClientSession:
    """One Matrix user's WhatsApp device and connection."""

    def __init__(self, bridge: WhatsAppBridge, owner: str, sink: s.EventSink) -> None:
        self.bridge = bridge
        self.owner = owner
        self.sink = sink
        self.device_store = SQLDeviceStore(bridge.db, owner)
        self.client: Client | None = None
        self.log = logging.getLogger("mau.wa_session").getChild(owner)
        self._connect_task: asyncio.Task[None] | None = None

    # ---- state -------------------------------------------------------------------------

    @property
    def device_jid(self) -> str | None:
        if self.client is None or self.client.device.jid is None:
            return None
        return str(self.client.device.jid)

    @property
    def is_connected(self) -> bool:
        return self.client is not None and self.client.is_logged_in

    # ---- building the client -----------------------------------------------------------

    def _make_client(self, device: DeviceIdentity) -> Client:
        config = self.bridge.config
        wa = config.whatsapp
        history = config.history_sync
        client_config = ClientConfig(
            os_name=wa.os_name,
            platform_type=_platform_type(wa.browser_name),
            require_full_sync=history.request_full_sync,
        )
        if (limits := history.full_sync_limits) is not None:
            days, size_mb, quota_mb = limits
            client_config = replace(
                client_config,
                history_days=days,
                history_size_mb=size_mb,
                storage_quota_mb=quota_mb,
            )
        signal_store = SQLSignalStore(
            self.bridge.db, self.owner, device.identity_key, device.registration_id
        )
        client = TimedClient(
            device,
            self.device_store,
            signal_store=signal_store,
            messaging_store=SQLMessagingStore(self.bridge.db, self.owner),
            app_state_store=SQLAppStateStore(self.bridge.db, self.owner),
            event_buffer=SQLEventBuffer(self.bridge.db, self.owner),
            url=wa.websocket_url,
            root_public_key=wa.root_public_key,
            ca_file=wa.tls_ca_file,
            config=client_config,
            timing=ConnectionTiming(
                qr=QRTiming(first=wa.qr_timeout_first, next=wa.qr_timeout_next)
            ),
            initial_auto_reconnect=True,
            log=self.log.getChild("client"),
        )
        client.add_event_handler(self._on_event)
        call.install(client)  # ---- receipts ----: incoming calls, for call notices
        return client

    async def _seed_phone_last_seen(self, client: Client) -> None:
        """Tell a new client when the phone was last seen (the client itself starts knowing
        nothing), so after a restart only newer activity counts as news."""
        row = await self.bridge.tables.users.get_by_mxid(UserID(self.owner))
        if row is not None and row.phone_last_seen is not None:
            client.note_phone_activity(datetime.fromtimestamp(row.phone_last_seen, UTC))

    async def _on_event(self, event: object) -> None:
        metrics.client_event(type(event).__name__)
        translated = translate_event(event)
        if translated is not None:
            await self.sink(translated)
        contact = translate_contact_event(event)
        if contact is not None:
            await self.sink(contact)
        # ---- backfill ----
        if self.client is not None:
            history = await translate_history_event(self.client, event)
            if history is not None:
                await self.sink(history)
        # ---- chatstate ----
        if self.client is not None:
            chat_state = await translate_chat_state_event(self.client, event)
            if chat_state is not None:
                await self.sink(chat_state)

    # ---- connection --------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect a paired device in the background; a missing device reads as logged out."""
        if self.client is not None and self.client.is_connected:
            return
        if self._connect_task is not None and not self._connect_task.done():
            return
        if self.client is None or not self.client.device.is_paired:
            device = await self.device_store.load_device()
            if device is None or not device.is_paired:
                await self.sink(s.LoggedOut(kind=s.LogoutKind.UNKNOWN, reason="no device"))
                return
            self.client = self._make_client(device)
            await self._seed_phone_last_seen(self.client)
        self._connect_task = asyncio.create_task(self._connect(self.client))

    async def _connect(self, client: Client) -> None:
        try:
            await client.connect()
        except ClientError as e:
            self.log.warning("Can't connect: %s", e)
        except Exception:
            self.log.exception("Connecting to WhatsApp failed")

    async def _stop_connect_task(self) -> None:
        task, self._connect_task = self._connect_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def disconnect(self) -> None:
        await self._stop_connect_task()
        if self.client is not None:
            await self.client.disconnect()

    async def logout(self) -> None:
        await self._stop_connect_task()
        client, self.client = self.client, None
        try:
            if client is not None and client.device.is_paired:
                if not client.is_logged_in:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.connect(), 15)
                await asyncio.wait_for(client.logout(force=True), 30)
        except Exception as e:
            self.log.warning("Logout at WhatsApp failed, forgetting the device anyway: %s", e)
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.disconnect()
            await self.device_store.delete_device()

    async def is_on_whatsapp(self, phone: str) -> str | None:
        client = self.client
        if client is None or not client.is_logged_in:
            raise ClientError("not connected to WhatsApp")
        for info in await client.is_on_whatsapp([f"+{phone}"]):
            if info.is_on_whatsapp:
                return str(info.jid)
        return None

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> s.SentMessage:
        client = self.client
        if client is None or not client.is_logged_in:  # e.g. between two connections
            raise s.SendNotStarted("not connected to WhatsApp")
        try:
            to = JID.parse(chat)
        except JIDParseError as e:
            raise s.SendFailed(f"invalid chat JID {chat!r}") from e
        try:
            sent = await client.send_message(to, message)
        except NotSentError as e:
            raise s.SendNotStarted(str(e)) from e
        except (AckLostError, SendTimeoutError) as e:
            raise s.SendUnconfirmed(str(e)) from e
        except (ClientError, IQError, SocketError, OSError) as e:
            raise s.SendFailed(str(e) or type(e).__name__) from e
        return s.SentMessage(id=sent.id, timestamp=sent.timestamp.timestamp())

    async def get_group_info(self, jid: str) -> s.GroupSummary:
        client = self.client
        if client is None or not client.is_logged_in:
            raise LookupError("not connected to WhatsApp")
        try:
            info = await group.get_group_info(client, JID.parse(jid))
        except (JIDParseError, ClientError, IQError, SocketError, OSError) as e:
            raise LookupError(f"can't get the info of group {jid}: {e}") from e
        return summarize_group(info)

    async def get_profile_picture(
        self, jid: str, existing_id: str | None = None
    ) -> s.ProfilePicture | None:
        client = self.client
        if client is None or not client.is_logged_in:
            raise ClientError("not connected to WhatsApp")
        try:
            info = await profile.get_profile_picture_info(
                client, JID.parse(jid), existing_id=existing_id
            )
        except (profile.ProfilePictureNotSet, profile.ProfilePictureUnauthorized):
            return None
        if info is None:  # existing_id is still current
            return s.ProfilePicture(existing_id or "", None)
        return s.ProfilePicture(info.id, await profile.download_profile_picture(client, info))

    # ---- relations ----

    async def decrypt_poll_vote(
        self, chat: str, voter: str, update: wa_e2e_pb2.PollUpdateMessage
    ) -> list[bytes]:
        client = self.client
        if client is None:
            raise MessageSecretError("not logged in")
        key = update.pollCreationMessageKey
        try:
            chat_jid, voter_jid = JID.parse(chat), JID.parse(voter)
            # whatsmeow's getOrigSenderFromKey: fromMe is from the voter's point of view.
            if key.fromMe:
                creator = voter_jid
            elif chat_jid.server != GROUP_SERVER:
                creator = JID.parse(key.remoteJID)
            else:
                creator = JID.parse(key.participant)
        except JIDParseError as e:
            raise MessageSecretError(f"bad JID in the poll vote: {e}") from e
        vote = await client.secrets.decrypt_poll_vote(chat_jid, voter_jid, update, creator)
        return list(vote.selectedOptions)

    async def send_poll_vote(
        self, chat: str, poll_id: str, poll_sender: str, options: list[str]
    ) -> s.SentMessage:
        client = self.client
        if client is None or not client.is_logged_in:
            raise s.SendFailed("not connected to WhatsApp")
        try:
            message = await client.build_poll_vote(
                JID.parse(chat), poll_id, JID.parse(poll_sender), options
            )
        except JIDParseError as e:
            raise s.SendFailed(f"invalid JID in the poll: {e}") from e
        except MessageSecretError as e:
            raise s.SendFailed(f"the poll's secret is unknown: {e}") from e
        return await self.send_message(chat, message)

    # ---- receipts ----

    def _client_for_sending(self) -> Client:
        client = self.client
        if client is None or not client.is_logged_in:
            raise s.SendFailed("not connected to WhatsApp")
        return client

    async def mark_read(
        self, chat: str, sender: str | None, message_ids: list[str], timestamp: float
    ) -> None:
        client = self._client_for_sending()
        try:
            chat_jid = JID.parse(chat)
            sender_jid = JID.parse(sender) if sender else None
            at = datetime.fromtimestamp(timestamp, UTC)
            await client.mark_read(chat_jid, sender_jid, message_ids, at)
        except (JIDParseError, ValueError, ClientError, SocketError, OSError) as e:
            raise s.SendFailed(str(e) or type(e).__name__) from e

    async def send_typing(self, chat: str, typing: bool) -> None:
        client = self._client_for_sending()
        state = presence.ChatState.COMPOSING if typing else presence.ChatState.PAUSED
        try:
            await presence.send_chat_presence(client, JID.parse(chat), state)
        except (JIDParseError, ClientError, SocketError, OSError) as e:
            raise s.SendFailed(str(e) or type(e).__name__) from e

    # ---- groups ----

    def _group_client(self) -> Client:
        client = self.client
        if client is None or not client.is_logged_in:
            raise s.GroupRequestFailed("you're not connected to WhatsApp")
        return client

    @staticmethod
    def _jid(value: str) -> JID:
        try:
            return JID.parse(value)
        except JIDParseError as e:
            raise s.GroupRequestFailed(f"invalid WhatsApp ID {value!r}") from e

    async def set_group_name(self, jid: str, name: str) -> None:
        client = self._group_client()
        try:
            await group.set_group_name(client, self._jid(jid), name)
        except (ClientError, IQError, SocketError, OSError) as e:
            raise _group_failure(e) from e

    async def set_group_topic(self, jid: str, topic: str) -> None:
        client = self._group_client()
        try:
            await group.set_group_description(client, self._jid(jid), topic)
        except (ClientError, IQError, SocketError, OSError) as e:
            raise _group_failure(e) from e

    async def set_group_photo(self, jid: str, jpeg: bytes | None) -> str:
        client = self._group_client()
        try:
            return await group.set_group_photo(client, self._jid(jid), jpeg)
        except (ClientError, IQError, SocketError, OSError) as e:
            raise _group_failure(e) from e

    async def update_participants(
        self, jid: str, participants: list[str], action: str
    ) -> list[s.ParticipantResult]:
        client = self._group_client()
        people = [self._jid(p) for p in participants]
        try:
            results = await group.update_participants(
                client, self._jid(jid), people, group.ParticipantAction(action)
            )
        except (ClientError, IQError, SocketError, OSError) as e:
            raise _group_failure(e) from e
        return [s.ParticipantResult(_user(r.jid, r.phone_number), r.status) for r in results]

    async def create_group(
        self, name: str, participants: list[str], create_key: str
    ) -> tuple[s.GroupSummary, list[s.ParticipantResult]]:
        client = self._group_client()
        people = [self._jid(p) for p in participants]
        try:
            info = await group.create_group(client, name, people, create_key=create_key)
        except (ClientError, IQError, SocketError, OSError) as e:
            raise _group_failure(e) from e
        added = {str(p.jid.to_non_ad()) for p in info.participants}
        added |= {str(p.phone_number) for p in info.participants if p.phone_number}
        failed = [
            s.ParticipantResult(str(p.to_non_ad()), 404)
            for p in people
            if str(p.to_non_ad()) not in added
        ]
        return summarize_group(info), failed

    async def leave_group(self, jid: str) -> None:
        client = self._group_client()
        try:
            await group.leave_group(client, self._jid(jid))
        except (ClientError, IQError, SocketError, OSError) as e:
            raise _group_failure(e) from e

    # ---- login -------------------------------------------------------------------------

    async def _fresh_client(self) -> Client:
        if self.client is not None:
            await self.disconnect()
        await delete_signal_state(self.bridge.db, self.owner)
        self.client = self._make_client(DeviceIdentity.generate())
        return self.client

    def login_qr(self) -> AsyncIterator[s.LoginUpdate]:
        return self._counted_login(self._login(None), "qr")

    def login_phone(self, phone: str) -> AsyncIterator[s.LoginUpdate]:
        return self._counted_login(self._login(phone), "phone")

    @staticmethod
    async def _counted_login(
        updates: AsyncGenerator[s.LoginUpdate, None], method: metrics.LoginMethod
    ) -> AsyncIterator[s.LoginUpdate]:
        """The login's updates, passed through; its end counted in ``whatsapp_logins``
        (``cancelled`` when the caller stops listening first)."""
        result: metrics.LoginResult = "cancelled"
        try:
            async for update in updates:
                match update:
                    case s.LoginSuccess():
                        result = "success"
                    case s.LoginTimeout():
                        result = "timeout"
                    case s.LoginFailed():
                        result = "failed"
                yield update
        except s.InvalidPhoneNumber:
            result = "failed"
            raise
        finally:
            # The login's own cleanup (closing an unpaired connection) runs now, not whenever
            # the garbage collector gets to the inner generator.
            await updates.aclose()
            metrics.login_finished(method, result)

    async def _login(self, phone: str | None) -> AsyncGenerator[s.LoginUpdate, None]:
        client = await self._fresh_client()
        connected = asyncio.Event()
        # The client ends the connection itself after a QR timeout or a pairing error, in the
        # task that dispatches the event; our disconnect waits for that task, or it would cancel
        # it halfway through closing the socket (and leave the socket open).
        stopping: asyncio.Task[object] | None = None

        def note_connected(event: object) -> None:
            nonlocal stopping
            if isinstance(event, ev.Connected):
                connected.set()
            elif isinstance(event, ev.QRTimeout | ev.PairError):
                stopping = asyncio.current_task()

        client.add_event_handler(note_connected)
        channel = LoginChannel(client)
        paired = False
        try:
            try:
                await client.connect()
            except (SocketError, OSError, ClientError) as e:
                yield s.LoginFailed(f"couldn't connect to WhatsApp: {e}")
                return
            if phone is not None:
                try:
                    await client.pair_phone(f"+{phone}")
                except InvalidPhoneNumberError as e:
                    raise s.InvalidPhoneNumber(f"Invalid phone number: {e}") from e
                except ClientError as e:
                    yield s.LoginFailed(f"WhatsApp didn't offer a pairing code: {e}")
                    return
            async for event in channel:
                match event:
                    case ev.QRCode(code=code) if phone is None:
                        yield s.QRCode(code)
                    case ev.PairingCode(code=code):
                        yield s.PairingCode(code)
                    case ev.PairSuccess(jid=jid):
                        paired = True
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(connected.wait(), CONNECTED_AFTER_PAIR_WAIT)
                        yield s.LoginSuccess(jid=str(jid), phone=jid.user)
                        return
                    case ev.QRTimeout():
                        yield s.LoginTimeout()
                        return
                    case ev.PairError(error=error):
                        yield s.LoginFailed(str(error) or type(error).__name__)
                        return
                    case ev.ClientOutdated():
                        yield s.LoginFailed(
                            "Got client outdated error while waiting for QRs. "
                            "The bridge must be updated to continue."
                        )
                        return
                    case ev.PermanentDisconnect():
                        yield s.LoginFailed(f"unexpected event from WhatsApp: {event.describe()}")
                        return
            yield s.LoginFailed("the connection to WhatsApp ended before the login finished")
        finally:
            channel.close()
            client.remove_event_handler(note_connected)
            if not paired:
                if stopping is not None and stopping is not asyncio.current_task():
                    await asyncio.wait({stopping}, timeout=CLIENT_STOP_WAIT)
                with contextlib.suppress(Exception):
                    await client.disconnect()

    # ---- media ----

    async def download_media(
        self, message: wa_e2e_pb2.Message, origin: s.MessageReceived | None = None
    ) -> bytes:
        return await download_message_media(self.client, message, origin)

    async def upload_media(self, data: bytes, media_type: MediaType) -> UploadResult:
        return await upload_media_data(self.client, data, media_type)

    # ---- dms ----

    async def get_joined_groups(self) -> list[s.GroupSummary]:
        client = self.client
        if client is None or not client.is_logged_in:
            raise LookupError("not connected to WhatsApp")
        try:
            infos = await group.get_joined_groups(client)
        except (ClientError, IQError, SocketError, OSError) as e:
            raise LookupError(f"can't list your groups: {e}") from e
        return [summarize_group(info) for info in infos]

    # ---- backfill ----

    async def request_history(self, chat: str, count: int, before: float) -> None:
        client = self.client
        if client is None or not client.is_logged_in:
            raise LookupError("not connected to WhatsApp")
        anchor = datetime.fromtimestamp(before, UTC)
        try:
            await client.history.request_older(
                self._jid(chat), "", False, anchor, count, timeout=HISTORY_REQUEST_TIMEOUT
            )
        except (HistoryRequestError, ClientError, SocketError, OSError) as e:
            raise LookupError(f"the phone sent no history: {e}") from e

    # ---- initial sync ----

    async def history_idle(self) -> None:
        if self.client is not None:
            await self.client.history.idle()


class ClientSessionFactory:
    """Builds each user's session with the bridge's config and database."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        self.bridge = bridge

    async def __call__(self, mxid: str, sink: s.EventSink) -> s.WhatsAppSession:
        return ClientSession(self.bridge, mxid, sink)
