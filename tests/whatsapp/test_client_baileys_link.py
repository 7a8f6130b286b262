"""Baileys 7.0.0-rc14 links to the simulator by QR, opens, and logs in again from saved creds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import admin

pytestmark = [pytest.mark.node, pytest.mark.timeout(90)]
HARNESS_TIMEOUT = 40.0


async def run_baileys(
    info: SimulatorInfo, harness_dir: Path, auth: Path, scan: bool, phone: str | None = None
) -> list[dict[str, Any]]:
    """Run baileys_link.mjs to the end; scan each QR it shows when ``scan`` (or, with
    ``phone``, type the pairing code it asks for)."""
    process = await asyncio.create_subprocess_exec(
        "node",
        "baileys_link.mjs",
        "--url",
        info.websocket_url,
        "--root-key",
        info.root_public_key.hex(),
        "--auth",
        str(auth),
        *(["--phone", phone] if phone else []),
        cwd=harness_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(HARNESS_TIMEOUT):
            while line := await process.stdout.readline():
                item = json.loads(line)
                lines.append(item)
                if "qr" in item:
                    assert scan, f"Baileys showed a QR although it had credentials: {lines}"
                    status, body = await admin(info, "POST", "/mock-phone/scan-qr", raw=item["qr"])
                    assert status == 200 and body["linked"], body
                if "code" in item:
                    assert phone is not None
                    status, body = await admin(
                        info,
                        "POST",
                        "/mock-phone/enter-code",
                        {"phone": phone, "code": item["code"]},
                    )
                    assert status == 200 and body["linked"], body
            assert await process.wait() == 0, lines
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return lines


async def test_baileys_links_by_qr_and_reconnects(
    simulator: SimulatorInfo,  # noqa: F811
    node_harness_dir: Path,
    tmp_path: Path,
) -> None:
    auth = tmp_path / "baileys-auth"
    lines = await run_baileys(simulator, node_harness_dir, auth, scan=True)
    assert [next(iter(item)) for item in lines] == ["qr", "restart", "open"], lines
    me = lines[-1]["open"]
    phone, rest = me["id"].split(":")
    assert rest.endswith("@s.whatsapp.net") and me["lid"].endswith("@lid")
    _, account = await admin(simulator, "GET", f"/accounts/{phone}")
    [device] = account["devices"]
    assert device["jid"] == me["id"] and device["confirmed"]

    # Saved credentials: straight to open, no QR.
    again = await run_baileys(simulator, node_harness_dir, auth, scan=False)
    assert [next(iter(item)) for item in again] == ["open"], again
    assert again[0]["open"]["id"] == me["id"]
    _, status = await admin(simulator, "GET", "/status")
    assert status["protocol_errors"] == []


async def test_baileys_links_by_pairing_code(
    simulator: SimulatorInfo,  # noqa: F811
    node_harness_dir: Path,
    tmp_path: Path,
) -> None:
    """Baileys' own companion side of the code exchange against the simulated phone's."""
    lines = await run_baileys(
        simulator, node_harness_dir, tmp_path / "auth", scan=False, phone="15557654321"
    )
    assert [next(iter(item)) for item in lines] == ["code", "restart", "open"], lines
    assert lines[-1]["open"]["id"].startswith("15557654321:")


async def test_baileys_links_to_a_hosted_account(
    simulator: SimulatorInfo,  # noqa: F811
    node_harness_dir: Path,
    tmp_path: Path,
) -> None:
    """Baileys checks the hosted phone's 06 05 HMAC and signature, and countersigns 06 01: the
    simulated phone's hosted pairing is real, not just something our client agrees with."""
    phone = "15557654322"
    await admin(simulator, "POST", "/accounts", {"phone": phone, "hosted": True, "default": True})
    lines = await run_baileys(simulator, node_harness_dir, tmp_path / "auth", scan=True)
    assert [next(iter(item)) for item in lines] == ["qr", "restart", "open"], lines
    _, account = await admin(simulator, "GET", f"/accounts/{phone}")
    assert account["hosted"] is True
    [device] = account["devices"]
    assert device["jid"] == lines[-1]["open"]["id"] and device["confirmed"]
