"""Prometheus metrics, scraped from the running bridge and parsed with prometheus_client's parser.

A login through the simulator, a receipt from the phone, a dropped connection and a device
removed on the phone each move their metric; request latencies come from the real traffic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import bot_notice, linked_user, sim_admin, wait_acks
from tests.e2e.synapse import SynapseInfo
from tests.processes import free_port
from tests.simulator_fixture import SimulatorInfo

pytestmark = pytest.mark.synapse

Metrics = dict[str, list[Sample]]


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def bridge_overrides(metrics_port: int) -> dict[str, Any]:
    return {"metrics.enabled": True, "metrics.listen": f"127.0.0.1:{metrics_port}"}


async def scrape(port: int) -> Metrics:
    """Every family's samples, by family name (as the parser names them: no ``_total``)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        text = await resp.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(metrics: Metrics, sample_name: str, **labels: str) -> float:
    """The value of one sample (0 when that label combination has not appeared yet)."""
    family = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    for sample in metrics.get(family, []):
        matches = all(sample.labels.get(k) == v for k, v in labels.items())
        if sample.name == sample_name and matches:
            return sample.value
    return 0.0


def total(metrics: Metrics, sample_name: str) -> float:
    """The sum of a sample over all its label combinations."""
    family = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    return sum(s.value for s in metrics.get(family, []) if s.name == sample_name)


async def wait_metric(
    port: int, check: Callable[[Metrics], bool], what: str, timeout: float = 30
) -> Metrics:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        metrics = await scrape(port)
        if check(metrics):
            return metrics
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"metrics never showed {what}")
        await asyncio.sleep(0.2)


async def test_metrics_move_with_login_traffic_and_logout(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    metrics_port: int,
) -> None:
    before = await scrape(metrics_port)
    # Every metric is defined from the start, the ones fed later included.
    for family in (
        "whatsapp_connected_users",
        "whatsapp_logins",
        "whatsapp_messages_bridged",
        "whatsapp_failures",
        "whatsapp_request_seconds",
        "matrix_request_seconds",
        "whatsapp_backfill_pending_conversations",
        "bridge_event_loop_lag_seconds",
    ):
        assert family in before, family
    assert value(before, "whatsapp_connected_users") == 0
    assert value(before, "whatsapp_logins_total", method="qr", result="success") == 0
    # Startup talked to Synapse (whoami, the bot's registration and profile...).
    assert total(before, "matrix_request_seconds_count") > 0
    assert value(before, "bridge_event_loop_lag_seconds") >= 0
    # No label identifies a user.
    for samples in before.values():
        for sample in samples:
            assert not {"user", "user_id", "mxid", "jid", "phone"} & set(sample.labels)

    alice, room, scan = await linked_user(matrix_user, synapse, simulator)
    bot = synapse.bot_mxid
    jid, phone = scan["jid"], scan["phone"]
    after_login = await wait_metric(
        metrics_port, lambda m: value(m, "whatsapp_connected_users") == 1, "a connected user"
    )
    assert value(after_login, "whatsapp_logins_total", method="qr", result="success") == 1
    # The login's IQs (pre-keys, usync...) and the ping the bot's `ping` caused were timed.
    assert value(after_login, "whatsapp_request_seconds_count", outcome="ok") > 0
    assert total(after_login, "matrix_request_seconds_count") > total(
        before, "matrix_request_seconds_count"
    )
    sent = value(after_login, "matrix_request_seconds_count", method="sendMessageEvent")
    assert sent > 0  # the bot's notices

    # A receipt from the phone flows through the client's events.
    receipts = value(after_login, "whatsapp_client_events_total", type="Receipt")
    await sim_admin(simulator, "POST", "/mock-phone/last-seen", json={"phone": phone, "ago": 60})
    await wait_acks(simulator, jid, "read-self", 1)
    await wait_metric(
        metrics_port,
        lambda m: value(m, "whatsapp_client_events_total", type="Receipt") > receipts,
        "the phone's receipt",
    )

    # Messages bridged each way move the counter, by direction and kind: the user's phone
    # writes to a friend (the DM portal gets it from the user's ghost), the user answers.
    friend = await sim_admin(simulator, "POST", "/accounts", json={"push_name": "Friend"})
    await sim_admin(
        simulator, "POST", f"/accounts/{phone}/send", json={"to": friend["jid"], "text": "counted"}
    )
    portal = await alice.wait_for_invite(timeout=30)
    await alice.join(portal)
    await alice.wait_for_event(
        portal, lambda e: e.get("content", {}).get("body") == "counted", timeout=30
    )
    await wait_metric(
        metrics_port,
        lambda m: (
            value(
                m, "whatsapp_messages_bridged_total", direction="whatsapp_to_matrix", kind="text"
            )
            == 1
        ),
        "the message bridged to Matrix",
    )
    await alice.send_text(portal, "answered")
    await wait_metric(
        metrics_port,
        lambda m: (
            value(
                m, "whatsapp_messages_bridged_total", direction="matrix_to_whatsapp", kind="text"
            )
            == 1
        ),
        "the answer bridged to WhatsApp",
    )

    # A dropped connection is a failure; the gauge follows the reconnect.
    await sim_admin(simulator, "POST", "/devices/drop", json={"jid": jid})
    await wait_metric(
        metrics_port,
        lambda m: (
            value(m, "whatsapp_failures_total", reason="wa-transient-disconnect") == 1
            and value(m, "whatsapp_connected_users") == 1
        ),
        "the drop and the reconnect",
    )

    # Removed on the phone: logged out, no longer connected.
    await sim_admin(simulator, "POST", "/mock-phone/remove-device", json={"jid": jid})
    await alice.wait_for_event(room, bot_notice(bot, "You were logged out"), timeout=20)
    final = await wait_metric(
        metrics_port,
        lambda m: value(m, "whatsapp_failures_total", reason="wa-logged-out") == 1,
        "the logout",
    )
    assert value(final, "whatsapp_connected_users") == 0
    assert value(final, "whatsapp_logins_total", method="qr", result="success") == 1
