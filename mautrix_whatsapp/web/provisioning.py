"""The provisioning API: bridgev2's ``v3`` paths and JSON (mautrix-go's
``bridgev2/matrix/provisioning.go``), so clients written for the Go bridges work unchanged.

Requests carry ``Authorization: Bearer <token>``. The token is the shared secret (then
``?user_id=`` names the Matrix user acted for), a session of the web login page, or (when
``allow_matrix_auth``) the user's own Matrix access token, checked with the homeserver's
``/account/whoami``. The user needs the ``user`` permission level, as for the bot's ``login``.

A user has at most one login process (:class:`~mautrix_whatsapp.login.LoginProcess`, shared
with the bot's ``login`` command); its ID is random and looked up only among the requesting
user's own, so no one reaches another user's login.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from mautrix.client import Client
from mautrix.types import UserID

from ..login import (
    AwaitingPhone,
    InvalidPhone,
    LoginCancelled,
    LoginFailed,
    LoginProcess,
    LoginSuccess,
    LoginTimeout,
    PairingCode,
    QRCode,
    Starting,
)
from ..puppet import InvalidJID, ghost_id_for_jid
from ..qr import qr_png
from ..session import normalize_phone
from .tokens import TokenStore, digest

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..config import ProvisioningSettings
    from ..user import User

log = logging.getLogger("mau.provisioning")

STEP_QR = "fi.mau.whatsapp.login.qr"
STEP_PHONE = "fi.mau.whatsapp.login.phone"
STEP_CODE = "fi.mau.whatsapp.login.code"
STEP_COMPLETE = "fi.mau.whatsapp.login.complete"
STEP_CONNECTING = "fi.mau.whatsapp.login.connecting"
LOGIN_FLOWS = [
    {
        "name": "QR",
        "description": "Scan a QR code to pair the bridge to your WhatsApp account",
        "id": "qr",
    },
    {
        "name": "Pairing code",
        "description": (
            "Input your phone number to get a pairing code, to pair the bridge to your "
            "WhatsApp account"
        ),
        "id": "phone",
    },
]
MATRIX_AUTH_CACHE_SECONDS = 300.0
NOT_SUPPORTED_YET = "{} is not supported yet: this bridge does not create portals yet"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class APIError(Exception):
    """An error answered as ``{"errcode", "error"}`` with an HTTP status."""

    def __init__(self, status: int, errcode: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.errcode = errcode
        self.error = error

    def response(self) -> web.Response:
        return error_response(self.status, self.errcode, self.error)


def error_response(status: int, errcode: str, error: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": error}, status=status)


def json_errors(handler: Handler) -> Handler:
    """Every failure as JSON: ours as given, anything unexpected as a logged 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except APIError as e:
            return e.response()
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "M_TOO_LARGE", "Request body too large")
        except (asyncio.CancelledError, web.HTTPException):
            raise
        except Exception:
            log.exception("Error handling %s %s", request.method, request.path)
            return error_response(500, "M_UNKNOWN", "Internal error, see the bridge logs")

    return wrapped


