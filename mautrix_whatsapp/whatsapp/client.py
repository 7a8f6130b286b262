"""The WhatsApp multi-device client: one linked device's connection, from pairing to logout.

Public API (what the bridge uses)::

    device = await store.load_device() or DeviceIdentity.generate()
    client = Client(device, store, signal_store=..., url=..., root_public_key=...)
    client.add_event_handler(handler)      # sync or async callable, receives every event
    channel = client.login_channel()       # optional: QR codes ... PairSuccess as an iterator
    await client.connect()                 # returns once the Noise handshake is done
    code = await client.pair_phone("+1 555 0100")  # optional: link by code instead of QR
    await client.send_iq(...), await client.send_node(...)
    await client.logout()                  # unlink at the server and delete the identity
    await client.disconnect()              # clean close, no reconnect

``signal_store`` must persist with the device (uploaded one-time pre-keys live there; the
default is in memory, for tests). ``url``/``root_public_key``/``ca_file`` point the client at a
test server; the defaults are WhatsApp's.

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

Other modules (messages, receipts, notifications) hook in with :meth:`Client.add_node_handler`
and :meth:`Client.add_notification_handler`; the client never needs to know them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import pair_code
from .binary import BinaryError, marshal, unmarshal
from .binary.jid import JID, SERVER_JID
from .binary.node import Content, Node
from .client_payload import ClientConfig, client_payload
from .connection_events import Action, Verdict, classify_failure, classify_stream_error, parse_ib
from .device import DeviceIdentity
from .events import (
    Connected,
    Disconnected,
    PairError,
    PairingCode,
    PairSuccess,
    PermanentDisconnect,
    PhoneSeen,
    QRTimeout,
)
from .keepalive import KeepAliveTiming, keepalive_loop
from .message_source import parse_message_source
from .pair import PairClientType, make_qr_data, process_pair_success
from .pair import PairError as PairFailure
from .prekeys import (
    INITIAL_PRE_KEY_COUNT,
    MIN_PRE_KEY_COUNT,
    WANTED_PRE_KEY_COUNT,
    generate_pre_keys,
    parse_count,
    upload_content,
)
from .qrchan import LoginChannel, QRTiming, rotate_qr_codes
from .receipt import NACK_PARSING_ERROR, ReceiptError, build_ack, parse_receipt
from .request import IQError, RequestTracker
from .signal.address import SignalAddress
from .socket.cert import WA_CERT_PUB_KEY
from .socket.errors import SocketError
from .socket.framesocket import WA_URL, FrameSocket
from .socket.handshake import do_handshake
from .socket.noise_socket import NoiseSocket
from .store import DeviceStore, MemorySignalStore, SignalProtocolStore

PRE_KEY_RECHECK_WINDOW = 600.0
"""After an upload, notified counts are re-checked with the server for this long (seconds)."""

EventHandler = Callable[[object], Awaitable[None] | None]
NodeHandler = Callable[[Node], Awaitable[None]]


class ClientError(Exception):
    """Base of the client's own errors."""


class NotConnectedError(ClientError, ConnectionError):
    """The operation needs a live connection."""


class AlreadyConnectedError(ClientError):
    """``connect()`` while a connection is up."""


class DeviceDeletedError(ClientError):
    """The device was logged out and its identity deleted; make a new Client to link again."""


class NotPairedError(ClientError):
    """The operation needs a linked device."""


class AlreadyPairedError(ClientError):
    """Pairing was requested but the device is already linked."""


@dataclass(frozen=True)
class ConnectionTiming:
    """Every delay of the connection's life; the defaults are WhatsApp's/whatsmeow's."""

    keepalive: KeepAliveTiming = field(default_factory=KeepAliveTiming)
    qr: QRTiming = field(default_factory=QRTiming)
    reconnect_step: float = 2.0
    """Backoff grows by this much per failed attempt (0, 2, 4, … s)."""
    reconnect_max: float = 120.0
    iq_timeout: float = 75.0
    connect_timeout: float = 20.0
    handshake_timeout: float = 20.0
    pair_device_wait: float = 30.0
    """How long :meth:`Client.pair_phone` waits for the server to offer pairing."""

    def backoff(self, attempt: int) -> float:
        return min(attempt * self.reconnect_step, self.reconnect_max)


