"""The example config: every key survives an update, placeholders are refused, sections parse."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mautrix.types import UserID
from mautrix.util.config import ConfigValueError
from ruamel.yaml import YAML

from mautrix_whatsapp.config import Config, ConfigError, parse_duration

BASE = "pkg://mautrix_whatsapp/example-config.yaml"
EXAMPLE = Path(__file__).resolve().parents[2] / "mautrix_whatsapp" / "example-config.yaml"
REPO = Path(__file__).resolve().parents[2]


def _yaml() -> YAML:
    yaml = YAML()
    yaml.indent(4)
    return yaml


def _mutate(value: Any, path: str) -> Any:
    """A different value of the same kind, unique per key."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7
    if isinstance(value, str):
        return f"{value}-edited"
    if value is None:
        return f"set-{path}"
    if isinstance(value, list):
        return [*value, f"extra-{path}"]
    raise TypeError(path)


def _mutate_tree(node: Any, path: str = "") -> None:
    for key in list(node):
        child_path = f"{path}.{key}" if path else str(key)
        if isinstance(node[key], dict):
            _mutate_tree(node[key], child_path)
        else:
            node[key] = _mutate(node[key], child_path)
    if path in ("bridge.permissions", "bridge.relay.message_formats"):
        node[f"added-{path}"] = "user"


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _leaves(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{path}.{k}" if path else k)]
    return [path]


def _load_config(path: Path) -> Config:
    config = Config(str(path), str(path.parent / "registration.yaml"), BASE)
    config.load()
    return config


def test_every_key_survives_the_update(tmp_path: Path) -> None:
    yaml = _yaml()
    data = yaml.load(EXAMPLE.read_text())
    _mutate_tree(data)
    expected = copy.deepcopy(_plain(data))
    path = tmp_path / "config.yaml"
    with path.open("w") as f:
        yaml.dump(data, f)

    config = _load_config(path)
    config.update(save=True)

    saved = _plain(yaml.load(path.read_text()))
    lost = [leaf for leaf in _leaves(expected) if _get(saved, leaf) != _get(expected, leaf)]
    assert lost == []
    assert saved == expected


def _get(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return "<missing>"
        node = node[part]
    return node


def test_the_issue_keys_have_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    config = _load_config(path)
    config.update(save=False)
    assert config["appservice.port"] == 29318
    assert config["appservice.bot_username"] == "whatsappbot"
    assert config["appservice.database"].startswith("sqlite:")
    assert config["bridge.username_template"] == "whatsapp_{userid}"
    assert config["bridge.command_prefix"] == "!wa"
    assert set(config["bridge.permissions"].values()) == {"relay", "user", "admin"}
    assert "WhatsApp bridge bot" in config["bridge.management_room_text.welcome"]
    history = config.history_sync
    assert history.backfill is True
    assert history.max_initial_conversations == -1
    assert history.message_count == 50
    assert history.request_full_sync is False
    assert history.full_sync_days_limit is None
    assert history.dispatch_wait == 60.0
    wa = config.whatsapp
    assert wa.os_name == "Mautrix-WhatsApp bridge"
    assert wa.websocket_url == "wss://web.whatsapp.com/ws/chat"
    assert wa.root_public_key.hex() == (
        "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
    )
    assert wa.tls_ca_file is None


def test_logging_defaults_to_info() -> None:
    """DEBUG logs carry QR codes and pairing codes, so they must be opted into."""
    data = _yaml().load(EXAMPLE.read_text())
    logging_config = data["logging"]
    assert logging_config["root"]["level"] == "INFO"
    assert {name: logger["level"] for name, logger in logging_config["loggers"].items()} == {
        "mau": "INFO",
        "aiohttp": "INFO",
    }


def test_placeholders_are_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    config = _load_config(path)
    with pytest.raises(ConfigValueError, match=re.escape("homeserver.address")):
        config.check_default_values()
    config["homeserver.address"] = "http://127.0.0.1:8008"
    with pytest.raises(ConfigValueError, match=re.escape("homeserver.domain")):
        config.check_default_values()
    config["homeserver.domain"] = "localhost"
    with pytest.raises(ConfigValueError, match=re.escape("appservice.as_token")):
        config.check_default_values()
    config["appservice.as_token"] = config["appservice.hs_token"] = "x"
    config.check_default_values()


def test_permissions_most_specific_wins(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    config = _load_config(path)
    config["bridge.permissions"] = {
        "*": "relay",
        "example.org": "user",
        "@boss:example.org": "admin",
        "@blocked:example.org": "block",
    }
    assert config.get_permissions(UserID("@boss:example.org")) == (True, True, True)
    assert config.get_permissions(UserID("@someone:example.org")) == (True, True, False)
    assert config.get_permissions(UserID("@blocked:example.org")) == (False, False, False)
    assert config.get_permissions(UserID("@stranger:elsewhere.net")) == (True, False, False)
    config["bridge.permissions"] = {"example.org": "user"}
    assert config.get_permissions(UserID("@stranger:elsewhere.net")) == (False, False, False)


@pytest.mark.parametrize(
    ("value", "seconds"), [(60, 60.0), ("60s", 60.0), ("1m", 60.0), ("500ms", 0.5), ("2h", 7200.0)]
)
def test_parse_duration(value: Any, seconds: float) -> None:
    assert parse_duration("k", value) == seconds


@pytest.mark.parametrize("value", ["soon", "-1s", True, -3, "1 week"])
def test_parse_duration_rejects_nonsense_naming_the_key(value: Any) -> None:
    with pytest.raises(ConfigError, match=re.escape("bridge.x")):
        parse_duration("bridge.x", value)


def test_validate_names_bad_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    config = _load_config(path)
    config.validate()
    config["whatsapp.root_public_key"] = "abcd"
    with pytest.raises(ConfigError, match=re.escape("whatsapp.root_public_key")):
        config.validate()
    config["whatsapp.root_public_key"] = "00" * 32
    config["bridge.history_sync.dispatch_wait"] = "later"
    with pytest.raises(ConfigError, match=re.escape("dispatch_wait")):
        config.validate()


def test_provisioning_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    config = _load_config(path)
    assert config["provisioning.shared_secret"] == "generate"
    config.update(save=True)
    secret = _yaml().load(path.read_text())["provisioning"]["shared_secret"]
    assert secret != "generate" and len(secret) >= 32
    settings = _load_config(path).provisioning
    assert settings.enabled and settings.shared_secret == secret
    assert settings.prefix == "/_matrix/provision"
    assert settings.login_token_lifetime == 600
    again = _load_config(path)
    again.update(save=True)
    assert _yaml().load(path.read_text())["provisioning"]["shared_secret"] == secret
    again["provisioning.shared_secret"] = "disable"
    assert not again.provisioning.enabled
    again.validate()
    again["provisioning.shared_secret"] = "short"
    with pytest.raises(ConfigError, match=re.escape("provisioning.shared_secret")):
        again.validate()


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "mautrix_whatsapp", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_first_run_writes_config_then_refuses_placeholders_then_generates_registration(
    tmp_path: Path,
) -> None:
    first = _run([], tmp_path)
    assert first.returncode == 0, first.stderr
    written = tmp_path / "config.yaml"
    assert written.read_bytes() == EXAMPLE.read_bytes()
    for hint in ("homeserver.address", "bridge.permissions", "-g"):
        assert hint in first.stdout

    second = _run([], tmp_path)
    assert second.returncode == 11
    assert "homeserver.address" in second.stderr

    yaml = _yaml()
    data = yaml.load(written.read_text())
    data["homeserver"]["address"] = "http://127.0.0.1:8008"
    data["homeserver"]["domain"] = "example.net"
    with written.open("w") as f:
        yaml.dump(data, f)
    gen = _run(["-g", "-c", "config.yaml", "-r", "reg.yaml"], tmp_path)
    assert gen.returncode == 0, gen.stderr
    registration = yaml.load((tmp_path / "reg.yaml").read_text())
    config = yaml.load(written.read_text())
    assert registration["as_token"] == config["appservice"]["as_token"]
    assert registration["hs_token"] == config["appservice"]["hs_token"]
    assert registration["rate_limited"] is False
    regexes = [ns["regex"] for ns in registration["namespaces"]["users"]]
    assert "@whatsapp_.*:example\\.net" in regexes
    assert "@whatsappbot:example\\.net" in regexes
    # The edits made by hand survived the rewrite.
    assert config["homeserver"]["domain"] == "example.net"
