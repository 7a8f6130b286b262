"""The connection's life: dial, handshake, read, reconnect with backoff, obey the server's verdict.

whatsmeow keeps this in ``client.go``/``connectionevents.go``; here it is the base class of
:class:`~.client.Client`, so the client module only holds the public API and stanza dispatch.
Each connection owns a socket and a set of tasks (reader, handler, keepalive and whatever the
handlers spawn); they all end together, before a new socket starts, so a reconnect never races
an old connection's stragglers.

Reading and handling are separate tasks on purpose: IQ answers are routed to their waiters by
the reader, so a handler may await an IQ without deadlocking the stanza it is handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .binary import BinaryError, marshal, unmarshal
from .binary.jid import JID, SERVER_JID
from .binary.node import Content, Node
from .client_payload import ClientConfig, client_payload
from .connection_events import Action, Verdict
from .device import DeviceIdentity
from .events import Disconnected
from .keepalive import KeepAliveTiming, keepalive_loop
from .qrchan import QRTiming
from .receipt import build_ack
from .request import IQError, RequestTracker
from .socket.errors import SocketError
from .socket.framesocket import FrameSocket
from .socket.handshake import do_handshake
from .socket.noise_socket import NoiseSocket


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


class ConnectionLife:
    """Socket, per-connection tasks, reconnects and the sending primitives.

    Subclasses supply :meth:`dispatch` (events), :meth:`_handle_node` (stanzas, returning the
    server's verdict if the stanza ends the stream), :meth:`_delete_device` (after a logout
    verdict) and may hook :meth:`_on_new_connection`.
    """

    device: DeviceIdentity
    config: ClientConfig
    log: logging.Logger

    def __init__(
        self,
        *,
        url: str,
        root_public_key: bytes,
        ssl_context: ssl.SSLContext | None,
        ca_file: str | Path | None,
        timing: ConnectionTiming,
        auto_reconnect: bool,
        initial_auto_reconnect: bool,
    ) -> None:
        self.url = url
        self.root_public_key = root_public_key
        self.ssl_context = ssl_context
        self.ca_file = ca_file
        self.timing = timing
        self.auto_reconnect = auto_reconnect
        self.initial_auto_reconnect = initial_auto_reconnect
        self._requests = RequestTracker()
        self._socket: NoiseSocket | None = None
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._other_tasks: set[asyncio.Task[Any]] = set()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()
        self._expected_disconnect = False
        self._logged_in = False
        self._deleted = False
        self._reconnect_errors = 0

    # --- hooks ------------------------------------------------------------------------------

    async def dispatch(self, event: object) -> None:
        raise NotImplementedError

    async def _handle_node(self, node: Node) -> Verdict | None:
        raise NotImplementedError

    async def _delete_device(self) -> None:
        raise NotImplementedError

    def _on_new_connection(self) -> None:
        """A fresh socket is up (before its first stanza is read)."""

    # --- state ------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._socket is not None and self._socket.is_connected

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
            self._on_new_connection()
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

    async def _stop_connection(self) -> None:
        """End this connection for good without a Disconnected event (pairing over, failed)."""
        self._expected_disconnect = True
        socket = self._socket
        if socket is not None:
            self._on_connection_lost(socket, Verdict(None, Action.STOP))
            await socket.close()

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
                # IQ answers and acks of sent messages wake their waiters here, not in the
                # handler queue: a handler may itself be waiting for one (as whatsmeow does).
                is_answer = node.tag == "ack" or (
                    node.tag == "iq" and node.attrs.get("type") in ("result", "error")
                )
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
                # Handlers refuse malformed stanzas themselves; this is the last line.
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

    async def _ack(self, node: Node, error: int | None = None) -> None:
        """Acknowledge a stanza; a lost connection just means the server will resend it."""
        with contextlib.suppress(NotConnectedError, SocketError):
            await self.send_node(build_ack(node, error))
