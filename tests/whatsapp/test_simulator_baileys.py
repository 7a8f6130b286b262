"""Baileys 7.0.0-rc14, a real third-party client, against the simulator: handshake and QR."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.simulator_fixture import SimulatorInfo, admin, simulator, simulator_tls

__all__ = ["simulator", "simulator_tls"]  # fixtures used by name below

QR_PREFIX = "https://wa.me/settings/linked_devices#"
HARNESS_TIMEOUT = 60.0

pytestmark = pytest.mark.node


@contextlib.asynccontextmanager
async def baileys_waiting_for_scan(info: SimulatorInfo, harness_dir: Path) -> AsyncIterator[str]:
    """Run the Baileys harness; yield its first QR while Baileys stays connected."""
    env = dict(os.environ)
    if info.ca_file is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(info.ca_file)
    process = await asyncio.create_subprocess_exec(
        "node",
        "baileys_qr.mjs",
        "--hold",
        "--url",
        info.websocket_url,
        "--root-key",
        info.root_public_key.hex(),
        cwd=harness_dir,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), HARNESS_TIMEOUT)
        result = json.loads(line) if line else {}
        if not isinstance(result.get("qr"), str):
            await process.wait()
            stderr = (await process.stderr.read()).decode() if process.stderr else ""
            pytest.fail(f"no QR from Baileys (exit {process.returncode}): {line!r} {stderr}")
        yield str(result["qr"])
        process.stdin.close()
        assert await asyncio.wait_for(process.wait(), HARNESS_TIMEOUT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def check_baileys_qr(info: SimulatorInfo, harness_dir: Path) -> None:
    async with baileys_waiting_for_scan(info, harness_dir) as qr:
        assert qr.startswith(QR_PREFIX)
        ref, noise, identity, adv, platform = qr[len(QR_PREFIX) :].split(",")
        assert len(base64.b64decode(adv)) == 32
        assert platform
        status, registrations = await admin(info, "GET", "/registrations")
        assert status == 200
        [registration] = registrations
        assert ref == registration["refs"][0]
        assert base64.b64decode(noise).hex() == registration["noise_public"]
        assert base64.b64decode(identity).hex() == registration["identity_public"]

        status, body = await admin(info, "POST", "/mock-phone/scan-qr?check_only=1", qr)
        assert (status, body) == (200, {"valid": True, "platform": platform, "url_form": True})
        status, body = await admin(info, "POST", "/mock-phone/scan-qr", qr)
        # The default plugins install the simulated phone, so the scan links (any 2xx, as in
        # Baileys' own mock server); the link itself is tested in test_client_baileys_link.
        assert 200 <= status < 300, body
    status, body = await admin(info, "GET", "/status")
    assert body["protocol_errors"] == []


async def test_baileys_handshake_and_qr_ws(
    simulator: SimulatorInfo, node_harness_dir: Path
) -> None:
    await check_baileys_qr(simulator, node_harness_dir)


async def test_baileys_handshake_and_qr_wss(
    simulator_tls: SimulatorInfo, node_harness_dir: Path
) -> None:
    await check_baileys_qr(simulator_tls, node_harness_dir)
