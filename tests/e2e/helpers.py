"""Small helpers for end-to-end tests: bot replies, the management room, the simulator's admin."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import zxingcpp
from PIL import Image

from tests.e2e.conftest import MakeUser
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.secrets_scan import SECRETS
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo

GREETING = "Hello, I'm a WhatsApp bridge bot."
LOGIN_HINT = "Use `help` for help or `login` to log in."
CODE_RE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")


def bot_notice(bot: str, *needles: str) -> Callable[[Event], bool]:
    """A bot's m.notice whose body contains every needle."""

    def match(event: Event) -> bool:
        content = event.get("content", {})
        return (
            event.get("type") == "m.room.message"
            and event.get("sender") == bot
            and content.get("msgtype") == "m.notice"
            and all(n in content.get("body", "") for n in needles)
        )

    return match


def is_qr(bot: str) -> Callable[[Event], bool]:
    """The bot's original QR image (not an edit)."""

    def match(event: Event) -> bool:
        content = event.get("content", {})
        return (
            event.get("type") == "m.room.message"
            and event.get("sender") == bot
            and content.get("msgtype") == "m.image"
            and "m.new_content" not in content
        )

    return match


def is_edit_of(bot: str, event_id: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        relates = content.get("m.relates_to", {})
        return (
            event.get("sender") == bot
            and relates.get("rel_type") == "m.replace"
            and relates.get("event_id") == event_id
            and content.get("m.new_content", {}).get("msgtype") == "m.image"
        )

    return match


def is_redaction_of(event_id: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.get("type") == "m.room.redaction" and (
            event.get("redacts") == event_id or event.get("content", {}).get("redacts") == event_id
        )

    return match


async def open_management_room(user: MatrixTestUser, synapse: SynapseInfo) -> str:
    """A DM with the bot, after its greeting."""
    room = await user.create_dm(synapse.bot_mxid)
    await user.wait_for_join(room, synapse.bot_mxid, timeout=20)
    await user.wait_for_event(room, bot_notice(synapse.bot_mxid, GREETING), timeout=20)
    return room


async def user_with_management_room(
    matrix_user: MakeUser, synapse: SynapseInfo, name: str = "alice"
) -> tuple[MatrixTestUser, str]:
    """A fresh user (``name`` plus a suffix) and its DM with the bot, after the greeting."""
    user = await matrix_user(name)
    return user, await open_management_room(user, synapse)


async def command(
    user: MatrixTestUser, room: str, bot: str, text: str, *expect: str, timeout: float = 20
) -> Event:
    """Send ``text`` and wait for the bot's notice containing every ``expect``."""
    await user.send_text(room, text)
    return await user.wait_for_event(room, bot_notice(bot, *expect), timeout=timeout)


async def decode_qr(user: MatrixTestUser, event: Event) -> str:
    """Download a QR image through the authenticated media API and decode the PNG."""
    content = event["content"].get("m.new_content", event["content"])
    return read_qr_png(await user.download_media(content["url"]))


def read_qr_png(png: bytes) -> str:
    """The text of the one QR code in a 512 px PNG."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (512, 512)
    # QR only: all formats also find a spurious Codabar in some random QR images.
    results = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(results) == 1, f"expected one QR code, got {len(results)}"
    SECRETS.add("QR contents", str(results[0].text))  # ---- secrets scanner ----
    return str(results[0].text)


async def sim_admin(
    simulator: SimulatorInfo,
    method: str,
    path: str,
    *,
    json: Any = None,
    data: str | None = None,
    ok: tuple[int, ...] = (200,),
) -> Any:
    """Call the simulator's admin API (``path`` relative to ``/admin``)."""
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            simulator.admin_url + path,
            json=json,
            data=data,
            ssl=simulator.ssl_context() or True,
        ) as resp,
    ):
        body = await resp.json(content_type=None)
        assert resp.status in ok, f"{method} {path} -> {resp.status}: {body}"
        return body


def is_pairing_code(event: Event) -> bool:
    """A message that is nothing but a pairing code (``ABCD-1234``)."""
    body = event.get("content", {}).get("body", "")
    if not CODE_RE.fullmatch(body):
        return False
    SECRETS.add("pairing code", body)  # ---- secrets scanner ----
    return True


async def start_qr_login(user: MatrixTestUser, room: str, bot: str) -> Event:
    """Send ``login`` and return the bot's first QR image."""
    await user.send_text(room, "login")
    return await user.wait_for_event(room, is_qr(bot), timeout=30)


