"""A real Synapse homeserver for end-to-end tests, started once per test session.

Synapse runs as a subprocess of the test venv's Python on a free loopback port, with SQLite, no
federation, every ``rc_*`` rate limit effectively off (real test users hit 429 within a few
requests otherwise) and an appservice registration for the bridge with known tokens. The bridge
under test must use :attr:`SynapseInfo.as_token`, :attr:`SynapseInfo.hs_token` and listen on
:attr:`SynapseInfo.bridge_port`; its own ``-g`` output is not what Synapse loads.

Use the ``synapse`` fixture by importing it (``from tests.e2e.synapse import synapse``). Every
importer shares one server per session: the running instance lives in the pytest config stash and
is stopped when the session ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.matrix_client import MatrixRequestError, MatrixTestUser
from tests.processes import free_port, log_tail, stop_process

SERVER_NAME = "localhost"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 8000
AS_ID = "whatsapp"
BOT_LOCALPART = "whatsappbot"
GHOST_PREFIX = "whatsapp_"

# Every rate limiter Synapse 1.163 has (synapse/config/ratelimiting.py), set out of reach.
_UNLIMITED = {"per_second": 10000, "burst_count": 100000}
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_room_creation": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_media_create": _UNLIMITED,
    "rc_profile": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_third_party_invite": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_admin_redaction": _UNLIMITED,
}

_STASH_KEY = pytest.StashKey["SynapseInfo"]()


class SynapseStartError(RuntimeError):
    """Synapse exited or never answered ``/_matrix/client/versions``."""


@dataclass(frozen=True)
class SynapseInfo:
    """Where the test homeserver listens and the secrets a test or the bridge needs."""

    base_url: str
    server_name: str
    port: int
    as_token: str
    hs_token: str
    bridge_port: int
    registration_path: Path
    shared_secret: str
    log_path: Path
    data_dir: Path
    pid: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    double_puppet_as_token: str = field(default="", repr=False)
    """The as_token of the second appservice, for ``double_puppet.secrets`` (``as_token:``)."""

    @property
    def bridge_url(self) -> str:
        """The appservice URL Synapse pushes transactions to (the bridge must listen there)."""
        return f"http://127.0.0.1:{self.bridge_port}"

    @property
    def bot_mxid(self) -> str:
        return f"@{BOT_LOCALPART}:{self.server_name}"

    def bridge_config_values(self) -> dict[str, Any]:
        """Dotted config.yaml keys that point the bridge at this server as its registration.

        The appservice ``id`` (``whatsapp``), bot (``whatsappbot``) and username template
        (``whatsapp_{userid}``) are the example config's defaults, which the registration uses.
        """
        return {
            "homeserver.address": self.base_url,
            "homeserver.domain": self.server_name,
            "appservice.address": self.bridge_url,
            "appservice.hostname": "127.0.0.1",
            "appservice.port": self.bridge_port,
            "appservice.as_token": self.as_token,
            "appservice.hs_token": self.hs_token,
        }

    def log_tail(self, size: int = LOG_TAIL) -> str:
        return log_tail(self.log_path, size)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def ping_appservice(self, transaction_id: str) -> tuple[int, str]:
        """Ask Synapse to ping the bridge (MSC2659); returns Synapse's status and body."""
        url = f"{self.base_url}/_matrix/client/v1/appservice/{AS_ID}/ping"
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                json={"transaction_id": transaction_id},
                headers={"Authorization": f"Bearer {self.as_token}"},
            ) as resp,
        ):
            return resp.status, await resp.text()

    async def register_user(
        self, username: str, password: str, *, admin: bool = False
    ) -> MatrixTestUser:
        """Create a real user with the shared-secret admin API and return a logged-in client.

        The caller owns the returned client and must ``await user.close()`` (or use the
        ``matrix_user`` fixture, which does).
        """
        url = f"{self.base_url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                nonce = (await _json_or_raise(resp, "GET", url))["nonce"]
            mac = shared_secret_mac(self.shared_secret, nonce, username, password, admin=admin)
            body = {
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac,
            }
            async with http.post(url, json=body) as resp:
                data = await _json_or_raise(resp, "POST", url)
        return MatrixTestUser(
            base_url=self.base_url,
            user_id=data["user_id"],
            access_token=data["access_token"],
            device_id=data.get("device_id"),
        )


