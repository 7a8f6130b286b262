"""Everything the simulated WhatsApp server knows, and the registries that modules plug into.

One :class:`ServerState` lives per simulator process. Feature modules (pairing, accounts, pre-keys,
messaging…) never edit the connection's dispatcher: they define ``install(state)`` and register
handlers there:

- :attr:`ServerState.iq_handlers` — ``<iq type="get|set">`` by ``(xmlns, type, first child tag)``;
- :attr:`ServerState.stanza_handlers` — every other top-level stanza by tag (``message``, ``ib``…);
- :attr:`ServerState.admin_routes` — HTTP endpoints under ``/admin/``;
- the replaceable hooks :attr:`ServerState.registration_handler`,
  :attr:`ServerState.login_handler`, :attr:`ServerState.qr_scan_handler` and
  :attr:`ServerState.media_handler` (``/mms/…``, ``/v/…``), plus :attr:`ServerState.close_hooks`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node

from .certs import ServerCredentials, make_server_credentials
from .qr import ScannedQR

if TYPE_CHECKING:
    from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

    from .connection import Connection

log = logging.getLogger("simulator.state")

REF_COUNT = 6
"""How many QR refs one ``pair-device`` IQ carries, as WhatsApp sends."""

IQHandler = Callable[["Connection", Node], Awaitable[Node | None]]
"""Answers one IQ: returns the reply node, or ``None`` when it replied (or must not) itself."""
StanzaHandler = Callable[["Connection", Node], Awaitable[None]]
AdminHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]
"""An admin endpoint: the request and the values of the ``{placeholders}`` in its path."""
RegistrationHandler = Callable[["Connection", "ClientPayload"], Awaitable[None]]
LoginHandler = Callable[["Connection", "ClientPayload"], Awaitable[None]]
QRScanHandler = Callable[[ScannedQR, "PendingRegistration"], Awaitable[dict[str, Any]]]
"""The phone's side of a QR scan; returns the JSON body of the admin reply."""
CloseHook = Callable[["Connection"], Awaitable[None]]
MediaHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""Serves every request below ``/mms/`` (uploads) and ``/v/`` (downloads by direct path)."""


class TaskSet:
    """Background tasks that belong to one owner (the server, a connection): kept referenced
    until done (asyncio keeps only weak references), their failures logged, and all cancelled
    together when the owner ends."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self.owner, task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class RegistryError(ValueError):
    """A handler or route was registered twice, or with a malformed key."""


