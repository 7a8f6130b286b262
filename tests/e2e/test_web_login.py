"""The web login page in real headless Chromium, from the bot's ``login-web`` link (or a Matrix
access token) to "Logged in as +N", against the real Synapse, the bridge process and the
simulator: the simulated phone scans the QR code decoded from the page's screenshot."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.browser import Browser, assert_not_blank
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import (
    assert_no_secrets_above_debug,
    bot_notice,
    command,
    devices_of,
    sim_admin,
    user_with_management_room,
    wait_ping,
)
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo

pytestmark = pytest.mark.synapse

LINK_RE = re.compile(r"(https?://\S+/login/#token=[A-Za-z0-9_-]+)")
QR_FIRST = 5
QR_NEXT = 12


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    made = await asyncio.to_thread(Browser, tmp_path / "screenshots")
    try:
        yield made
    finally:
        await asyncio.to_thread(made.close)


@pytest.mark.parametrize(
    "bridge_overrides",
    [{"whatsapp.qr_timeout_first": QR_FIRST, "whatsapp.qr_timeout_next": QR_NEXT}],
)
async def test_qr_login_in_the_browser_from_a_login_web_link(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    browser: Browser,
) -> None:
    await sim_admin(
        simulator, "POST", "/mock-phone/ref-lifetime", json={"first": QR_FIRST, "next": QR_NEXT}
    )
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    reply = await command(alice, room, bot, "login-web", "Open this link to log in")
    match = LINK_RE.search(reply["content"]["body"])
    assert match, reply["content"]["body"]
    link = match.group(1)
    assert link.startswith(synapse.bridge_url + "/login/#token=")

    await asyncio.to_thread(browser.open, link)
    await asyncio.to_thread(browser.wait_text, "status", "You're not logged into WhatsApp")
    assert alice.user_id in browser.element("status").text
    # The one-time token left the address bar as soon as the page used it.
    assert "token" not in browser.driver.current_url
    await asyncio.to_thread(browser.click, "start-qr")
    first = await asyncio.to_thread(browser.qr_code)
    assert first.startswith("https://wa.me/settings/linked_devices#")
    # The page follows the rotation by itself: a new code without any click.
    second = await asyncio.to_thread(browser.qr_code, QR_FIRST + 30, first)
    assert second.startswith("https://wa.me/settings/linked_devices#") and second != first
    qr_png = browser.screenshot("qr")
    assert_not_blank(qr_png)

    scan = await sim_admin(simulator, "POST", "/mock-phone/scan-qr", data=second)
    assert scan["linked"] is True, scan
    phone = scan["phone"]
    await asyncio.to_thread(browser.wait_text, "logged-in", f"Logged in as +{phone}")
    done_png = await asyncio.to_thread(browser.screenshot, "logged-in")
    assert_not_blank(done_png)
    assert done_png != qr_png
    await wait_ping(alice, room, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")
    assert await devices_of(simulator, phone) == [scan["jid"]]

    # The link worked once: opened again, it is refused, and the page asks for a token.
    await asyncio.to_thread(browser.open, "about:blank")
    await asyncio.to_thread(browser.open, link)
    await asyncio.to_thread(browser.wait_text, "error", "invalid, expired or already used")
    await asyncio.to_thread(browser.wait_visible, "access-token")
    # Now logged in, login-web says so instead of making a link.
    await command(alice, room, bot, "login-web", f"already logged in as +{phone}")

    token = link.rsplit("=", 1)[1]
    ref, noise, identity, adv, *_ = second.split("#", 1)[1].split(",")
    assert_no_secrets_above_debug(
        bridge.log_path.read_text(errors="replace"), token, ref, noise, identity, adv
    )


async def test_pairing_code_in_the_browser_with_a_matrix_access_token(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    browser: Browser,
) -> None:
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid
    await asyncio.to_thread(browser.open, synapse.bridge_url + "/login/")
    # A wrong token is refused and the form stays.
    await asyncio.to_thread(browser.type, "access-token", "syt_not_a_real_token")
    await asyncio.to_thread(browser.click, "auth-submit")
    await asyncio.to_thread(browser.wait_text, "error", "Invalid auth token")
    await asyncio.to_thread(browser.type, "access-token", alice.access_token)
    await asyncio.to_thread(browser.click, "auth-submit")
    await asyncio.to_thread(browser.wait_text, "status", "You're not logged into WhatsApp")

    await asyncio.to_thread(browser.click, "start-phone")
    await asyncio.to_thread(browser.type, "phone-number", "+1555abc")
    await asyncio.to_thread(browser.click, "phone-submit")
    await asyncio.to_thread(browser.wait_text, "error", "only contain digits")
    # "Start again" leads back to the choice.
    await asyncio.to_thread(browser.click, "restart")
    await asyncio.to_thread(browser.click, "start-phone")
    phone = "15550006666"
    await asyncio.to_thread(browser.type, "phone-number", f"+{phone}")
    await asyncio.to_thread(browser.click, "phone-submit")
    code = await asyncio.to_thread(browser.wait_text, "pairing-code", "-")
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code), code
    assert_not_blank(await asyncio.to_thread(browser.screenshot, "pairing-code"))

    result = await sim_admin(
        simulator, "POST", "/mock-phone/enter-code", json={"phone": phone, "code": code}
    )
    assert result["linked"] is True, result
    await asyncio.to_thread(browser.wait_text, "logged-in", f"Logged in as +{phone}")
    assert_not_blank(await asyncio.to_thread(browser.screenshot, "logged-in"))
    await wait_ping(alice, room, bot, f"Logged in as +{phone}", "connection to WhatsApp OK")
    # A reload shows the login as it is now.
    await asyncio.to_thread(browser.driver.refresh)
    await asyncio.to_thread(browser.type, "access-token", alice.access_token)
    await asyncio.to_thread(browser.click, "auth-submit")
    await asyncio.to_thread(browser.wait_text, "logged-in", f"Logged in as +{phone}")
    await alice.sync_once()
    assert not [e for e in alice.events(room) if bot_notice(bot, "Login failed")(e)]
    assert_no_secrets_above_debug(
        bridge.log_path.read_text(errors="replace"), code, alice.access_token
    )