def shared_secret_mac(
    secret: str, nonce: str, username: str, password: str, *, admin: bool = False
) -> str:
    """HMAC-SHA1 over ``nonce\\0username\\0password\\0admin|notadmin`` (Synapse's admin API)."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    for part in (nonce, username, password):
        mac.update(part.encode())
        mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    return mac.hexdigest()


async def _json_or_raise(resp: aiohttp.ClientResponse, method: str, url: str) -> Any:
    text = await resp.text()
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        data = {"raw": text}
    if resp.status != 200:
        raise MatrixRequestError(method, url, resp.status, data)
    return data


def registration_dict(
    *, as_token: str, hs_token: str, bridge_port: int, server_name: str = SERVER_NAME
) -> dict[str, Any]:
    """The bridge's appservice registration as Synapse loads it (see test-world.md §1.3)."""
    domain = server_name.replace(".", "\\.")
    return {
        "id": AS_ID,
        "url": f"http://127.0.0.1:{bridge_port}",
        "as_token": as_token,
        "hs_token": hs_token,
        "sender_localpart": BOT_LOCALPART,
        "rate_limited": False,
        "receive_ephemeral": True,  # MSC2409: typing and receipts for the bridge
        # ---- encryption ---- (appservice-mode end-to-bridge encryption: to-device events,
        # device lists and one-time-key counts in transactions; Synapse has no /sync for the
        # bot)
        "de.sorunome.msc2409.push_ephemeral": True,
        "org.matrix.msc3202": True,
        "namespaces": {
            "users": [
                {"regex": f"@{GHOST_PREFIX}.*:{domain}", "exclusive": True},
                {"regex": f"@{BOT_LOCALPART}:{domain}", "exclusive": True},
            ],
            "aliases": [{"regex": f"#{GHOST_PREFIX}.*:{domain}", "exclusive": True}],
            "rooms": [],
        },
    }


def double_puppet_registration_dict(
    *, as_token: str, hs_token: str, server_name: str = SERVER_NAME
) -> dict[str, Any]:
    """A second appservice for automatic double puppeting (the ``as_token:`` method): no URL
    (nothing is pushed to it), and a non-exclusive namespace over every user of the server,
    so its token may act as any of them with ``?user_id=``."""
    domain = server_name.replace(".", "\\.")
    return {
        "id": "doublepuppet",
        "url": None,
        "as_token": as_token,
        "hs_token": hs_token,
        "sender_localpart": "doublepuppet_" + hs_token[-8:],
        "rate_limited": False,
        "namespaces": {"users": [{"regex": f"@.*:{domain}", "exclusive": False}]},
    }


def homeserver_dict(
    data_dir: Path, *, port: int, shared_secret: str, registration_path: Path
) -> dict[str, Any]:
    """homeserver.yaml for a loopback-only test server (see test-world.md §1.2)."""
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(data_dir / "homeserver.pid"),
        "report_stats": False,
        "signing_key_path": str(data_dir / f"{SERVER_NAME}.signing.key"),
        "media_store_path": str(data_dir / "media_store"),
        "log_config": str(data_dir / "log.config"),
        "macaroon_secret_key": "test_macaroon_secret",
        "form_secret": "test_form_secret",
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "suppress_key_server_warning": True,
        "trusted_key_servers": [],
        "federation_domain_whitelist": [],
        "enable_metrics": False,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "app_service_config_files": [str(registration_path)],
        # ---- encryption ---- (the MSCs the registration above opts into)
        "experimental_features": {
            "msc2409_to_device_messages_enabled": True,
            "msc3202_transaction_extensions": True,
        },
        **_RATE_LIMITS,
    }


