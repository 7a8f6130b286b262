"""The WhatsApp multi-device client: one linked device's connection, from pairing to logout.

Public API (what the bridge uses)::

    device = await store.load_device() or DeviceIdentity.generate()
    client = Client(device, store, signal_store=..., url=..., root_public_key=...)
    client.add_event_handler(handler)      # sync or async callable, receives every event
    channel = client.login_channel()       # optional: QR codes ... PairSuccess as an iterator
    await client.connect()                 # returns once the Noise handshake is done
    code = await client.pair_phone("+1 555 0100")  # optional: link by code instead of QR
    await client.send_iq(...), await client.send_node(...)
    resp = await client.send_message(jid, message)  # a waE2E.Message; see message_builders
    await client.logout()                  # unlink at the server and delete the identity
    await client.disconnect()              # clean close, no reconnect

``signal_store`` must persist with the device (uploaded one-time pre-keys live there; the
default is in memory, for tests); so must ``messaging_store`` (LID map, sender-key recipients,
poll secrets) and ``app_state_store`` (app-state keys, collection versions and MACs; see
``client.app_state``, :mod:`.appstate`).
``url``/``root_public_key``/``ca_file`` point the client at a test server; the defaults are
WhatsApp's.

Properties: ``is_connected``, ``is_logged_in``, ``device`` (the :class:`DeviceIdentity`),
``phone_last_seen`` (when the phone was last known active; the bridge warns after 12 days).

The phone's last activity: WhatsApp never tells a linked device when its phone was online. As
whatsmeow/mautrix-whatsapp do, the client watches what the phone (our own account, device 0)
causes: its receipts (``read-self`` when it reads a chat, ``sender``, ``peer_msg``…) and the
messages it sends (their stanza ``t``, before any decryption). ``phone_last_seen`` only moves
forward, and each move emits :class:`PhoneSeen`; :meth:`Client.note_phone_activity` feeds in a
time known elsewhere (e.g. the bridge's stored one after a restart). Every receipt is parsed
into :class:`~.events.Receipt` events and acked (:mod:`.receipt`).

What happens is reported as events (:mod:`.events`): unpaired, the client emits rotating
:class:`QRCode` events (then :class:`QRTimeout`); after the phone links it,
:class:`PairSuccess`, a 515 restart, and a login that ends in :class:`Connected`. Dropped
connections emit :class:`Disconnected` and reconnect with backoff; permanent verdicts
(:class:`LoggedOut`, :class:`TemporaryBan`, :class:`StreamReplaced`, …) stop the client.

Other modules (messages, receipts, notifications) hook in with :meth:`Client.add_node_handler`,
:meth:`Client.add_receipt_handler` and :meth:`Client.add_notification_handler`; the client never
needs to know them. Groups
(:mod:`.group`), presence and chat state (:mod:`.presence`) and the device/identity/picture
notifications (:mod:`.notification`) install their handlers from ``__init__``; their requests are
functions of the client (``await group.get_group_info(client, jid)``). Whoever caches device lists
appends a hook to ``client.device_list_invalidators`` (called with each stale user).

Messaging parts the client holds: ``locks`` (per-device session and per-group sender-key locks,
:mod:`.locks`), ``devices`` (usync and the device-list cache, :mod:`.usync`), ``lids`` (the LID ↔
phone-number map, :mod:`.lid`), ``secrets`` (poll secrets and votes, :mod:`.msgsecret`),
``sender`` (:mod:`.send`) and ``resender`` (answers retry receipts, :mod:`.resend`), over
``messaging_store`` (:class:`~.store.MessagingStore`; in memory by default). Media (upload,
download, media retry, message builders) is ``client.media`` (:mod:`.media`); profile pictures
(:mod:`.profile`) are functions of the client too. Messages arrive
as :class:`~.events.Message` events (:mod:`.message`); :meth:`Client.mark_read` sends read and
played receipts; LID ↔ phone-number pairs seen in stanzas go to ``client.lids``. History sync
from our phone arrives as :class:`~.events.HistorySyncChunk` events; ``client.history``
(:mod:`.history_sync`) holds its progress and ``await client.history.request_older(...)``.

Layout (as whatsmeow splits ``client.go``): this module is the public API and the stanza
dispatch; :mod:`.connection` the connection's life (dial, read, reconnect, verdicts, sending);
:mod:`.pair_flow` and :mod:`.pair_code_flow` linking; :mod:`.login` the steps after
``<success>``; :mod:`.prekeys` the pre-key upload. A malformed stanza is refused (logged,
nacked or answered with an error IQ) by the handler it reaches and never ends the connection.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from . import group, message_builders, notification, pair_code, presence
from .appstate.sync import AppState
from .binary import BinaryError
from .binary.jid import JID
from .binary.node import Node
from .client_payload import ClientConfig
from .connection import (
    AlreadyConnectedError,
    AlreadyPairedError,
    ClientError,
    ConnectionLife,
    ConnectionTiming,
    DeviceDeletedError,
    NotConnectedError,
    NotPairedError,
)
from .connection_events import Action, Verdict, classify_failure, classify_stream_error
from .device import DeviceIdentity
from .event_buffer import EventBuffer, MemoryEventBuffer
from .events import PermanentDisconnect, PhoneSeen
from .history_sync import HistorySync
from .lid import LIDMap
from .locks import SignalLocks
from .login import handle_ib, handle_success
from .media import MediaManager
from .message import MessageHandler
from .message_builders import Message
from .message_source import parse_message_source
from .msgsecret import MessageSecrets
from .notification import DeviceListInvalidator
from .pair import PairClientType
from .pair_code_flow import CodePairing
from .pair_flow import PairFlow
from .prekeys import PRE_KEY_RECHECK_WINDOW, PreKeyUploader, parse_count
from .qrchan import LoginChannel
from .receipt import NACK_PARSING_ERROR, ReceiptError, parse_receipt
from .receipt_send import READ, READ_SELF, build_read_receipt
from .request import IQError
from .resend import Resender
from .send import DEFAULT_SEND_TIMEOUT, Sender, SendResponse
from .socket.cert import WA_CERT_PUB_KEY
from .socket.errors import SocketError
from .socket.framesocket import WA_URL
from .store import (
    AppStateStore,
    DeviceSignalStore,
    DeviceStore,
    MemoryAppStateStore,
    MemoryMessagingStore,
    MemorySignalStore,
    MessagingStore,
)
from .usync import UserInfo, Usync

__all__ = [
    "PRE_KEY_RECHECK_WINDOW",
    "AlreadyConnectedError",
    "AlreadyPairedError",
    "Client",
    "ClientError",
    "ConnectionTiming",
    "DeviceDeletedError",
    "EventHandler",
    "NodeHandler",
    "NotConnectedError",
    "NotPairedError",
    "is_permanent",
]

EventHandler = Callable[[object], Awaitable[None] | None]
NodeHandler = Callable[[Node], Awaitable[None]]


def _server_from(node: Node) -> bool:
    """Whether a stanza comes from the server itself (``from`` absent or s.whatsapp.net)."""
    sender = node.attrs.get("from")
    return sender is None or str(sender) == "s.whatsapp.net"


class Client(ConnectionLife):
    """One device's connection to WhatsApp. See the module docstring for the API."""

    def __init__(
        self,
        device: DeviceIdentity,
        device_store: DeviceStore,
        *,
        signal_store: DeviceSignalStore | None = None,
        messaging_store: MessagingStore | None = None,
        app_state_store: AppStateStore | None = None,
        event_buffer: EventBuffer | None = None,
        url: str = WA_URL,
        root_public_key: bytes = WA_CERT_PUB_KEY,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | Path | None = None,
        config: ClientConfig | None = None,
        timing: ConnectionTiming | None = None,
        qr_platform: PairClientType = PairClientType.OTHER_WEB_CLIENT,
        send_presence: bool = True,
        auto_reconnect: bool = True,
        initial_auto_reconnect: bool = False,
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(
            url=url,
            root_public_key=root_public_key,
            ssl_context=ssl_context,
            ca_file=ca_file,
            timing=timing or ConnectionTiming(),
            auto_reconnect=auto_reconnect,
            initial_auto_reconnect=initial_auto_reconnect,
        )
        self.device = device
        self.device_store = device_store
        self.signal_store: DeviceSignalStore = signal_store or MemorySignalStore(
            device.identity_key, device.registration_id
        )
        self.messaging_store: MessagingStore = messaging_store or MemoryMessagingStore()
        self.event_buffer: EventBuffer = event_buffer or MemoryEventBuffer()
        """Decrypted plaintexts until their message is handled (:mod:`.event_buffer`)."""
        self.locks = SignalLocks()
        """Per-address session locks and per-group sender-key locks (:mod:`.locks`)."""
        self.lids = LIDMap(self.messaging_store)
        self.devices = Usync(self.send_iq, self.lids)
        """usync queries and the device-list cache (``client.devices.invalidate(jid)``)."""
        self.secrets = MessageSecrets(self.messaging_store)
        self.sender = Sender(self)
        self.config = config or ClientConfig()
        self.qr_platform = qr_platform
        self.send_presence = send_presence
        self.log = log or logging.getLogger("mautrix_whatsapp.whatsapp.client")
        self.phone_last_seen: datetime | None = None
        """When the phone was last known to be active (UTC), or None if never seen."""
        self.server_time_offset = 0.0

        self._handlers: list[EventHandler] = []
        self._node_handlers: dict[str, NodeHandler] = {}
        self._notification_handlers: dict[str, NodeHandler] = {}
        self.resender = Resender(self)
        self._receipt_handlers: list[NodeHandler] = [self.resender.handle_receipt]
        self._pair = PairFlow(self)
        self._code_pairing = CodePairing(self)
        self._pre_keys = PreKeyUploader(self)
        self.device_list_invalidators: list[DeviceListInvalidator] = [self.devices.invalidate]
        """Called with each user whose device list went stale (``devices`` notifications)."""
        group.install(self)
        presence.install(self)
        notification.install(self)
        self.send_read_receipts = True
        """The account's read-receipt privacy setting: off, :meth:`mark_read` only tells our
        own devices (``read-self``)."""
        self.messages = MessageHandler(self)
        self.messages.install()
        self.media = MediaManager(self)
        """Upload, download, media retry and the cached ``media_conn`` (:mod:`.media`)."""
        self.history = HistorySync(self)
        """History sync from our phone (:mod:`.history_sync`), on-demand requests included."""
        self.history.install()
        self.app_state = AppState(self, app_state_store or MemoryAppStateStore())
        """App-state collections: fetch, send our patches, key shares (:mod:`.appstate`)."""
        self.app_state.install()

    # --- events -----------------------------------------------------------------------------

    def add_event_handler(self, handler: EventHandler) -> None:
        """Receive every event. Async handlers are awaited in order; errors are logged."""
        self._handlers.append(handler)

    def remove_event_handler(self, handler: EventHandler) -> None:
        with contextlib.suppress(ValueError):
            self._handlers.remove(handler)

    def login_channel(self) -> LoginChannel:
        """A linking attempt's events (QR codes, then the outcome); create before connect()."""
        return LoginChannel(self)

    def add_node_handler(self, tag: str, handler: NodeHandler) -> None:
        """Handle top-level stanzas of ``tag`` (``message``, ``receipt``…); one per tag.

        A ``receipt`` handler runs before the client emits the Receipt events and acks it.
        """
        self._node_handlers[tag] = handler

    def add_receipt_handler(self, handler: NodeHandler) -> None:
        """Also see every ``<receipt>`` stanza (any number of these; before the events)."""
        self._receipt_handlers.append(handler)

    def add_notification_handler(self, notification_type: str, handler: NodeHandler) -> None:
        """Handle ``<notification type=…>``; the client acks every notification itself."""
        self._notification_handlers[notification_type] = handler

    async def dispatch(self, event: object) -> None:
        """Deliver ``event`` to every handler (also used by modules built on the client)."""
        await self.dispatch_message(event)

    async def dispatch_message(self, event: object) -> bool:
        """Like :meth:`dispatch`, but False if a handler raised: the message was not taken
        over, so its delivery receipt is held back and WhatsApp redelivers it."""
        ok = True
        for handler in list(self._handlers):
            try:
                result = handler(event)
                if result is not None:
                    await result
            except Exception:
                self.log.exception("Event handler failed for %s", type(event).__name__)
                ok = False
        return ok

    # --- state ------------------------------------------------------------------------------

    @property
    def is_logged_in(self) -> bool:
        return self._logged_in and self.is_connected

    @property
    def jid(self) -> JID | None:
        return self.device.jid

    def note_phone_activity(self, at: datetime) -> None:
        """Record that the phone was active at ``at`` (a naive time is taken as UTC).

        Only moves ``phone_last_seen`` forward (signs of life arrive out of order, e.g. from
        the offline queue); emits :class:`PhoneSeen` when it moved.
        """
        seen = self._advance_phone_seen(at)
        if seen is not None:
            self._spawn(self.dispatch(PhoneSeen(at=seen)), connection=False)

    def _advance_phone_seen(self, at: datetime) -> datetime | None:
        """Move ``phone_last_seen`` to ``at`` if that is later; return the new value if so."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if self.phone_last_seen is not None and at <= self.phone_last_seen:
            return None
        self.phone_last_seen = at
        return at

    async def _phone_active(self, at: datetime) -> None:
        """A stanza the phone caused, sent at ``at``: PhoneSeen before anything else of it."""
        seen = self._advance_phone_seen(at)
        if seen is not None:
            await self.dispatch(PhoneSeen(at=seen))

    def _on_new_connection(self) -> None:
        self._pair.new_connection()

    # --- linking ----------------------------------------------------------------------------

    async def pair_phone(
        self,
        phone: str,
        *,
        show_push_notification: bool = True,
        client_type: PairClientType = PairClientType.CHROME,
        client_display_name: str = pair_code.DEFAULT_PLATFORM_DISPLAY,
    ) -> str:
        """Ask to link by code; return the ``XXXX-XXXX`` code to type on the phone.

        The number is validated before anything is sent (:class:`InvalidPhoneNumberError`).
        Call it after :meth:`connect`; it waits for the server to offer pairing.
        """
        return await self._code_pairing.start(
            phone,
            show_push_notification=show_push_notification,
            client_type=client_type,
            client_display_name=client_display_name,
        )

    # --- messages ---------------------------------------------------------------------------

    async def mark_read(
        self,
        chat: JID,
        sender: JID | None,
        message_ids: list[str],
        timestamp: datetime | None = None,
        receipt_type: str = READ,
    ) -> None:
        """Tell ``chat`` (and our other devices) that we read ``message_ids``.

        ``sender`` sent them (needed in groups); ``receipt_type`` may be ``read-self`` (only our
        devices learn it), ``played`` or ``played-self``. With ``send_read_receipts`` off (the
        account's privacy setting), ``read`` is sent as ``read-self``. Raises ValueError for no
        ids.
        """
        if receipt_type == READ and not self.send_read_receipts:
            receipt_type = READ_SELF
        node = build_read_receipt(
            chat, sender, message_ids, timestamp or datetime.now(UTC), receipt_type
        )
        await self.send_node(node)

    # --- pre-keys ---------------------------------------------------------------------------

    async def get_server_pre_key_count(self) -> int:
        return await self._pre_keys.server_count()

    async def upload_pre_keys(self, count: int) -> None:
        """Generate, store and upload ``count`` one-time pre-keys."""
        await self._pre_keys.upload(count)

    async def _ensure_pre_keys_notified(self, node: Node, server_count: int) -> None:
        """The server's low-count notice: top up; failures wait for the next notice/login."""
        try:
            await self._pre_keys.ensure(server_count)
        except (IQError, NotConnectedError, SocketError, BinaryError) as e:
            self.log.warning(
                "Pre-key top-up after notification %s failed: %s", node.attrs.get("id"), e
            )

    # --- messaging ---------------------------------------------------------------------------

    async def send_message(
        self,
        to: JID,
        message: Message,
        *,
        message_id: str | None = None,
        edit: str | None = None,
        peer: bool = False,
        timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> SendResponse:
        """Send ``message`` to a user or group; returns once the server acked it (:mod:`.send`).

        Raises :class:`~.send.ServerAckError`, :class:`~.send.SendTimeoutError` or another
        :class:`~.send.SendError`. ``edit`` overrides the ``edit`` attribute derived from the
        message; ``peer`` sends to our own phone (``to`` is our own JID).
        """
        return await self.sender.send_message(
            to, message, message_id=message_id, edit=edit, peer=peer, timeout=timeout
        )

    async def send_peer_message(self, message: Message) -> SendResponse:
        """Send a protocol message to our own phone (``category="peer"``)."""
        if self.device.jid is None:
            raise NotPairedError("not logged in")
        return await self.send_message(self.device.jid.to_non_ad(), message, peer=True)

    def own_jids(self) -> list[JID]:
        """Our device's JIDs (phone number and LID, when known)."""
        return [jid for jid in (self.device.jid, self.device.lid) if jid is not None]

    def build_revoke(self, chat: JID, message_id: str, sender: JID | None = None) -> Message:
        """Delete ``message_id`` for everyone (``sender``: its author, if not us; admins)."""
        return message_builders.revoke(chat, message_id, sender, own=self.own_jids())

    def build_reaction(
        self, chat: JID, message_id: str, sender: JID | None, emoji: str
    ) -> Message:
        """React to ``message_id`` by ``sender`` (None: ours); ``emoji=""`` removes it."""
        return message_builders.reaction(chat, message_id, sender, emoji, own=self.own_jids())

    async def build_poll_vote(
        self,
        chat: JID,
        poll_id: str,
        poll_sender: JID,
        options: list[str],
        *,
        voter: JID | None = None,
    ) -> Message:
        """Our vote on a poll whose secret we know (we sent or received it)."""
        voter = voter or self.device.jid
        if voter is None:
            raise NotPairedError("not logged in")
        return await self.secrets.build_poll_vote(
            chat, poll_id, poll_sender, voter, options, own=self.own_jids()
        )

    async def is_on_whatsapp(self, phones: list[str]) -> list[UserInfo]:
        return await self.devices.is_on_whatsapp(phones)

    async def get_user_devices(self, users: list[JID]) -> list[JID]:
        return await self.devices.get_devices(users)

    # --- stanzas ----------------------------------------------------------------------------

    async def _handle_node(self, node: Node) -> Verdict | None:
        tag = node.tag
        if tag == "stream:error":
            return classify_stream_error(node)
        if tag == "failure":
            return classify_failure(node)
        if tag == "xmlstreamend":
            return Verdict(None, Action.RECONNECT)
        if tag == "success":
            await handle_success(self, node)
        elif tag == "iq":
            await self._handle_iq(node)
        elif tag == "ib":
            await handle_ib(self, node)
        elif tag == "notification":
            await self._handle_notification(node)
        elif tag == "receipt":
            await self._handle_receipt(node)
        else:
            if tag == "message":
                await self._observe_message(node)
            handler = self._node_handlers.get(tag)
            if handler is not None:
                await handler(node)
            else:
                self.log.debug("Unhandled <%s>", tag)
        return None

    async def _handle_iq(self, node: Node) -> None:
        """Requests from the server: ping, and the two linking steps (whatsmeow's handleIQ)."""
        children = node.children
        if node.attrs.get("type") == "get" and node.attrs.get("xmlns") == "urn:xmpp:ping":
            await self._reply_result(node)
            return
        if len(children) != 1 or not _server_from(node):
            return
        if children[0].tag == "pair-device":
            await self._pair.handle_pair_device(node, children[0])
        elif children[0].tag == "pair-success":
            await self._pair.handle_pair_success(node, children[0])

    async def _handle_notification(self, node: Node) -> None:
        notification_type = str(node.attrs.get("type", ""))
        try:
            if notification_type == "link_code_companion_reg":
                self._spawn(self._code_pairing.handle_notification(node))
            elif notification_type == "encrypt" and node.get_optional_child_by_tag("count"):
                try:
                    count = parse_count(node)
                except BinaryError as e:
                    self.log.warning("Malformed pre-key count notification: %s", e)
                else:
                    self._spawn(self._ensure_pre_keys_notified(node, count))
            else:
                handler = self._notification_handlers.get(notification_type)
                if handler is not None:
                    await handler(node)
        finally:
            await self._ack(node)

    async def _handle_receipt(self, node: Node) -> None:
        """Parse, note the phone's activity, hand on, ack (whatsmeow's ``handleReceipt``)."""
        try:
            receipts = parse_receipt(node, self.device.jid, self.device.lid)
        except ReceiptError as e:
            self.log.warning("Failed to parse receipt: %s", e)
            await self._ack(node, NACK_PARSING_ERROR)
            return
        try:
            for receipt in receipts:
                if receipt.is_from_own_phone and receipt.timestamp is not None:
                    await self._phone_active(receipt.timestamp)
            handler = self._node_handlers.get("receipt")
            if handler is not None:
                await handler(node)
            for receipt_handler in self._receipt_handlers:
                await receipt_handler(node)
            for receipt in receipts:
                await self.dispatch(receipt)
        finally:
            await self._ack(node)

    async def _observe_message(self, node: Node) -> None:
        """A message our phone sent (to a chat, or to us as a peer message) shows it was on."""
        try:
            source = parse_message_source(node, self.device.jid, self.device.lid)
            sent = node.attr_unix_time_opt("t")
        except BinaryError as e:
            self.log.debug("Can't tell who sent message %s: %s", node.attrs.get("id"), e)
            return
        if source.is_from_own_phone and sent is not None:
            await self._phone_active(sent)

    # --- leaving ----------------------------------------------------------------------------

    async def logout(self, *, force: bool = False) -> None:
        """Unlink this device at the server (``remove-companion-device``), then delete it.

        If the request fails, nothing is deleted and the error propagates, unless ``force``:
        then the device is dropped locally anyway (the phone may still list it).
        """
        if self.device.jid is None:
            raise NotPairedError("not logged in")
        try:
            await self.send_iq(
                "md",
                "set",
                [
                    Node(
                        "remove-companion-device",
                        {"jid": self.device.jid, "reason": "user_initiated"},
                    )
                ],
            )
        except (IQError, NotConnectedError, SocketError):
            if not force:
                raise
            self.log.warning("Logout request failed; forgetting the device anyway")
        await self.disconnect()
        await self._delete_device()

    async def _delete_device(self) -> None:
        self._deleted = True
        try:
            await self.device_store.delete_device()
        except Exception:
            self.log.exception("Failed to delete the device identity")


def is_permanent(event: object) -> bool:
    """Whether the client stays disconnected after ``event``."""
    return isinstance(event, PermanentDisconnect)