def _server_from(node: Node) -> bool:
    """Whether a stanza comes from the server itself (``from`` absent or s.whatsapp.net)."""
    sender = node.attrs.get("from")
    return sender is None or str(sender) == "s.whatsapp.net"


class Client:
    """One device's connection to WhatsApp. See the module docstring for the API."""

    def __init__(
        self,
        device: DeviceIdentity,
        device_store: DeviceStore,
        *,
        signal_store: SignalProtocolStore | None = None,
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
        self.device = device
        self.device_store = device_store
        self.signal_store: SignalProtocolStore = signal_store or MemorySignalStore(
            device.identity_key, device.registration_id
        )
        self.url = url
        self.root_public_key = root_public_key
        self.ssl_context = ssl_context
        self.ca_file = ca_file
        self.config = config or ClientConfig()
        self.timing = timing or ConnectionTiming()
        self.qr_platform = qr_platform
        self.send_presence = send_presence
        self.auto_reconnect = auto_reconnect
        self.initial_auto_reconnect = initial_auto_reconnect
        self.log = log or logging.getLogger("mautrix_whatsapp.whatsapp.client")
        self.phone_last_seen: datetime | None = None
        """When the phone was last known to be active (UTC), or None if never seen."""
        self.server_time_offset = 0.0

        self._handlers: list[EventHandler] = []
        self._node_handlers: dict[str, NodeHandler] = {}
        self._notification_handlers: dict[str, NodeHandler] = {}
        self._requests = RequestTracker()
        self._socket: NoiseSocket | None = None
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._other_tasks: set[asyncio.Task[Any]] = set()
        self._qr_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()
        self._expected_disconnect = False
        self._logged_in = False
        self._deleted = False
        self._reconnect_errors = 0
        self._pair_device_seen = asyncio.Event()
        self._code_pairing: pair_code.CompanionHello | None = None
        self._code_pairing_ref: bytes | None = None
        self._pre_key_lock = asyncio.Lock()
        self._last_pre_key_upload = -PRE_KEY_RECHECK_WINDOW

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

    def add_notification_handler(self, notification_type: str, handler: NodeHandler) -> None:
        """Handle ``<notification type=…>``; the client acks every notification itself."""
        self._notification_handlers[notification_type] = handler

    async def dispatch(self, event: object) -> None:
        """Deliver ``event`` to every handler (also used by modules built on the client)."""
        for handler in list(self._handlers):
            try:
                result = handler(event)
                if result is not None:
                    await result
            except Exception:
                self.log.exception("Event handler failed for %s", type(event).__name__)

    # --- state ------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._socket is not None and self._socket.is_connected

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

    # --- connecting -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the websocket and run the handshake (login if paired, registration if not).

        Raises :class:`SocketError` subclasses if that fails (unless ``initial_auto_reconnect``:
        then it emits Disconnected and keeps trying in the background); later drops reconnect
        by themselves (``auto_reconnect``) until :meth:`disconnect` or a permanent verdict.
        """
        if self._deleted:
            raise DeviceDeletedError("this device was logged out")
        self._expected_disconnect = False
        self._cancel_reconnect()
        try:
            await self._connect_once()
        except (SocketError, OSError) as e:
            if not (self.initial_auto_reconnect and self.auto_reconnect):
                raise
            self.log.warning("Initial connection failed, retrying in the background: %s", e)
            self._spawn(self.dispatch(Disconnected()), connection=False)
            self._schedule_reconnect(immediate=False)

    async def _connect_once(self) -> None:
        async with self._connect_lock:
            if self.is_connected:
                raise AlreadyConnectedError("already connected")
            await self._teardown_socket()
            frame_socket = FrameSocket(
                self.url,
                ssl_context=self.ssl_context,
                ca_file=self.ca_file,
                connect_timeout=self.timing.connect_timeout,
                log=self.log.getChild("socket"),
            )
            await frame_socket.connect()
            payload = client_payload(self.device, self.config)
            noise = await do_handshake(
                frame_socket,
                self.device.noise_key,
                payload,
                self.root_public_key,
                self.timing.handshake_timeout,
            )
            self._socket = noise
            self._logged_in = False
            self._pair_device_seen.clear()
            queue: asyncio.Queue[Node | None] = asyncio.Queue()
            self._spawn(self._read_loop(noise, queue))
            self._spawn(self._handle_loop(noise, queue))
            self._spawn(
                keepalive_loop(
                    self.timing.keepalive, self._ping, self.dispatch, self._force_reconnect
                )
            )
            self.log.debug("Connected to %s (paired: %s)", self.url, self.device.is_paired)

    async def disconnect(self) -> None:
        """Close the connection for good (no reconnect) and stop every background task."""
        self._expected_disconnect = True
        self._cancel_reconnect()
        reconnect = self._reconnect_task
        if reconnect is not None and reconnect is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await reconnect
        await self._teardown_socket()

    async def _teardown_socket(self) -> None:
        """Close the socket and cancel the tasks that belong to it."""
        socket, self._socket = self._socket, None
        self._logged_in = False
        current = asyncio.current_task()
        tasks = [t for t in self._conn_tasks if t is not current]
        for task in tasks:
            task.cancel()
        if socket is not None:
            await socket.close()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._requests.fail_all()

    def _cancel_reconnect(self) -> None:
        task = self._reconnect_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()

    def _spawn(
        self, coro: Coroutine[Any, Any, Any], *, connection: bool = True
    ) -> asyncio.Task[Any]:
        """Run a background task; connection tasks die with the socket."""
        task = asyncio.get_running_loop().create_task(coro)
        if connection:
            self._conn_tasks.add(task)
        else:
            self._other_tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._conn_tasks.discard(task)
        self._other_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Background task failed", exc_info=task.exception())

    def _on_connection_lost(self, socket: NoiseSocket, reason: Verdict | None) -> None:
        """The read loop ended. Decide between reconnecting and staying down."""
        if socket is not self._socket:
            return
        self._socket = None
        self._logged_in = False
        self._requests.fail_all()
        if self._expected_disconnect:
            self._finish_connection_tasks()
            return
        action = reason.action if reason is not None else Action.RECONNECT
        if action is Action.RECONNECT_NOW:
            self._schedule_reconnect(immediate=True)
        elif action is Action.RECONNECT and self.auto_reconnect:
            event = reason.event if reason is not None else None
            if not isinstance(event, Disconnected):
                event = Disconnected()
            self._spawn(self.dispatch(event), connection=False)
            self._schedule_reconnect(immediate=False)
        else:
            self._finish_connection_tasks()

    def _finish_connection_tasks(self) -> None:
        current = asyncio.current_task()
        for task in list(self._conn_tasks):
            if task is not current:
                task.cancel()

    def _schedule_reconnect(self, *, immediate: bool) -> None:
        if self._reconnect_task is not None and not self._reconnect_task.done():
            return
        task = asyncio.get_running_loop().create_task(self._reconnect_loop(immediate))
        self._reconnect_task = task
        self._other_tasks.add(task)
        task.add_done_callback(self._task_done)

    async def _reconnect_loop(self, immediate: bool) -> None:
        # The old connection's tasks must be gone before a new socket starts.
        await self._teardown_socket()
        attempt = 0 if immediate else self._reconnect_errors
        while not self._expected_disconnect and not self._deleted:
            delay = 0.0 if immediate and attempt == 0 else self.timing.backoff(attempt)
            self._reconnect_errors += 1
            attempt += 1
            if delay:
                self.log.debug("Reconnecting in %.1f s", delay)
                await asyncio.sleep(delay)
            if self._expected_disconnect:
                return
            try:
                await self._connect_once()
                return
            except AlreadyConnectedError:
                return
            except (SocketError, OSError) as e:
                self.log.warning("Reconnect failed: %s", e)

    async def _force_reconnect(self) -> None:
        """Keepalive gave up on this connection: drop it and reconnect."""
        socket = self._socket
        if socket is None:
            return
        self.log.warning("Keepalive failed for too long, reconnecting")
        self._on_connection_lost(socket, Verdict(Disconnected(), Action.RECONNECT))
        await socket.close()

    # --- reading ----------------------------------------------------------------------------

    async def _read_loop(self, socket: NoiseSocket, queue: asyncio.Queue[Node | None]) -> None:
        """Decrypt and decode frames; IQ answers go to their waiters, the rest to the queue."""
        try:
            async for frame in socket:
                try:
                    node = unmarshal(frame)
                except BinaryError as e:
                    self.log.warning("Dropping undecodable frame: %s", e)
                    continue
                self.log.debug("Received %r", node)
                is_answer = node.tag == "iq" and node.attrs.get("type") in ("result", "error")
                if is_answer and self._requests.resolve(node):
                    continue
                queue.put_nowait(node)
        except SocketError as e:
            self.log.debug("Connection failed: %s", e)
        finally:
            queue.put_nowait(None)

    async def _handle_loop(self, socket: NoiseSocket, queue: asyncio.Queue[Node | None]) -> None:
        """Handle stanzas one by one, in order; then decide what the end of the stream means."""
        verdict: Verdict | None = None
        while (node := await queue.get()) is not None:
            try:
                result = await self._handle_node(node)
            except (BinaryError, ValueError) as e:
                self.log.warning("Failed to handle <%s>: %s", node.tag, e)
                continue
            except (NotConnectedError, SocketError, IQError) as e:
                self.log.debug("Connection ended while handling <%s>: %s", node.tag, e)
                continue
            except Exception:
                # One bad stanza (or a bug in a handler) must not take the connection down.
                self.log.exception("Failed to handle <%s>", node.tag)
                continue
            if result is not None:
                verdict = result
                await self._apply_verdict(result)
                if result.action is not Action.RECONNECT:
                    break
        if verdict is not None and verdict.action in (Action.STOP, Action.LOGOUT):
            self._expected_disconnect = True
        self._on_connection_lost(socket, verdict)
        await socket.close()

    async def _apply_verdict(self, verdict: Verdict) -> None:
        if verdict.action is Action.LOGOUT:
            self._expected_disconnect = True
            await self._delete_device()
        elif verdict.action is Action.STOP:
            self._expected_disconnect = True
        event = verdict.event
        if event is not None and not isinstance(event, Disconnected):
            await self.dispatch(event)

    async def _handle_node(self, node: Node) -> Verdict | None:
        tag = node.tag
        if tag == "stream:error":
            return classify_stream_error(node)
        if tag == "failure":
            return classify_failure(node)
        if tag == "xmlstreamend":
            return Verdict(None, Action.RECONNECT)
        if tag == "success":
            await self._handle_success(node)
        elif tag == "iq":
            await self._handle_iq(node)
        elif tag == "ib":
            await self._handle_ib(node)
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

    # --- sending ----------------------------------------------------------------------------

    async def send_node(self, node: Node) -> None:
        socket = self._socket
        if socket is None or not socket.is_connected:
            raise NotConnectedError("not connected")
        self.log.debug("Sending %r", node)
        await socket.send_frame(marshal(node))

    async def send_iq(
        self,
        xmlns: str,
        iq_type: str,
        content: Content = None,
        *,
        to: JID = SERVER_JID,
        timeout: float | None = None,
        attrs: dict[str, str | JID] | None = None,
    ) -> Node:
        """Send ``<iq xmlns type to id>content</iq>`` and return the result node.

        Raises :class:`IQError` for an error answer, :class:`IQTimeoutError`, or
        :class:`IQDisconnectedError` if the connection ends first.
        """
        request_id = self._requests.next_id()
        node_attrs: dict[str, str | JID] = {"id": request_id, "type": iq_type, "to": to}
        if xmlns:
            node_attrs["xmlns"] = xmlns
        node_attrs.update(attrs or {})
        future = self._requests.expect(request_id)
        try:
            await self.send_node(Node("iq", node_attrs, content))
        except BaseException:
            self._requests.forget(request_id)
            raise
        return await self._requests.wait(
            request_id, future, self.timing.iq_timeout if timeout is None else timeout
        )

    async def _ping(self, deadline: float) -> bool:
        try:
            await self.send_iq("w:p", "get", timeout=deadline)
        except IQError as e:
            # Any answer, even an error, proves the connection is alive.
            return e.node is not None
        except (NotConnectedError, SocketError):
            return False
        return True

    async def _reply_result(self, request: Node) -> None:
        attrs: dict[str, str | JID] = {"id": str(request.attrs.get("id", "")), "type": "result"}
        attrs["to"] = request.attrs.get("from", SERVER_JID)
        await self.send_node(Node("iq", attrs))

    async def _reply_error(self, request_id: str, code: int, text: str) -> None:
        error = Node("error", {"code": str(code), "text": text})
        await self.send_node(
            Node("iq", {"id": request_id, "type": "error", "to": SERVER_JID}, [error])
        )

    # --- server IQs: pairing ----------------------------------------------------------------

    async def _handle_iq(self, node: Node) -> None:
        children = node.children
        if node.attrs.get("type") == "get" and node.attrs.get("xmlns") == "urn:xmpp:ping":
            await self._reply_result(node)
            return
        if len(children) != 1 or not _server_from(node):
            return
        if children[0].tag == "pair-device":
            await self._handle_pair_device(node, children[0])
        elif children[0].tag == "pair-success":
            await self._handle_pair_success(node, children[0])

    async def _handle_pair_device(self, node: Node, pair_device: Node) -> None:
        await self._reply_result(node)
        if self.device.is_paired:
            self.log.warning("Server offered pairing, but the device is already paired")
            return
        refs = [child.content_str() for child in pair_device.children if child.tag == "ref"]
        codes = [
            make_qr_data(
                ref,
                self.device.noise_key.public,
                self.device.identity_key.public,
                self.device.adv_secret,
                self.qr_platform,
            )
            for ref in refs
        ]
        self._pair_device_seen.set()
        if self._qr_task is not None:
            self._qr_task.cancel()
        self._qr_task = self._spawn(
            rotate_qr_codes(codes, self.timing.qr, self.dispatch, self._qr_timed_out)
        )

    async def _qr_timed_out(self) -> None:
        self.log.info("QR codes ran out before a phone linked us")
        self._expected_disconnect = True
        await self.dispatch(QRTimeout())
        socket = self._socket
        if socket is not None:
            self._on_connection_lost(socket, Verdict(None, Action.STOP))
            await socket.close()

    async def _handle_pair_success(self, node: Node, success: Node) -> None:
        request_id = str(node.attrs.get("id", ""))
        t = node.attrs.get("t")
        if t is not None and str(t).isdigit():
            self.server_time_offset = int(str(t)) - time.time()
        identity_node = success.get_optional_child_by_tag("device-identity")
        device_node = success.get_optional_child_by_tag("device")
        platform_node = success.get_optional_child_by_tag("platform")
        biz_node = success.get_optional_child_by_tag("biz")
        try:
            if identity_node is None or device_node is None:
                raise PairFailure("pair-success without device-identity or device")
            jid = device_node.attr_jid("jid")
            lid = device_node.attr_jid_opt("lid")
            paired = process_pair_success(
                identity_node.content_bytes(), self.device.adv_secret, self.device.identity_key
            )
        except (PairFailure, BinaryError) as e:
            error = e if isinstance(e, PairFailure) else PairFailure(str(e))
            self.log.warning("Refusing pair-success: %s", error)
            with contextlib.suppress(NotConnectedError, SocketError):
                await self._reply_error(request_id, error.code, error.text)
            await self._pairing_failed(error)
            return
        platform = str(platform_node.attrs.get("name", "")) if platform_node else ""
        business = str(biz_node.attrs.get("name", "")) if biz_node else ""
        unpaired = self.device
        paired_device = unpaired.unpaired_copy()
        paired_device.jid = jid
        paired_device.lid = lid
        paired_device.account = paired.account
        paired_device.platform = platform
        paired_device.business_name = business
        try:
            await self.device_store.save_device(paired_device)
            if lid is not None:
                address = SignalAddress.from_jid_parts(lid.user, 0, lid.server)
                await self.signal_store.save_identity(address, paired.account_signature_key)
        except Exception as e:
            self.log.exception("Failed to save the paired device")
            with contextlib.suppress(NotConnectedError, SocketError):
                await self._reply_error(request_id, 500, "internal-error")
            with contextlib.suppress(Exception):
                await self.device_store.delete_device()
            await self._pairing_failed(e)
            return
        self.device = paired_device
        sign = Node(
            "pair-device-sign",
            {},
            [Node("device-identity", {"key-index": str(paired.key_index)}, paired.self_signed)],
        )
        await self.send_node(
            Node("iq", {"to": SERVER_JID, "type": "result", "id": request_id}, [sign])
        )
        self._code_pairing = None
        # Stop the QR rotation; the 515 that follows reconnects with the login payload.
        if self._qr_task is not None:
            self._qr_task.cancel()
            self._qr_task = None
        self.log.info("Paired as %s", jid)
        await self.dispatch(
            PairSuccess(jid=jid, lid=lid, platform=platform, business_name=business)
        )

    async def _pairing_failed(self, error: Exception) -> None:
        """Like whatsmeow: report the error and drop the connection, still unpaired."""
        self._expected_disconnect = True
        await self.dispatch(PairError(error=error))
        socket = self._socket
        if socket is not None:
            self._on_connection_lost(socket, Verdict(None, Action.STOP))
            await socket.close()

    # --- pairing code -----------------------------------------------------------------------

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
        digits = pair_code.validate_phone_number(phone)
        if self.device.is_paired:
            raise AlreadyPairedError("the device is already linked")
        try:
            async with asyncio.timeout(self.timing.pair_device_wait):
                await self._pair_device_seen.wait()
        except TimeoutError:
            raise NotConnectedError("the server has not offered pairing") from None
        hello = await asyncio.to_thread(pair_code.CompanionHello.start, digits)
        reg = Node(
            "link_code_companion_reg",
            {
                "jid": JID(digits, "s.whatsapp.net"),
                "stage": "companion_hello",
                "should_show_push_notification": "true" if show_push_notification else "false",
            },
            [
                Node(
                    "link_code_pairing_wrapped_companion_ephemeral_pub",
                    {},
                    hello.wrapped_ephemeral,
                ),
                Node("companion_server_auth_key_pub", {}, self.device.noise_key.public),
                Node("companion_platform_id", {}, client_type.value),
                Node("companion_platform_display", {}, client_display_name),
                Node("link_code_pairing_nonce", {}, b"\x00"),
            ],
        )
        response = await self.send_iq("md", "set", [reg])
        ref_node = response.get_child_by_tag("link_code_companion_reg", "link_code_pairing_ref")
        self._code_pairing = hello
        self._code_pairing_ref = ref_node.content_bytes()
        await self.dispatch(PairingCode(code=hello.display_code, phone=digits))
        return hello.display_code

    async def _handle_code_pair_notification(self, node: Node) -> None:
        hello, ref = self._code_pairing, self._code_pairing_ref
        reg = node.get_optional_child_by_tag("link_code_companion_reg")
        if reg is None or hello is None or ref is None:
            self.log.warning("Got a code-pairing notification without a pending code pairing")
            return
        ref_node = reg.get_optional_child_by_tag("link_code_pairing_ref")
        if ref_node is None or ref_node.content_bytes() != ref:
            self.log.warning("Code-pairing notification for another ref")
            return
        try:
            wrapped = reg.get_child_by_tag("link_code_pairing_wrapped_primary_ephemeral_pub")
            primary_identity = reg.get_child_by_tag("primary_identity_pub").content_bytes()
            finish = await asyncio.to_thread(
                pair_code.companion_finish,
                hello,
                self.device.identity_key,
                wrapped.content_bytes(),
                primary_identity,
            )
        except (BinaryError, pair_code.PairCodeError) as e:
            await self.dispatch(PairError(error=e))
            return
        # The QR codes on show carry the old secret; keep it if the phone refuses the code.
        previous_secret, self.device.adv_secret = self.device.adv_secret, finish.adv_secret
        finish_node = Node(
            "link_code_companion_reg",
            {"jid": JID(hello.phone, "s.whatsapp.net"), "stage": "companion_finish"},
            [
                Node("link_code_pairing_wrapped_key_bundle", {}, finish.wrapped_key_bundle),
                Node("companion_identity_public", {}, self.device.identity_key.public),
                Node("link_code_pairing_ref", {}, ref),
            ],
        )
        try:
            await self.send_iq("md", "set", [finish_node])
        except IQError as e:
            # Typically a wrong code typed on the phone: report it instead of waiting forever.
            self.log.warning("companion_finish refused: %s", e)
            self._code_pairing = None
            self.device.adv_secret = previous_secret
            await self.dispatch(PairError(error=e))

    # --- after login ------------------------------------------------------------------------

    async def _handle_success(self, node: Node) -> None:
        if not self.device.is_paired:
            self.log.warning("Got <success> without being paired, ignoring")
            return
        t = node.attrs.get("t")
        if t is not None and str(t).isdigit():
            self.server_time_offset = int(str(t)) - time.time()
        lid = node.attrs.get("lid")
        if isinstance(lid, JID) and self.device.lid != lid:
            self.device.lid = lid
            await self.device_store.save_device(self.device)
        self._logged_in = True
        self._reconnect_errors = 0
        self._spawn(self._after_login())

    async def _after_login(self) -> None:
        """Pre-keys, active mode, presence; then Connected (whatsmeow's order)."""
        try:
            await self._ensure_pre_keys()
        except (IQError, NotConnectedError, SocketError) as e:
            self.log.warning("Failed to check or upload pre-keys: %s", e)
        try:
            await self.send_iq("passive", "set", [Node("active")])
        except (IQError, NotConnectedError, SocketError) as e:
            self.log.warning("Failed to set active mode: %s", e)
            return
        with contextlib.suppress(NotConnectedError, SocketError):
            await self.send_node(
                Node("ib", {}, [Node("unified_session", {"id": self._unified_session_id()})])
            )
            if self.send_presence and self.device.push_name:
                await self.send_node(
                    Node("presence", {"type": "available", "name": self.device.push_name})
                )
        await self.dispatch(Connected())

    def _unified_session_id(self) -> str:
        week_ms = 7 * 24 * 3600 * 1000
        now_ms = int((time.time() + self.server_time_offset + 3 * 24 * 3600) * 1000)
        return str(now_ms % week_ms)

    async def get_server_pre_key_count(self) -> int:
        response = await self.send_iq("encrypt", "get", [Node("count")])
        return parse_count(response)

    async def _ensure_pre_keys(self, server_count: int | None = None) -> None:
        async with self._pre_key_lock:
            recent = time.monotonic() - self._last_pre_key_upload < PRE_KEY_RECHECK_WINDOW
            if server_count is None or recent:
                # A notified count may predate an upload that just happened (whatsmeow's check).
                server_count = await self.get_server_pre_key_count()
            if server_count >= MIN_PRE_KEY_COUNT:
                return
            first_upload = self.device.next_pre_key_id == 1 and server_count == 0
            await self.upload_pre_keys(
                INITIAL_PRE_KEY_COUNT if first_upload else WANTED_PRE_KEY_COUNT
            )

    async def upload_pre_keys(self, count: int) -> None:
        """Generate, store and upload ``count`` one-time pre-keys."""
        spk = self.device.signed_pre_key
        if not await self.signal_store.contains_signed_pre_key(spk.key_id):
            await self.signal_store.store_signed_pre_key(spk)
        records = generate_pre_keys(self.device, count)
        for record in records:
            await self.signal_store.store_pre_key(record)
        await self.send_iq("encrypt", "set", upload_content(self.device, records))
        self.device.next_pre_key_id = records[-1].key_id + 1
        self._last_pre_key_upload = time.monotonic()
        await self.device_store.save_device(self.device)
        self.log.debug("Uploaded %d pre-keys", len(records))

    async def _handle_ib(self, node: Node) -> None:
        for event in parse_ib(node):
            await self.dispatch(event)
        for child in node.children:
            if child.tag == "offline_preview":
                # Ask for the queued stanzas in batches, as WhatsApp Web does.
                with contextlib.suppress(NotConnectedError, SocketError):
                    await self.send_node(Node("ib", {}, [Node("offline_batch", {"count": "100"})]))

    async def _handle_notification(self, node: Node) -> None:
        notification_type = str(node.attrs.get("type", ""))
        try:
            if notification_type == "link_code_companion_reg":
                self._spawn(self._handle_code_pair_notification(node))
            elif notification_type == "encrypt" and node.get_optional_child_by_tag("count"):
                self._spawn(self._ensure_pre_keys(parse_count(node)))
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

    async def _ack(self, node: Node, error: int | None = None) -> None:
        with contextlib.suppress(NotConnectedError, SocketError):
            await self.send_node(build_ack(node, error))

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