async def qr_login(
    user: MatrixTestUser, room: str, bot: str, simulator: SimulatorInfo
) -> dict[str, Any]:
    """``login``, decode the QR from the room, scan it with the simulated phone."""
    qr = await start_qr_login(user, room, bot)
    text = await decode_qr(user, qr)
    assert text == qr["content"]["body"]
    assert text.startswith("https://wa.me/settings/linked_devices#")
    assert qr["content"]["info"]["w"] == qr["content"]["info"]["h"] == 512
    scan = await sim_admin(simulator, "POST", "/mock-phone/scan-qr", data=text)
    assert scan["linked"] is True, scan
    await user.wait_for_event(
        room, bot_notice(bot, f"Successfully logged in as +{scan['phone']}"), timeout=40
    )
    await user.wait_for_event(room, is_redaction_of(qr["event_id"]), timeout=20)
    return dict(scan)


async def wait_ping(user: MatrixTestUser, room: str, bot: str, *expect: str) -> None:
    """``ping`` until the reply says what we expect (a reconnect takes a moment)."""
    for _ in range(20):
        await user.send_text(room, "ping")
        reply = await user.wait_for_event(room, bot_notice(bot, "ogged"), timeout=20)
        if all(e in reply["content"]["body"] for e in expect):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"ping never said {expect}; last: {reply['content']['body']}")


async def linked_user(
    matrix_user: MakeUser,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    name: str = "alice",
    silent_phone: bool = False,
) -> tuple[MatrixTestUser, str, dict[str, Any]]:
    """A fresh user and its management room, linked by QR until ``ping`` says connected.

    ``silent_phone`` links to a new account whose phone sends no history syncs (a real phone's
    syncs at login are a sign of life, which tests of the phone's last activity must avoid).
    Returns the user, the room and the simulated phone's scan result (``phone``, ``jid``)."""
    if silent_phone:
        account = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
        path = f"/accounts/{account['phone']}/history-silent"
        await sim_admin(simulator, "POST", path, json={"silent": True})
    user, room = await user_with_management_room(matrix_user, synapse, name)
    bot = synapse.bot_mxid
    scan = await qr_login(user, room, bot, simulator)
    await wait_ping(user, room, bot, f"Logged in as +{scan['phone']}", "connection to WhatsApp OK")
    return user, room, scan


async def devices_of(simulator: SimulatorInfo, phone: str) -> list[str]:
    account = await sim_admin(simulator, "GET", f"/accounts/{phone}")
    return [d["jid"] for d in account["devices"]]


async def wait_acks(
    simulator: SimulatorInfo, jid: str, receipt_type: str, count: int, timeout: float = 20
) -> None:
    """Until the device has acked ``count`` receipts of ``receipt_type`` (the simulator's log)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        acks = (await sim_admin(simulator, "GET", f"/devices/{jid}/acks"))["acks"]
        got = [a for a in acks if a.get("class") == "receipt" and a.get("type") == receipt_type]
        if len(got) >= count:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{jid} acked {len(got)} {receipt_type} receipts, not {count}")
        await asyncio.sleep(0.1)


_LOG_RECORD = re.compile(r"^\[[^\]]+\] \[(?P<level>[A-Z]+)@[^\]]*\] ", re.MULTILINE)


def log_records_above_debug(log: str) -> list[str]:
    """The bridge log's records (with their continuation lines) above DEBUG/TRACE."""
    starts = list(_LOG_RECORD.finditer(log))
    records = []
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        end = following.start() if following else len(log)
        if match.group("level") not in ("DEBUG", "TRACE"):
            records.append(log[match.start() : end])
    return records


def assert_no_secrets_above_debug(log: str, *secrets: str) -> None:
    """No secret (QR content, pairing code, token) appears in a record above DEBUG."""
    assert _LOG_RECORD.search(log), "the log has no records in the expected format"
    for record in log_records_above_debug(log):
        for secret in secrets:
            assert secret not in record, f"a secret was logged above DEBUG: {record[:300]}"


# ---- initial sync ----


async def login_with_history(
    matrix_user: MakeUser,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    chats: list[dict[str, Any]],
) -> tuple[MatrixTestUser, str, str]:
    """A new default phone given ``chats`` as its past (the simulator's history import), then a
    fresh user linked to it by QR (the bot's login notice seen); returns the user, the
    management room and the phone number. The phone sends its history after the login."""
    account = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
    phone = str(account["phone"])
    await sim_admin(simulator, "POST", f"/accounts/{phone}/history", json={"chats": chats})
    user, management = await user_with_management_room(matrix_user, synapse)
    await qr_login(user, management, synapse.bot_mxid, simulator)
    return user, management, phone
