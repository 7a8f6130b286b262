"""The simulator's HTTP side: the chat websocket, the admin API, and the reserved media paths.

Everything is served from one port, as Baileys' end-to-end helpers expect: they derive the admin
URL from the websocket URL (``wss://host:port/ws/chat`` → ``https://host:port/admin/...``).
"""

from __future__ import annotations

import importlib
import json
import logging
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import core
from .connection import Connection
from .state import AdminError, ServerState
from .tls import TLSFiles, generate_tls_files

log = logging.getLogger("simulator.server")

PLUGINS: tuple[str, ...] = (
    "tests.simulator.login",
    "tests.simulator.prekeys",
    "tests.simulator.admin_phone",
    "tests.simulator.groups",
    "tests.simulator.people",
    "tests.simulator.routing",
    "tests.simulator.relay",
    "tests.simulator.usync",
    "tests.simulator.notify",
    "tests.simulator.admin_people",
    "tests.simulator.app_state",
    "tests.simulator.history_sync",
    "tests.simulator.admin_history",
    "tests.simulator.history_faults",  # ---- backfill ----
    "tests.simulator.privacy",
    "tests.simulator.media",
    "tests.simulator.media_retry",
    "tests.simulator.profile",
    "tests.simulator.redelivery",  # after login (it wraps the login handler)
)
"""Feature modules loaded at start-up, in order; each defines ``install(state: ServerState)``."""

WEBSOCKET_PATH = "/ws/chat"
MAX_WS_MESSAGE = 32 * 1024 * 1024


def _error(status: int, message: str, **extra: Any) -> web.Response:
    body = json.dumps({"error": message, **extra}) + "\n"
    return web.Response(text=body, status=status, content_type="application/json")


def install_plugins(state: ServerState, plugins: Iterable[str]) -> None:
    for name in plugins:
        module = importlib.import_module(name)
        module.install(state)


class Simulator:
    """One simulated WhatsApp server on one TCP port (``ws``/``http`` or ``wss``/``https``)."""

    def __init__(self, state: ServerState | None = None, plugins: Iterable[str] = PLUGINS) -> None:
        self.state = state or ServerState()
        core.install(self.state)
        install_plugins(self.state, plugins)
        self.tls: TLSFiles | None = None
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_WS_MESSAGE)
        app.router.add_get(WEBSOCKET_PATH, self._websocket)
        app.router.add_route("*", "/admin/{tail:.*}", self._admin)
        app.router.add_route("*", "/mms/{tail:.*}", self._media)
        app.router.add_route("*", "/v/{tail:.*}", self._media)  # direct paths of stored media
        return app

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, tls_dir: Path | None = None
    ) -> dict[str, Any]:
        """Listen and return the info dict (also kept in ``state.info``)."""
        ssl_context: ssl.SSLContext | None = None
        if tls_dir is not None:
            self.tls = generate_tls_files(tls_dir, hosts=(host,))
            ssl_context = self.tls.server_context()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        real_port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()

        netloc = f"[{host}]:{real_port}" if family == socket.AF_INET6 else f"{host}:{real_port}"
        http, ws = ("https", "wss") if ssl_context else ("http", "ws")
        info: dict[str, Any] = {
            "websocket_url": f"{ws}://{netloc}{WEBSOCKET_PATH}",
            "admin_url": f"{http}://{netloc}/admin",
            "media_url": f"{http}://{netloc}/mms",
            "root_public_key": self.state.credentials.root_public_key.hex(),
            "host": host,
            "port": real_port,
        }
        if self.tls is not None:
            info["ca_file"] = str(self.tls.ca_file)
        self.state.info = info
        log.info("listening on %s", info["websocket_url"])
        return info

    async def stop(self) -> None:
        await self.state.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_WS_MESSAGE)
        await ws.prepare(request)
        remote = request.remote or "?"
        log.debug("websocket from %s, origin %s", remote, request.headers.get("Origin"))
        await Connection(self.state, ws, remote).serve()
        return ws

    async def _admin(self, request: web.Request) -> web.StreamResponse:
        try:
            found = self.state.admin_routes.resolve(request.method, request.match_info["tail"])
            if found is None:
                return _error(404, f"no admin endpoint {request.method} {request.path}")
            route, params = found
            return await route.handler(request, params)
        except AdminError as e:
            return _error(e.status, e.message, **e.extra)
        except web.HTTPException:
            raise
        except Exception as e:
            log.exception("admin endpoint %s %s failed", request.method, request.path)
            return _error(500, f"{type(e).__name__}: {e}")

    async def _media(self, request: web.Request) -> web.StreamResponse:
        handler = self.state.media_handler
        if handler is None:
            return _error(501, "media is not implemented in this simulator yet")
        return await handler(request)
