"""The metrics module alone: its endpoint, the Matrix request timing, the login and user hooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mautrix.api import HTTPAPI, Method
from mautrix.util.async_db import Database
from mautrix.util.bridge_state import BridgeStateEvent
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from mautrix_whatsapp import healthcheck, metrics
from mautrix_whatsapp import session as s
from mautrix_whatsapp.config import Config, ConfigError, parse_listen
from mautrix_whatsapp.user import User
from mautrix_whatsapp.wa_session import ClientSession, TimedClient
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.request import IQDisconnectedError, IQError, IQTimeoutError
from tests.bridge.test_user import logged_in
from tests.bridge.test_wa_session import make_session
from tests.processes import free_port


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8001", ("127.0.0.1", 8001)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("[::1]:8001", ("::1", 8001)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["8001", ":8001", "host:", "host:http", "host:0", "host:70000"])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


def test_metrics_listen_is_checked_only_when_enabled(config: Config) -> None:
    assert config["metrics.enabled"] is False
    assert config["metrics.listen"] == "127.0.0.1:8001"
    config["metrics.listen"] = "nonsense"
    config.validate()
    config["metrics.enabled"] = True
    with pytest.raises(ConfigError, match=r"metrics\.listen"):
        config.validate()
    config["metrics.listen"] = "127.0.0.1:9100"
    assert config.metrics_listen == ("127.0.0.1", 9100)


async def test_server_serves_the_registry_and_measures_loop_lag() -> None:
    lag_ticks = asyncio.Event()

    async def quick_probe() -> None:
        lag_ticks.set()
        await metrics.measure_loop_lag(0.01)

    metrics.message_bridged("whatsapp_to_matrix", "text")
    server = metrics.MetricsServer("127.0.0.1", free_port())
    await server.start(quick_probe)
    try:
        await asyncio.wait_for(lag_ticks.wait(), 10)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{server.port}/metrics") as resp,
        ):
            assert resp.status == 200
            text = await resp.text()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        bridged = families["whatsapp_messages_bridged"].samples
        assert any(
            x.labels == {"direction": "whatsapp_to_matrix", "kind": "text"} and x.value >= 1
            for x in bridged
        )
        assert "bridge_event_loop_lag_seconds" in families
        assert "whatsapp_backfill_pending_conversations" in families
    finally:
        await server.stop()
    with pytest.raises(aiohttp.ClientError):
        async with aiohttp.ClientSession() as http:
            await http.get(f"http://127.0.0.1:{server.port}/metrics")


async def test_loop_lag_is_measured() -> None:
    task = asyncio.create_task(metrics.measure_loop_lag(0.05))
    try:
        await asyncio.sleep(0.01)
        time.sleep(0.2)  # block the loop: the probe wakes at least this much late
        for _ in range(1000):
            if sample("bridge_event_loop_lag_seconds") >= 0.1:
                break
            await asyncio.sleep(0.001)
        else:
            raise AssertionError("the blocked loop was never measured")
    finally:
        task.cancel()


def test_backfill_progress() -> None:
    pending = sample("whatsapp_backfill_pending_conversations")
    done = sample("whatsapp_backfill_conversations_done_total")
    metrics.backfill_queued(3)
    metrics.backfill_done()
    assert sample("whatsapp_backfill_pending_conversations") == pending + 2
    assert sample("whatsapp_backfill_conversations_done_total") == done + 1


def test_connection_tracker_counts_each_user_once() -> None:
    base = sample("whatsapp_connected_users")
    a, b = metrics.ConnectionTracker(), metrics.ConnectionTracker()
    a.set(True)
    a.set(True)
    b.set(True)
    assert sample("whatsapp_connected_users") == base + 2
    a.set(False)
    a.set(False)
    b.set(False)
    assert sample("whatsapp_connected_users") == base


async def test_matrix_requests_are_timed_by_method_name() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/fail"):
            return web.json_response({"errcode": "M_FORBIDDEN", "error": "no"}, status=403)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    metrics.install_matrix_request_timing()
    metrics.install_matrix_request_timing()  # idempotent: timed once
    ok = sample("matrix_request_seconds_count", method="testOk", outcome="ok")
    failed = sample("matrix_request_seconds_count", method="testFail", outcome="error")
    plain = sample("matrix_request_seconds_count", method="GET", outcome="ok")
    try:
        async with aiohttp.ClientSession() as http:
            api = HTTPAPI(URL(f"http://127.0.0.1:{port}"), client_session=http)
            await api.request(Method.GET, "/ok", metrics_method="testOk")
            # Positionally, as mautrix's appservice API passes it on.
            await api.request(Method.GET, "/ok", None, None, None, 0, "testOk")
            await api.request(Method.GET, "/plain")
            with pytest.raises(Exception, match="no"):
                await api.request(Method.GET, "/fail", metrics_method="testFail")
    finally:
        await runner.cleanup()
    assert sample("matrix_request_seconds_count", method="testOk", outcome="ok") == ok + 2
    assert sample("matrix_request_seconds_count", method="testFail", outcome="error") == failed + 1
    assert sample("matrix_request_seconds_count", method="GET", outcome="ok") == plain + 1


async def _updates(*items: s.LoginUpdate, closed: list[bool]) -> AsyncGenerator[s.LoginUpdate]:
    try:
        for item in items:
            yield item
    finally:
        closed.append(True)


@pytest.mark.parametrize(
    ("updates", "result"),
    [
        ((s.QRCode("a"), s.LoginSuccess(jid="1:2@s.whatsapp.net", phone="1")), "success"),
        ((s.QRCode("a"), s.LoginTimeout()), "timeout"),
        ((s.LoginFailed("boom"),), "failed"),
    ],
)
async def test_login_results_are_counted(updates: tuple[s.LoginUpdate, ...], result: str) -> None:
    before = sample("whatsapp_logins_total", method="qr", result=result)
    closed: list[bool] = []
    got = [u async for u in ClientSession._counted_login(_updates(*updates, closed=closed), "qr")]
    assert got == list(updates)
    assert closed == [True]
    assert sample("whatsapp_logins_total", method="qr", result=result) == before + 1
    if result != "success":
        assert sample("whatsapp_failures_total", reason=f"login-{result}") >= 1


async def test_abandoned_login_is_cancelled_and_cleaned_up() -> None:
    before = sample("whatsapp_logins_total", method="phone", result="cancelled")
    closed: list[bool] = []
    inner = _updates(s.PairingCode("ABCD-1234"), s.LoginTimeout(), closed=closed)
    counted = ClientSession._counted_login(inner, "phone")
    assert isinstance(counted, AsyncGenerator)
    assert await anext(counted) == s.PairingCode("ABCD-1234")
    await counted.aclose()
    assert closed == [True]  # the login's own cleanup ran at once
    assert sample("whatsapp_logins_total", method="phone", result="cancelled") == before + 1


def state_of(user: User) -> tuple[BridgeStateEvent, str | None] | None:
    state = user._state
    return None if state is None else (state.state_event, state.error)


async def test_user_states_move_the_gauge_and_count_failures_once(config: Config) -> None:
    base = sample("whatsapp_connected_users")
    drops = sample("whatsapp_failures_total", reason="wa-transient-disconnect")
    user, _ = await logged_in(config)
    await user.handle_event(s.Connected())
    assert sample("whatsapp_connected_users") == base + 1
    await user.handle_event(s.Disconnected(reason="code 503"))
    assert state_of(user) == (BridgeStateEvent.TRANSIENT_DISCONNECT, "wa-transient-disconnect")
    assert sample("whatsapp_connected_users") == base
    await user.handle_event(s.Disconnected())  # the same state again: not a new failure
    assert sample("whatsapp_failures_total", reason="wa-transient-disconnect") == drops + 1
    await user.handle_event(s.Connected())
    assert state_of(user) == (BridgeStateEvent.CONNECTED, None)
    assert sample("whatsapp_connected_users") == base + 1
    await user.disconnect()
    assert sample("whatsapp_connected_users") == base


async def _probe_server(status: int) -> tuple[web.AppRunner, int]:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=status, text="{}")

    app = web.Application()
    app.router.add_get("/_matrix/mau/ready", handler)
    app.router.add_get("/_matrix/mau/live", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def _config_file(tmp_path: Path, port: int, hostname: str = "0.0.0.0") -> str:
    path = tmp_path / "config.yaml"
    path.write_text(f"appservice:\n    hostname: {hostname}\n    port: {port}\n")
    return str(path)


@pytest.mark.parametrize(("status", "code"), [(200, 0), (500, 1)])
async def test_healthcheck_follows_the_probe(tmp_path: Path, status: int, code: int) -> None:
    runner, port = await _probe_server(status)
    try:
        config = _config_file(tmp_path, port)
        for probe in ("ready", "live"):
            result = await asyncio.to_thread(healthcheck.main, ["-c", config, probe])
            assert result == code
    finally:
        await runner.cleanup()


def test_healthcheck_fails_without_a_bridge_or_config(tmp_path: Path) -> None:
    assert healthcheck.main(["-c", _config_file(tmp_path, free_port()), "--timeout", "2"]) == 1
    assert healthcheck.main(["-c", str(tmp_path / "missing.yaml")]) == 1
    (tmp_path / "bad.yaml").write_text("just a string\n")
    assert healthcheck.main(["-c", str(tmp_path / "bad.yaml")]) == 1


def test_healthcheck_url_for_any_address() -> None:
    url = healthcheck.probe_url({"appservice": {"hostname": "::", "port": 1}}, "live")
    assert url == "http://[::1]:1/_matrix/mau/live"
    url = healthcheck.probe_url({"appservice": {"hostname": "10.0.0.2", "port": 2}}, "ready")
    assert url == "http://10.0.0.2:2/_matrix/mau/ready"


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [
        (None, "ok"),
        (IQError(404, "item-not-found"), "error"),
        (IQTimeoutError(1.0), "timeout"),
        (IQDisconnectedError(), "disconnected"),
        (ConnectionResetError(), "disconnected"),
    ],
)
async def test_whatsapp_iq_round_trips_are_timed(
    config: Config,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception | None,
    outcome: str,
) -> None:
    async def send_iq(self: Client, xmlns: str, iq_type: str, *args: Any, **kw: Any) -> Node:
        await asyncio.sleep(0.01)
        if raised is not None:
            raise raised
        return Node("iq", {"type": "result"})

    monkeypatch.setattr(Client, "send_iq", send_iq)
    client = make_session(config, database)._make_client(DeviceIdentity.generate())
    assert isinstance(client, TimedClient)
    labels = {"xmlns": "w:test", "outcome": outcome}
    count = sample("whatsapp_request_seconds_count", **labels)
    total = sample("whatsapp_request_seconds_sum", **labels)
    if raised is None:
        assert (await client.send_iq("w:test", "get")).tag == "iq"
    else:
        with pytest.raises(type(raised)):
            await client.send_iq("w:test", "get")
    assert sample("whatsapp_request_seconds_count", **labels) == count + 1
    assert sample("whatsapp_request_seconds_sum", **labels) >= total + 0.01