def log_config_dict(log_path: Path) -> dict[str, Any]:
    """File logging; the context filter provides ``%(request)s`` (Synapse refuses without)."""
    return {
        "version": 1,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                "%(request)s - %(message)s"
            }
        },
        "filters": {
            "context": {"()": "synapse.logging.context.LoggingContextFilter", "request": ""}
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_path),
                "encoding": "utf8",
                "filters": ["context"],
            }
        },
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def _write_json_yaml(path: Path, data: dict[str, Any]) -> None:
    # JSON is valid YAML, and keeps this module free of a YAML writer.
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"{base_url}/_matrix/client/versions"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SynapseStartError(f"Synapse exited with code {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise SynapseStartError(f"Synapse did not answer {url} within {timeout:.0f} s")


@contextlib.contextmanager
def run_synapse(
    data_dir: Path,
    *,
    start_timeout: float = START_TIMEOUT,
    extra_config: dict[str, Any] | None = None,
) -> Iterator[SynapseInfo]:
    """Start Synapse in ``data_dir``, yield its info once it answers, stop it on exit.

    ``extra_config`` overrides top-level homeserver.yaml keys. Raises
    :class:`SynapseStartError` with the tail of the logs if the server does not come up.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    bridge_port = free_port()
    while bridge_port == port:
        bridge_port = free_port()
    shared_secret = "test_shared_secret_" + os.urandom(8).hex()
    as_token = "as_token_test_" + os.urandom(16).hex()
    hs_token = "hs_token_test_" + os.urandom(16).hex()
    registration_path = data_dir / "registration.yaml"
    log_path = data_dir / "homeserver.log"
    stdout_path = data_dir / "stdout.log"
    config_path = data_dir / "homeserver.yaml"
    _write_json_yaml(
        registration_path,
        registration_dict(as_token=as_token, hs_token=hs_token, bridge_port=bridge_port),
    )
    _write_json_yaml(data_dir / "log.config", log_config_dict(log_path))
    config = homeserver_dict(
        data_dir, port=port, shared_secret=shared_secret, registration_path=registration_path
    )
    # The second appservice, for double puppeting tests (see double_puppet_registration_dict).
    double_puppet_as_token = "dp_as_token_test_" + os.urandom(16).hex()
    double_puppet_path = data_dir / "double-puppet-registration.yaml"
    _write_json_yaml(
        double_puppet_path,
        double_puppet_registration_dict(
            as_token=double_puppet_as_token, hs_token="dp_hs_token_" + os.urandom(16).hex()
        ),
    )
    config["app_service_config_files"].append(str(double_puppet_path))
    config.update(extra_config or {})
    _write_json_yaml(config_path, config)
    base_url = f"http://127.0.0.1:{port}"
    with stdout_path.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config_path)],
            cwd=data_dir,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        try:
            _wait_ready(process, base_url, start_timeout)
        except SynapseStartError as e:
            stop_process(process, STOP_TIMEOUT)
            raise SynapseStartError(
                f"{e}\n--- stdout/stderr ({stdout_path}) ---\n{log_tail(stdout_path, LOG_TAIL)}"
                f"\n--- homeserver.log ({log_path}) ---\n{log_tail(log_path, LOG_TAIL)}"
            ) from None
        yield SynapseInfo(
            base_url=base_url,
            server_name=SERVER_NAME,
            port=port,
            as_token=as_token,
            hs_token=hs_token,
            bridge_port=bridge_port,
            registration_path=registration_path,
            shared_secret=shared_secret,
            log_path=log_path,
            data_dir=data_dir,
            pid=process.pid,
            process=process,
            double_puppet_as_token=double_puppet_as_token,
        )
    finally:
        stop_process(process, STOP_TIMEOUT)


@pytest.fixture(scope="session")
def synapse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SynapseInfo:
    """The session's Synapse; started on first use, stopped when the session ends.

    Fails the test (never skips) with Synapse's log tail when the server cannot start.
    """
    info = request.config.stash.get(_STASH_KEY, None)
    if info is not None:
        if not info.is_running():
            pytest.fail(f"Synapse died during the session:\n{info.log_tail()}", pytrace=False)
        return info
    stack = contextlib.ExitStack()
    try:
        info = stack.enter_context(run_synapse(tmp_path_factory.mktemp("synapse")))
    except SynapseStartError as e:
        stack.close()
        pytest.fail(f"Synapse failed to start: {e}", pytrace=False)
    request.config.stash[_STASH_KEY] = info
    request.config.add_cleanup(stack.close)
    return info