class AdminError(Exception):
    """Raise from an admin handler to answer ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra
        """More fields for the JSON body."""


class IQHandlerRegistry:
    """IQ handlers by ``(xmlns, type, child)``; ``None`` in a key matches anything.

    Lookup goes from the most specific key to the least: ``(xmlns, type, child)``,
    ``(xmlns, None, child)``, ``(xmlns, type, None)``, ``(xmlns, None, None)``. ``xmlns`` is
    matched exactly; an IQ without ``xmlns`` matches handlers registered with ``xmlns=""``.
    """

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str | None, str | None], IQHandler] = {}

    def register(
        self,
        xmlns: str,
        handler: IQHandler,
        *,
        child: str | None = None,
        type: str | None = None,
        replace: bool = False,
    ) -> None:
        if type not in (None, "get", "set"):
            raise RegistryError(f"IQ handlers answer get/set requests, not {type!r}")
        key = (xmlns, type, child)
        if key in self._handlers and not replace:
            raise RegistryError(f"an IQ handler for {key} is already registered")
        self._handlers[key] = handler

    def find(self, xmlns: str, type: str, child: str | None) -> IQHandler | None:
        for key in ((xmlns, type, child), (xmlns, None, child), (xmlns, type, None)):
            handler = self._handlers.get(key)
            if handler is not None:
                return handler
        return self._handlers.get((xmlns, None, None))

    def registered(self) -> list[tuple[str, str | None, str | None]]:
        return sorted(self._handlers, key=repr)


class StanzaHandlerRegistry:
    """Handlers for top-level stanzas other than IQ requests, by tag (one per tag)."""

    def __init__(self) -> None:
        self._handlers: dict[str, StanzaHandler] = {}

    def register(self, tag: str, handler: StanzaHandler, *, replace: bool = False) -> None:
        if tag == "iq":
            raise RegistryError("IQ requests go to iq_handlers")
        if tag in self._handlers and not replace:
            raise RegistryError(f"a stanza handler for <{tag}> is already registered")
        self._handlers[tag] = handler

    def find(self, tag: str) -> StanzaHandler | None:
        return self._handlers.get(tag)


_PLACEHOLDER = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str
    handler: AdminHandler
    segments: tuple[str, ...]

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        if method != self.method or len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, value in zip(self.segments, segments, strict=True):
            placeholder = _PLACEHOLDER.match(pattern)
            if placeholder:
                params[placeholder.group(1)] = value
            elif pattern != value:
                return None
        return params


class AdminRouter:
    """Admin endpoints below ``/admin/``, matched at request time so modules may add them late.

    Paths are written without the ``/admin`` prefix, e.g. ``/mock-phone/scan-qr`` or
    ``/devices/{jid}``; a ``{name}`` segment matches any single path segment.
    """

    def __init__(self) -> None:
        self._routes: list[AdminRoute] = []

    def add(self, method: str, path: str, handler: AdminHandler) -> None:
        method = method.upper()
        if not path.startswith("/") or (path.endswith("/") and path != "/"):
            raise RegistryError(f"admin paths start with / and do not end with one: {path!r}")
        segments = tuple(s for s in path.split("/") if s)
        for route in self._routes:
            if route.method == method and route.segments == segments:
                raise RegistryError(f"admin route {method} {path} is already registered")
        self._routes.append(AdminRoute(method, path, handler, segments))

    def resolve(self, method: str, path: str) -> tuple[AdminRoute, dict[str, str]] | None:
        """Return the route and its parameters, or ``None``; raise 405 for a known path."""
        segments = [s for s in path.split("/") if s]
        path_known = False
        for route in self._routes:
            params = route.match(method.upper(), segments)
            if params is not None:
                return route, params
            if route.match(route.method, segments) is not None:
                path_known = True
        if path_known:
            raise AdminError(405, f"method {method} not allowed here")
        return None

    def describe(self) -> list[dict[str, str]]:
        return [{"method": r.method, "path": "/admin" + r.path} for r in self._routes]


@dataclass(repr=False)
class PendingRegistration:
    """A companion that registered (new device, no username) and waits to be linked."""

    noise_public: bytes
    identity_public: bytes
    registration_id: int
    signed_prekey_id: int
    signed_prekey_public: bytes
    signed_prekey_signature: bytes
    build_hash: bytes
    device_props: bytes
    """The serialized ``DeviceProps`` exactly as the client sent them."""
    refs: list[str] = field(default_factory=list)
    connection: Connection | None = None
    created_at: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)
    """Room for feature modules (e.g. the pairing flow's progress)."""

    def __repr__(self) -> str:
        return (
            f"PendingRegistration(noise_public={self.noise_public.hex()}, refs={len(self.refs)})"
        )


@dataclass(repr=False)
class DeviceRecord:
    """A linked companion device the server lets log in."""

    user: str
    """The account's phone number, digits only (the login payload's ``username``)."""
    device: int
    noise_public: bytes
    identity_public: bytes | None = None
    lid_user: str | None = None
    removed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"DeviceRecord({self.user}:{self.device}, removed={self.removed})"


class ServerState:
    """The simulated server's state, shared by all connections and the admin API."""

    def __init__(self, credentials: ServerCredentials | None = None) -> None:
        self.credentials = credentials or make_server_credentials()
        self.iq_handlers = IQHandlerRegistry()
        self.stanza_handlers = StanzaHandlerRegistry()
        self.admin_routes = AdminRouter()
        self.connections: set[Connection] = set()
        self.pending_registrations: dict[bytes, PendingRegistration] = {}
        """By the companion's noise public key."""
        self.pending_by_ref: dict[str, PendingRegistration] = {}
        self.devices: dict[tuple[str, int], DeviceRecord] = {}
        self.protocol_errors: list[str] = []
        """Faults of connected clients (bad frames, undecodable nodes), for tests to inspect."""
        self.internal_errors: list[str] = []
        """The simulator's own failures (a handler raised), kept apart from the clients' faults."""
        self.info: dict[str, Any] = {}
        """What the info file says (URLs, root key), filled in by the server once it listens."""
        self.extra: dict[str, Any] = {}
        """Feature modules' own state, by module name (e.g. ``"phone"``)."""
        self.registration_handler: RegistrationHandler | None = None
        self.login_handler: LoginHandler | None = None
        self.qr_scan_handler: QRScanHandler | None = None
        self.close_hooks: list[CloseHook] = []
        self.media_handler: MediaHandler | None = None
        self._tasks = TaskSet("server")

    # --- registrations ---

    def new_ref(self) -> str:
        """A fresh QR ref, shaped like WhatsApp's (``2@`` + random base64) and never containing
        a comma, since the QR text is comma-separated."""
        while True:
            ref = "2@" + secrets.token_urlsafe(48)
            if ref not in self.pending_by_ref:
                return ref

    def add_pending_registration(self, registration: PendingRegistration) -> None:
        old = self.pending_registrations.get(registration.noise_public)
        if old is not None:
            self.drop_pending_registration(old)
        self.pending_registrations[registration.noise_public] = registration
        for ref in registration.refs:
            self.pending_by_ref[ref] = registration

    def issue_refs(self, registration: PendingRegistration, count: int = REF_COUNT) -> list[str]:
        refs = [self.new_ref() for _ in range(count)]
        registration.refs.extend(refs)
        for ref in refs:
            self.pending_by_ref[ref] = registration
        return refs

    def drop_pending_registration(self, registration: PendingRegistration) -> None:
        if self.pending_registrations.get(registration.noise_public) is registration:
            del self.pending_registrations[registration.noise_public]
        for ref in registration.refs:
            if self.pending_by_ref.get(ref) is registration:
                del self.pending_by_ref[ref]

    # --- devices ---

    def add_device(self, record: DeviceRecord) -> None:
        self.devices[(record.user, record.device)] = record

    def find_device(self, user: str, device: int) -> DeviceRecord | None:
        return self.devices.get((user, device))

    # --- bookkeeping ---

    def record_protocol_error(self, message: str) -> None:
        log.warning("client protocol error: %s", message)
        self.protocol_errors.append(message)

    def record_internal_error(self, message: str) -> None:
        """Record a simulator bug (its traceback is logged where it was caught)."""
        log.error("simulator error: %s", message)
        self.internal_errors.append(message)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run a background task that the server cancels at shutdown; its errors are logged."""
        return self._tasks.spawn(coro, name)

    async def shutdown(self) -> None:
        for connection in list(self.connections):
            await connection.close()
        await self._tasks.cancel_all()
