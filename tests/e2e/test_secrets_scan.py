"""The secrets scanner finds planted secrets, in every form, only at INFO and above."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from tests.e2e.secrets_scan import SecretRegistry

NOISE_KEY = bytes(range(32))
LOG = """[2026-01-01 00:00:00,000] [INFO@mau.init] Starting
[2026-01-01 00:00:01,000] [DEBUG@mau.as] token {token} is fine at DEBUG
[2026-01-01 00:00:02,000] [WARNING@mau.user] Something {planted}
Traceback (most recent call last):
  continued {in_traceback}
[2026-01-01 00:00:03,000] [INFO@mau.login] QR 2@abcdefghijkl,{qr_key},{qr_key},adv
"""


def _bridge_dir(tmp_path: Path, log: str) -> Path:
    directory = tmp_path / "bridge"
    directory.mkdir()
    (directory / "bridge.log").write_text(log)
    (directory / "config.yaml").write_text(
        "appservice:\n    as_token: as-secret-123\n    hs_token: hs-secret-456\n"
        "provisioning:\n    shared_secret: prov-secret-789\n"
        "double_puppet:\n    secrets:\n        example.org: as_token:dp-secret-000\n"
    )
    with sqlite3.connect(directory / "bridge.db") as conn:
        conn.execute("CREATE TABLE wa_device (owner TEXT, jid TEXT, data TEXT)")
        identity = {"noise_private": base64.b64encode(NOISE_KEY).decode()}
        conn.execute("INSERT INTO wa_device VALUES ('@a:b', NULL, ?)", (json.dumps(identity),))
    return directory


def test_planted_secrets_are_found_at_info_and_above(tmp_path: Path) -> None:
    qr_key = base64.b64encode(b"q" * 32).decode()
    log = LOG.format(
        token="syt_access_token_1",
        planted="with hs-secret-456 and key " + NOISE_KEY.hex(),
        in_traceback=base64.urlsafe_b64encode(NOISE_KEY).decode().rstrip("="),
        qr_key=qr_key,
    )
    registry = SecretRegistry()
    registry.add("Matrix access token", "syt_access_token_1")
    registry.add_bridge(_bridge_dir(tmp_path, log))
    found = {(f.kind, f.level) for f in registry.scan()}
    assert found == {
        ("appservice hs_token", "WARNING"),
        ("Noise private key", "WARNING"),
        ("QR contents", "INFO"),
    }


def test_a_clean_log_passes(tmp_path: Path) -> None:
    registry = SecretRegistry()
    registry.add("pairing code", "ABCD-1234")
    registry.add_bridge(_bridge_dir(tmp_path, "[t] [INFO@mau] all fine\n"))
    assert registry.scan() == []