async def read_json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise APIError(400, "M_NOT_JSON", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise APIError(400, "M_BAD_JSON", "The request body must be a JSON object")
    return body


def qr_data_url(code: str) -> str:
    """The QR code as a PNG ``data:`` URL (the login page shows it as it is)."""
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()


def step_json(process: LoginProcess) -> dict[str, Any]:
    """The process's current step in bridgev2's form, or the APIError its failure maps to."""
    state = process.state
    step: dict[str, Any]
    match state:
        case AwaitingPhone():
            step = {
                "type": "user_input",
                "step_id": STEP_PHONE,
                "instructions": "Enter your WhatsApp phone number in international format",
                "user_input": {
                    "fields": [
                        {
                            "type": "phone_number",
                            "id": "phone_number",
                            "name": "Phone number",
                            "description": "Your WhatsApp phone number in international format",
                        }
                    ]
                },
            }
        case Starting():
            step = {
                "type": "display_and_wait",
                "step_id": STEP_CONNECTING,
                "instructions": "Connecting to WhatsApp",
                "display_and_wait": {"type": "nothing"},
            }
        case QRCode(code=code):
            step = {
                "type": "display_and_wait",
                "step_id": STEP_QR,
                "instructions": "Scan the QR code with the WhatsApp mobile app to log in",
                "display_and_wait": {"type": "qr", "data": code, "image_url": qr_data_url(code)},
            }
        case PairingCode(code=code):
            step = {
                "type": "display_and_wait",
                "step_id": STEP_CODE,
                "instructions": "Input the pairing code in the WhatsApp mobile app to log in",
                "display_and_wait": {"type": "code", "data": code},
            }
        case LoginSuccess(phone=phone):
            step = {
                "type": "complete",
                "step_id": STEP_COMPLETE,
                "instructions": f"Successfully logged in as +{phone}",
                "complete": {"user_login_id": phone},
            }
        case LoginTimeout():
            raise APIError(
                400,
                "FI.MAU.WHATSAPP.LOGIN_TIMEOUT",
                "Entering code or scanning QR timed out. Please try again.",
            )
        case InvalidPhone(message=message):
            raise APIError(400, "FI.MAU.WHATSAPP.INVALID_PHONE_NUMBER", message)
        case LoginFailed(message=message):
            raise APIError(500, "FI.MAU.WHATSAPP.LOGIN_FAILED", f"Login failed: {message}")
        case LoginCancelled():
            raise APIError(410, "FI.MAU.BRIDGE.LOGIN_CANCELLED", "Login process was cancelled")
        case _:
            raise APIError(500, "M_UNKNOWN", "Unknown login state")
    return {"login_id": process.id, **step}


class ProvisioningAPI:
    """The API's handlers, registered on the appservice's aiohttp app under ``prefix``."""

    def __init__(self, bridge: WhatsAppBridge, settings: ProvisioningSettings) -> None:
        self.bridge = bridge
        self.settings = settings
        self.prefix = settings.prefix
        self._secret = settings.shared_secret.encode()
        self.login_tokens = TokenStore(settings.login_token_lifetime)
        self.page_sessions = TokenStore(settings.login_session_lifetime)
        self._matrix_auth_cache: dict[bytes, tuple[UserID, float]] = {}

    def register(self, app: web.Application) -> None:
        p = self.prefix + "/v3"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/whoami", self.get_whoami),
            ("GET", "/login/flows", self.get_login_flows),
            ("POST", "/login/start/{flow}", self.post_login_start),
            ("POST", "/login/step/{login_id}/{step_id}/{step_type}", self.post_login_step),
            ("POST", "/login/cancel/{login_id}", self.post_login_cancel),
            ("GET", "/logins", self.get_logins),
            ("POST", "/logout/{login_id}", self.post_logout),
            ("GET", "/contacts", self.not_supported("Listing contacts")),
            ("POST", "/search_users", self.not_supported("Searching users")),
            ("GET", "/resolve_identifier/{identifier}", self.get_resolve_identifier),
            ("POST", "/create_dm/{identifier}", self.not_supported("Creating DMs")),
            ("POST", "/create_group/{type}", self.not_supported("Creating groups")),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, p + path, json_errors(handler))
        app.router.add_route("*", self.prefix + "/{tail:.*}", json_errors(self.unrecognized))

    # ---- authentication ----------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> User:
        """The user a request acts for, or the APIError that refuses it."""
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        if not token:
            raise APIError(401, "M_MISSING_TOKEN", "Missing auth token")
        asked = request.query.get("user_id")
        if hmac.compare_digest(token.encode(), self._secret):
            if not asked:
                raise APIError(400, "M_MISSING_PARAM", "The user_id query parameter is required")
            user_id = UserID(asked)
        else:
            found = self.page_sessions.check(token) or await self._matrix_auth(token)
            if found is None:
                raise APIError(401, "M_UNKNOWN_TOKEN", "Invalid auth token")
            if asked and asked != found:
                raise APIError(403, "M_FORBIDDEN", "The token belongs to another user")
            user_id = found
        try:
            Client.parse_user_id(user_id)
        except ValueError:
            raise APIError(400, "M_INVALID_PARAM", "user_id is not a Matrix user ID") from None
        user = await self.bridge.get_user(user_id)
        if user is None or not user.is_whitelisted:
            raise APIError(403, "M_FORBIDDEN", "User does not have login permissions")
        return user

    async def _matrix_auth(self, token: str) -> UserID | None:
        """The owner of a Matrix access token, asked of the homeserver (cached briefly)."""
        if not self.settings.allow_matrix_auth:
            return None
        key = digest(token)
        now = time.monotonic()
        cached = self._matrix_auth_cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        url = self.bridge.config["homeserver.address"].rstrip("/")
        url += "/_matrix/client/v3/account/whoami"
        try:
            async with self.bridge.az.http_session.get(
                url, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                if resp.status != 200:
                    return None
                data = await resp.json(content_type=None)
        except Exception as e:
            log.warning("Checking a Matrix access token failed: %s", e)
            return None
        user_id = data.get("user_id") if isinstance(data, dict) else None
        if not isinstance(user_id, str):
            return None
        for old in [k for k, (_, expires) in self._matrix_auth_cache.items() if expires <= now]:
            del self._matrix_auth_cache[old]
        self._matrix_auth_cache[key] = (UserID(user_id), now + MATRIX_AUTH_CACHE_SECONDS)
        return UserID(user_id)

    # ---- handlers ----------------------------------------------------------------------

    async def unrecognized(self, request: web.Request) -> web.Response:
        raise APIError(404, "M_UNRECOGNIZED", "Unrecognized endpoint")

    def not_supported(self, what: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            await self.authenticate(request)
            raise APIError(501, "M_UNRECOGNIZED", NOT_SUPPORTED_YET.format(what))

        return handler

    async def get_whoami(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        logins = []
        if await user.is_logged_in() and user.phone:
            states = await user.get_bridge_states()
            state = states[0].state_event.value if states else "UNKNOWN"
            logins.append(
                {
                    "id": user.phone,
                    "name": f"+{user.phone}",
                    "state": {"state_event": state},
                    "state_event": state,
                    "profile": {"phone": f"+{user.phone}"},
                }
            )
        body: dict[str, Any] = {
            "network": {
                "displayname": "WhatsApp",
                "network_url": "https://whatsapp.com",
                "network_id": "whatsapp",
                "beeper_bridge_type": "whatsapp",
                "default_command_prefix": self.bridge.config["bridge.command_prefix"],
            },
            "login_flows": LOGIN_FLOWS,
            "homeserver": self.bridge.config["homeserver.domain"],
            "bridge_bot": self.bridge.az.bot_mxid,
            "command_prefix": self.bridge.config["bridge.command_prefix"],
            "user_id": user.mxid,
            "logins": logins,
        }
        if user.row.management_room:
            body["management_room"] = user.row.management_room
        return web.json_response(body)

    async def get_login_flows(self, request: web.Request) -> web.Response:
        await self.authenticate(request)
        return web.json_response({"flows": LOGIN_FLOWS})

    async def post_login_start(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        flow = request.match_info["flow"]
        if flow not in ("qr", "phone"):
            raise APIError(404, "M_NOT_FOUND", f"Unknown login flow {flow!r}")
        if await user.is_logged_in():
            raise APIError(
                403,
                "FI.MAU.BRIDGE.TOO_MANY_LOGINS",
                f"Already logged in as +{user.phone}; log out first",
            )
        process = await user.replace_login(None if flow == "qr" else "")
        if flow == "qr":
            await process.wait_change(0)
        log.info("%s started a %s login through the provisioning API", user.mxid, flow)
        return web.json_response(step_json(process))

    def _process(self, user: User, login_id: str) -> LoginProcess:
        """The user's own login process with this ID (only theirs is ever looked at)."""
        process = user.login
        if process is None or not hmac.compare_digest(process.id.encode(), login_id.encode()):
            raise APIError(404, "M_NOT_FOUND", "Login not found")
        return process

    async def post_login_step(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        info = request.match_info
        process = self._process(user, info["login_id"])
        step_type = info["step_type"]
        if step_type == "complete":
            raise APIError(
                410, "FI.MAU.BRIDGE.LOGIN_ALREADY_FINISHED", "Login process was already finished"
            )
        if step_type not in ("user_input", "display_and_wait"):
            raise APIError(404, "M_UNRECOGNIZED", f"Invalid step type {step_type!r}")
        params = await read_json_object(request) if step_type == "user_input" else None
        current = step_json(process)
        if current["type"] != step_type or current["step_id"] != info["step_id"]:
            raise APIError(400, "M_BAD_STATE", "Step ID does not match")
        seen = process.version
        if params is not None:
            phone = params.get("phone_number")
            if not isinstance(phone, str) or not phone.strip():
                raise APIError(400, "M_BAD_JSON", "phone_number is required")
            if not phone.strip().startswith("+"):
                phone = "+" + phone.strip()
            try:
                digits = normalize_phone(phone)
            except ValueError as e:
                raise APIError(400, "FI.MAU.WHATSAPP.INVALID_PHONE_NUMBER", str(e)) from None
            process.submit_phone(digits)
            seen = process.version
        await process.wait_change(seen)
        return web.json_response(step_json(process))

    async def post_login_cancel(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        process = self._process(user, request.match_info["login_id"])
        await process.cancel()
        return web.json_response({})

    async def get_logins(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        ids = [user.phone] if await user.is_logged_in() and user.phone else []
        return web.json_response({"login_ids": ids})

    async def post_logout(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        login_id = request.match_info["login_id"]
        logged_in = await user.is_logged_in()
        if login_id == "all":
            if logged_in:
                await user.logout()
            return web.json_response({})
        if not logged_in or not user.phone or login_id != user.phone:
            raise APIError(404, "M_NOT_FOUND", "Login not found")
        await user.logout()
        return web.json_response({})

    async def get_resolve_identifier(self, request: web.Request) -> web.Response:
        user = await self.authenticate(request)
        if not await user.is_logged_in() or user.session is None:
            raise APIError(400, "FI.MAU.NOT_LOGGED_IN", "Not logged in")
        explicit = request.query.get("login_id")
        if explicit is not None and explicit != user.phone:
            raise APIError(404, "M_NOT_FOUND", "Login not found")
        identifier = request.match_info["identifier"].strip()
        if identifier.startswith("tel:"):
            identifier = identifier[len("tel:") :]
        if not identifier.startswith("+"):
            identifier = "+" + identifier
        try:
            digits = normalize_phone(identifier)
        except ValueError as e:
            raise APIError(400, "M_INVALID_PARAM", str(e)) from None
        if not user.session.is_connected:
            raise APIError(503, "FI.MAU.WHATSAPP.NOT_CONNECTED", "Not connected to WhatsApp")
        jid = await user.session.is_on_whatsapp(digits)
        if jid is None:
            raise APIError(404, "M_NOT_FOUND", "Identifier not found")
        try:
            ghost_id = ghost_id_for_jid(jid)
        except InvalidJID:
            raise APIError(404, "M_NOT_FOUND", "Identifier not found") from None
        return web.json_response(
            {
                "id": jid.partition("@")[0],
                "identifiers": [f"tel:+{digits}"],
                "mxid": self.bridge.ghost_mxid(ghost_id),
            }
        )
