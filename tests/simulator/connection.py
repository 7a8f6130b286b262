"""One client connection to the simulator: the Noise handshake, then stanza dispatch.

The frames come out of :class:`~tests.simulator.stream.ClientStreamDecoder`. The first two are
the Noise handshake; every later frame is an AES-GCM encrypted binary node, handled one at a time
in arrival order by the handlers feature modules register in :class:`ServerState`.

A misbehaving client costs only its own connection: framing, handshake and decryption faults
close it, an undecodable node or a stanza of the wrong shape is answered (or skipped) and the
session goes on. Faults of the client land in ``state.protocol_errors``; exceptions that are the
simulator's own bugs land in ``state.internal_errors``. Neither ever escapes to the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.errors import BinaryError
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload
from mautrix_whatsapp.whatsapp.socket.errors import SocketError
from mautrix_whatsapp.whatsapp.socket.frames import encode_frame
from mautrix_whatsapp.whatsapp.socket.noise_handshake import CipherPair

from .noise import NoiseResponder, ResponderHandshakeError
from .state import TaskSet
from .stream import ClientStreamDecoder, FrameError

if TYPE_CHECKING:
    from .state import ServerState

log = logging.getLogger("simulator.connection")

HANDSHAKE_TIMEOUT = 20.0
DEFAULT_IQ_TIMEOUT = 10.0
WORKER_GRACE = 1.0
SERVER = "s.whatsapp.net"

_connection_ids = itertools.count(1)

CLIENT_FAULTS: tuple[type[Exception], ...] = (BinaryError, DecodeError)
"""What a handler raises when the client's stanza has the wrong shape (a missing attribute or
child, bad content, an embedded protobuf that does not parse): the client's fault, answered
with error 400 for an IQ. Anything else a handler raises is a simulator bug (error 500)."""


class ConnectionClosedError(Exception):
    """The websocket closed; no more frames will come."""


class IQErrorResponse(Exception):
    """The client answered a server IQ with ``type="error"``."""

    def __init__(self, node: Node) -> None:
        super().__init__(f"client answered with an error: {node!r}")
        self.node = node


def new_stanza_id() -> str:
    return secrets.token_hex(8).upper()


def _attr(node: Node, key: str) -> str | None:
    value = (node.attrs or {}).get(key)
    return None if value is None else str(value)


def describe(node: Node) -> str:
    """A stanza's tag, routing attributes and first child, for error records and logs above
    DEBUG (which must not show its content: key uploads and pairing carry secrets)."""
    attrs = "".join(
        f' {key}="{node.attrs[key]}"' for key in ("xmlns", "type", "id") if key in node.attrs
    )
    children = node.children
    child = f"<{children[0].tag}>" if children else ""
    return f"<{node.tag}{attrs}>{child}"


class Connection:
    """A client's websocket session with the simulator, from handshake to close.

    Feature modules talk to the client through :meth:`send_node`, :meth:`send_iq` (awaits the
    client's answer), :meth:`send_failure`, :meth:`send_stream_error` and :meth:`close`, and may
    attach their own data in :attr:`extra`.
    """

    def __init__(self, state: ServerState, ws: web.WebSocketResponse, remote: str) -> None:
        self.id = next(_connection_ids)
        self.state = state
        self.ws = ws
        self.remote = remote
        self.decoder = ClientStreamDecoder()
        self.client_static: bytes | None = None
        self.payload: ClientPayload | None = None
        self.extra: dict[str, Any] = {}
        self.closed = asyncio.Event()
        self._frames: deque[bytes] = deque()
        self._ciphers: CipherPair | None = None
        self._send_lock = asyncio.Lock()
        self._pending_iqs: dict[str, asyncio.Future[Node]] = {}
        self._inbox: asyncio.Queue[Node | None] = asyncio.Queue()
        self._tasks = TaskSet(f"connection #{self.id}")

    def __repr__(self) -> str:
        return f"<Connection #{self.id} from {self.remote}>"

    @property
    def routing_info(self) -> bytes | None:
        return self.decoder.routing_info

    # --- lifecycle ---

    async def serve(self) -> None:
        """Run the handshake and the session until the websocket closes."""
        self.state.connections.add(self)
        worker = asyncio.get_running_loop().create_task(self._work(), name=f"{self!r} worker")
        try:
            await asyncio.wait_for(self._handshake(), HANDSHAKE_TIMEOUT)
            await self._read_loop()
        except (ConnectionClosedError, asyncio.CancelledError):
            pass
        except TimeoutError:
            self.state.record_protocol_error(f"{self!r}: handshake timed out")
        except (FrameError, ResponderHandshakeError, SocketError) as e:
            self.state.record_protocol_error(f"{self!r}: {e}")
        except Exception:
            log.exception("%r: the connection failed", self)
            self.state.record_internal_error(f"{self!r}: the simulator failed serving it")
        finally:
            await self.close()
            for future in self._pending_iqs.values():
                if not future.done():
                    future.set_exception(ConnectionClosedError("connection closed"))
            self._pending_iqs.clear()
            # Let the worker finish the stanza in hand (handlers may record state), no more.
            self._inbox.put_nowait(None)
            done, _ = await asyncio.wait({worker}, timeout=WORKER_GRACE)
            if not done:
                worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await self._tasks.cancel_all()
            self.state.connections.discard(self)
            for hook in list(self.state.close_hooks):
                try:
                    await hook(self)
                except Exception:
                    log.exception("close hook failed for %r", self)

    async def close(self, code: int = 1000) -> None:
        if not self.closed.is_set():
            self.closed.set()
            await self.ws.close(code=code)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a task that lives at most as long as this connection; errors are logged."""
        return self._tasks.spawn(coro)

    # --- raw frames ---

    async def _next_frame(self) -> bytes:
        while not self._frames:
            message = await self.ws.receive()
            if message.type == WSMsgType.BINARY:
                self._frames.extend(self.decoder.feed(message.data))
            elif message.type == WSMsgType.TEXT:
                raise FrameError("text websocket message")
            elif self.decoder.pending:
                raise FrameError(
                    f"websocket {message.type.name} inside a frame"
                    f" ({self.decoder.pending} bytes of it received)"
                )
            else:
                raise ConnectionClosedError(f"websocket {message.type.name}")
        return self._frames.popleft()

    async def _send_frame(self, payload: bytes) -> None:
        if self.ws.closed:
            raise ConnectionClosedError("websocket closed")
        try:
            await self.ws.send_bytes(encode_frame(payload))
        except (ConnectionError, RuntimeError) as e:  # closed under our feet
            raise ConnectionClosedError(f"websocket closed: {e}") from e

    # --- handshake ---

    async def _handshake(self) -> None:
        credentials = self.state.credentials
        responder = NoiseResponder(credentials.static, credentials.cert_chain)
        await self._send_frame(responder.server_hello(await self._next_frame()))
        result = responder.finish(await self._next_frame())
        self._ciphers = result.ciphers
        self.client_static = result.client_static
        payload = ClientPayload()
        try:
            payload.ParseFromString(result.client_payload)
        except DecodeError as e:
            raise ResponderHandshakeError("the client payload is not a ClientPayload") from e
        self.payload = payload
        kind = "login" if payload.HasField("username") else "registration"
        log.debug("%r: handshake done, %s payload", self, kind)
        self.spawn(self._handle_payload(payload))

    async def _handle_payload(self, payload: ClientPayload) -> None:
        if payload.HasField("username"):
            handler = self.state.login_handler
        elif payload.HasField("devicePairingData"):
            handler = self.state.registration_handler
        else:
            self.state.record_protocol_error(f"{self!r}: payload neither login nor registration")
            await self.send_failure("400")
            return
        if handler is None:
            await self.send_failure("501")
            return
        try:
            await handler(self, payload)
        except ConnectionClosedError:
            pass
        except Exception:
            # A simulator bug must not look like a silent server: fail the login visibly.
            log.exception("%r: payload handler failed", self)
            self.state.record_internal_error(f"{self!r}: the payload handler failed")
            if not self.closed.is_set():
                await self.send_failure("500")

    # --- encrypted nodes ---

    async def send_node(self, node: Node) -> None:
        if self._ciphers is None:
            raise ConnectionClosedError("handshake not finished")
        if self.closed.is_set():
            raise ConnectionClosedError("connection closed")
        log.debug("%r: send %r", self, node)
        data = marshal(node)
        async with self._send_lock:
            await self._send_frame(self._ciphers.write.encrypt(data))

    async def send_iq(self, node: Node, timeout: float = DEFAULT_IQ_TIMEOUT) -> Node:
        """Send a server IQ (an ``id`` is added if missing) and return the client's result.

        Raises :class:`IQErrorResponse` for an error answer, :class:`TimeoutError`, or
        :class:`ConnectionClosedError`. Never await this inside a stanza handler for a reply that
        the same connection must deliver after the handler returns: use :meth:`spawn`.
        """
        attrs = dict(node.attrs or {})
        iq_id = str(attrs.setdefault("id", new_stanza_id()))
        future: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
        self._pending_iqs[iq_id] = future
        try:
            await self.send_node(Node(node.tag, attrs, node.content))
            response = await asyncio.wait_for(future, timeout)
        finally:
            self._pending_iqs.pop(iq_id, None)
        if _attr(response, "type") == "error":
            raise IQErrorResponse(response)
        return response

    async def send_failure(self, reason: str, **attrs: str) -> None:
        """Send ``<failure reason=…/>`` and close, as WhatsApp does for a refused login."""
        await self.send_node(Node("failure", {"reason": reason, **attrs}))
        await self.close()

    async def send_stream_error(
        self, code: str | None, children: list[Node] | None = None
    ) -> None:
        """Send ``<stream:error>`` (``code`` may be None for conflict-only errors) and close."""
        attrs = {"code": code} if code is not None else {}
        await self.send_node(Node("stream:error", attrs, children or None))
        await self.close()

    async def _read_loop(self) -> None:
        assert self._ciphers is not None
        while True:
            frame = await self._next_frame()
            data = self._ciphers.read.decrypt(frame)
            try:
                node = unmarshal(data)
            except BinaryError as e:  # one bad stanza is skipped, the session goes on
                self.state.record_protocol_error(f"{self!r}: undecodable node: {e!r}")
                continue
            log.debug("%r: recv %r", self, node)
            if node.tag == "iq" and _attr(node, "type") in ("result", "error"):
                future = self._pending_iqs.get(_attr(node, "id") or "")
                if future is not None and not future.done():
                    future.set_result(node)
                else:
                    log.debug("%r: unsolicited IQ response %r", self, node)
                continue
            self._inbox.put_nowait(node)

    async def _work(self) -> None:
        """Handle stanzas one at a time, in the order they arrived."""
        while (node := await self._inbox.get()) is not None:
            try:
                await self._dispatch(node)
            except ConnectionClosedError:
                return
            except CLIENT_FAULTS as e:
                self.state.record_protocol_error(f"{self!r}: malformed {describe(node)}: {e}")
            except Exception:
                log.exception("%r: handler failed for %s", self, describe(node))
                self.state.record_internal_error(f"{self!r}: handler failed for {describe(node)}")

    async def _dispatch(self, node: Node) -> None:
        if node.tag == "iq":
            await self._dispatch_iq(node)
            return
        handler = self.state.stanza_handlers.find(node.tag)
        if handler is not None:
            await handler(self, node)
        else:
            await self._default_stanza(node)

    async def _dispatch_iq(self, node: Node) -> None:
        iq_id = _attr(node, "id")
        iq_type = _attr(node, "type")
        if not iq_id or iq_type not in ("get", "set"):
            self.state.record_protocol_error(f"{self!r}: malformed iq {describe(node)}")
            if iq_id:
                await self.send_node(iq_error(node, "400", "bad-request"))
            return
        children = node.children
        child = children[0].tag if children else None
        handler = self.state.iq_handlers.find(_attr(node, "xmlns") or "", iq_type, child)
        if handler is None:
            log.debug("%r: no handler for %r", self, node)
            await self.send_node(iq_error(node, "501", "feature-not-implemented"))
            return
        try:
            reply = await handler(self, node)
        except ConnectionClosedError:
            raise
        except CLIENT_FAULTS as e:
            self.state.record_protocol_error(f"{self!r}: malformed {describe(node)}: {e}")
            await self.send_node(iq_error(node, "400", "bad-request"))
            return
        except Exception:
            log.exception("%r: IQ handler failed for %s", self, describe(node))
            self.state.record_internal_error(f"{self!r}: IQ handler failed for {describe(node)}")
            await self.send_node(iq_error(node, "500", "internal-server-error"))
            return
        if reply is not None:
            await self.send_node(reply)

    async def _default_stanza(self, node: Node) -> None:
        """Ack what a real server acks; let everything else pass, logged."""
        log.debug("%r: unhandled <%s>", self, node.tag)
        stanza_id = _attr(node, "id")
        if node.tag in ("message", "receipt", "call") and stanza_id:
            attrs = {"class": node.tag, "id": stanza_id, "from": SERVER}
            if node.tag == "message":
                attrs["t"] = str(int(time.time()))
            if node.tag == "receipt" and _attr(node, "type"):
                attrs["type"] = _attr(node, "type") or ""
            await self.send_node(Node("ack", attrs))


def iq_result(request: Node, content: list[Node] | None = None, **attrs: str) -> Node:
    """The ``type="result"`` answer to a client IQ."""
    base = {"id": _attr(request, "id") or "", "type": "result", "from": SERVER}
    return Node("iq", {**base, **attrs}, content)


def iq_error(request: Node, code: str, text: str) -> Node:
    """The ``type="error"`` answer to a client IQ, with ``<error code text/>``."""
    attrs = {"id": _attr(request, "id") or "", "type": "error", "from": SERVER}
    return Node("iq", attrs, [Node("error", {"code": code, "text": text})])
