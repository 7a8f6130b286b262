"""Random requests against the real provisioning app (aiohttp, on loopback) with the shared
secret: every answer is JSON, a 2xx or an error the API means (a 4xx, or its own 5xx codes for
a missing feature or connection), never the catch-all internal error or a hang."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mautrix_whatsapp.config import ProvisioningSettings
from mautrix_whatsapp.web.provisioning import ProvisioningAPI

from .gen import ODD_STRINGS, value
from .matrix_world import ALICE, BOB, STRANGER, matrix_world
from .runner import Check, Target

SECRET = "fuzz-shared-secret-0123456789"
PREFIX = "/_matrix/provision"
PATHS = [
    "/v3/whoami",
    "/v3/login/flows",
    "/v3/login/start/qr",
    "/v3/login/start/phone",
    "/v3/login/start/{word}",
    "/v3/login/step/{word}/{word}/{word}",
    "/v3/login/step/{word}/fi.mau.whatsapp.login.phone/user_input",
    "/v3/login/cancel/{word}",
    "/v3/logins",
    "/v3/logout/{word}",
    "/v3/logout/all",
    "/v3/contacts",
    "/v3/search_users",
    "/v3/resolve_identifier/{word}",
    "/v3/create_dm/{word}",
    "/v3/create_group/{word}",
    "/v1/{word}",
    "/{word}",
]
WORDS = [
    "qr",
    "phone",
    "+15550001111",
    "tel:+15550001111",
    "15550001111",
    "all",
    "x",
    "%00",
    "..",
    "",
]


def request(rng: random.Random) -> dict[str, Any]:
    """A method, path, query, auth header and body, any of them wrong."""
    path = rng.choice(PATHS)
    while "{word}" in path:
        word = rng.choice(WORDS) if rng.random() < 0.7 else rng.choice(ODD_STRINGS)
        path = path.replace("{word}", quote(word, safe="+:"), 1)
    query: dict[str, str] = {}
    if rng.random() < 0.9:
        query["user_id"] = rng.choice([ALICE, ALICE, BOB, STRANGER, "alice", "", "@:", "@a:b:c"])
    if rng.random() < 0.2:
        query["login_id"] = rng.choice(WORDS)
    token = rng.choice([SECRET, SECRET, SECRET, "", "wrong", SECRET + "x"])
    auth = rng.choice(["Bearer ", "Bearer ", "bearer ", "Basic ", ""]) + token
    kind = rng.randrange(4)
    if kind == 0:
        body: bytes = b""
    elif kind == 1:
        body = json.dumps({"phone_number": value(rng, ["+15550001111", "phone_number"])}).encode()
    elif kind == 2:
        body = json.dumps(value(rng, ["phone_number", "+1555"]), allow_nan=True).encode()
    else:
        body = rng.randbytes(rng.randrange(20))
    method = rng.choice(["GET", "POST", "POST", "PUT", "DELETE"])
    return {"method": method, "path": PREFIX + path, "query": query, "auth": auth, "body": body}


@asynccontextmanager
async def provisioning_world() -> AsyncIterator[Check]:
    async with matrix_world() as world:
        settings = ProvisioningSettings(
            enabled=True,
            prefix=PREFIX,
            shared_secret=SECRET,
            allow_matrix_auth=False,
            public_url="http://127.0.0.1",
            login_token_lifetime=60.0,
            login_session_lifetime=60.0,
        )
        api = ProvisioningAPI(cast(Any, world.bridge), settings)
        app = web.Application()
        api.register(app)
        async with TestClient(TestServer(app)) as client:

            async def check(req: dict[str, Any]) -> None:
                headers = {"Authorization": req["auth"]} if req["auth"] else {}
                async with client.request(
                    req["method"],
                    req["path"],
                    params=req["query"],
                    headers=headers,
                    data=req["body"],
                ) as resp:
                    text = await resp.text()
                    status = resp.status
                    inside = resp.url.path.startswith(PREFIX + "/")  # ".." may lead out
                if not inside:
                    return
                if status >= 400 and status != 405:  # aiohttp's own 405 for an unknown method
                    data = json.loads(text)
                    assert isinstance(data, dict) and isinstance(data.get("errcode"), str), text
                    # A 5xx only as one of the API's own errors, never the catch-all.
                    assert status < 500 or data["errcode"] != "M_UNKNOWN", text

            yield check


TARGETS = [Target("provisioning.requests", request, provisioning_world, share=0.5)]
