"""The committed protobuf modules: fresh, consistently packaged, and importable on their own."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "mautrix_whatsapp" / "whatsapp" / "proto"
PROTO_FILES = sorted(PROTO_DIR.glob("*.proto"))


def test_generated_modules_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_expected_schemas_exist() -> None:
    names = {p.stem for p in PROTO_FILES}
    assert {
        "wa_handshake",
        "wa_wa6",
        "wa_companion_reg",
        "wa_adv",
        "wa_common",
        "wa_e2e",
        "wa_web",
        "wa_history_sync",
        "wa_server_sync",
        "wa_sync_action",
    } <= names


@pytest.mark.parametrize("proto", PROTO_FILES, ids=lambda p: p.stem)
def test_schema_header_and_imports(proto: Path) -> None:
    text = proto.read_text()
    assert re.search(r'^syntax = "proto2";$', text, re.M)
    assert re.search(rf"^package mautrix_whatsapp\.{proto.stem};$", text, re.M)
    for imported in re.findall(r'^import "([^"]+)";', text, re.M):
        # Repo-root-relative imports make protoc emit absolute Python imports.
        assert imported.startswith("mautrix_whatsapp/whatsapp/proto/"), imported
        assert (ROOT / imported).is_file(), imported


@pytest.mark.parametrize("proto", PROTO_FILES, ids=lambda p: p.stem)
def test_module_imports_in_fresh_interpreter(proto: Path) -> None:
    module = f"mautrix_whatsapp.whatsapp.proto.{proto.stem}_pb2"
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    generated = (PROTO_DIR / f"{proto.stem}_pb2.py").read_text()
    assert "from . import" not in generated


def test_nested_messages_round_trip() -> None:
    """Across files: HistorySync → WebMessageInfo → E2E Message → MessageKey."""
    e2e = importlib.import_module("mautrix_whatsapp.whatsapp.proto.wa_e2e_pb2")
    web = importlib.import_module("mautrix_whatsapp.whatsapp.proto.wa_web_pb2")
    hs = importlib.import_module("mautrix_whatsapp.whatsapp.proto.wa_history_sync_pb2")
    reaction = e2e.Message(reactionMessage=e2e.ReactionMessage(text="👍"))
    reaction.reactionMessage.key.remoteJID = "1@s.whatsapp.net"
    info = web.WebMessageInfo(message=reaction, messageTimestamp=1700000000)
    info.key.ID = "ABC"
    sync = hs.HistorySync(syncType=hs.HistorySync.FULL)
    sync.conversations.add(ID="1@s.whatsapp.net").messages.add(message=info, msgOrderID=1)
    parsed = hs.HistorySync.FromString(sync.SerializeToString())
    msg = parsed.conversations[0].messages[0].message
    assert msg.key.ID == "ABC"
    assert msg.message.reactionMessage.key.remoteJID == "1@s.whatsapp.net"
    assert msg.message.reactionMessage.text == "👍"


def test_closed_enum_keeps_unknown_value_as_unknown_field() -> None:
    """An enum value newer than our schema must not masquerade as the default (REVOKE = 0)."""
    e2e = importlib.import_module("mautrix_whatsapp.whatsapp.proto.wa_e2e_pb2")
    # ProtocolMessage{type = 99}: tag (2 << 3 | 0) = 0x10, varint 99.
    wire = bytes([0x10, 99])
    msg = e2e.ProtocolMessage.FromString(wire)
    assert not msg.HasField("type")
    assert msg.SerializeToString() == wire
