"""The web login page: ``/login/`` on the appservice port, a static page and its script.

The page authenticates with a one-time login token from the bot's ``login-web`` link (traded at
``POST /login/session`` for a short-lived session token) or with the user's Matrix access token.
Either way it then talks to the provisioning API like any other client.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web

from .provisioning import APIError, error_response, json_errors, read_json_object

if TYPE_CHECKING:
    from .provisioning import ProvisioningAPI

PAGE_PATH = "/login/"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


class LoginPage:
    """Serves the page and trades login-web tokens for page sessions."""

    def __init__(self, api: ProvisioningAPI) -> None:
        self.api = api
        page = _static("login.html").decode()
        self._html = page.replace("{{API_PREFIX}}", html.escape(api.prefix, quote=True))
        self._files = {
            "login.js": (_static("login.js"), "text/javascript"),
            "login.css": (_static("login.css"), "text/css"),
        }

    def link(self, token: str) -> str:
        """The address a user opens to log in with ``token``."""
        return f"{self.api.settings.public_url}{PAGE_PATH}#token={token}"

    def register(self, app: web.Application) -> None:
        app.router.add_get("/login", self.redirect)
        app.router.add_get(PAGE_PATH, self.page)
        app.router.add_get(PAGE_PATH + "{name}", self.static)
        app.router.add_post(PAGE_PATH + "session", json_errors(self.post_session))

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(PAGE_PATH)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self._html, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )

    async def static(self, request: web.Request) -> web.Response:
        found = self._files.get(request.match_info["name"])
        if found is None:
            return error_response(404, "M_NOT_FOUND", "Not found")
        data, content_type = found
        return web.Response(body=data, content_type=content_type, headers=SECURITY_HEADERS)

    async def post_session(self, request: web.Request) -> web.Response:
        """``{"login_token": …}`` → ``{"access_token", "user_id", "expires_in"}`` (once)."""
        body = await read_json_object(request)
        token = body.get("login_token")
        if not isinstance(token, str) or not token:
            raise APIError(400, "M_BAD_JSON", "login_token is required")
        user_id = self.api.login_tokens.take(token)
        if user_id is None:
            raise APIError(
                401,
                "M_UNKNOWN_TOKEN",
                "This login link is invalid, expired or already used. "
                "Ask the bridge bot for a new one with login-web.",
            )
        session = self.api.page_sessions.issue(user_id)
        return web.json_response(
            {
                "access_token": session,
                "user_id": user_id,
                "expires_in": int(self.api.page_sessions.lifetime),
            },
            headers={"Cache-Control": "no-store"},
        )
