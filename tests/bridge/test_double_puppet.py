"""Double puppeting's pieces without a homeserver: the token table (SQLite and PostgreSQL),
the config section surviving an update, and the edit marker that keeps edits from echoing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from mautrix.appservice import IntentAPI
from mautrix.types import UserID
from mautrix.util.async_db import Database
from ruamel.yaml import YAML

from mautrix_whatsapp.config import Config
from mautrix_whatsapp.db.double_puppet import DoublePuppetRow, DoublePuppetTable
from mautrix_whatsapp.double_puppet import mark_edit

ALICE = UserID("@alice:example.org")
EXAMPLE = Path(__file__).resolve().parents[2] / "example-config.yaml"


async def test_tokens_are_stored_per_user(database: Database) -> None:
    table = DoublePuppetTable(database)
    assert await table.get(ALICE) is None
    await table.put(DoublePuppetRow(ALICE, "syt_first"))
    await table.put(DoublePuppetRow(ALICE, "syt_second", "https://matrix.example.org"))
    assert await table.get(ALICE) == DoublePuppetRow(
        ALICE, "syt_second", "https://matrix.example.org"
    )
    await table.delete(ALICE)
    assert await table.get(ALICE) is None


def test_the_double_puppet_section_survives_an_update(tmp_path: Path) -> None:
    yaml = YAML()
    data = yaml.load(EXAMPLE.read_text())
    assert data["double_puppet"] == {"servers": {}, "allow_discovery": False, "secrets": {}}
    data["double_puppet"]["servers"] = {"other.example": "https://matrix.other.example"}
    data["double_puppet"]["allow_discovery"] = True
    data["double_puppet"]["secrets"] = {"example.org": "as_token:abc", "other.example": "x"}
    path = tmp_path / "config.yaml"
    with path.open("w") as f:
        yaml.dump(data, f)
    config = Config(str(path), str(tmp_path / "registration.yaml"), str(EXAMPLE))
    config.load()
    config.update(save=False)
    assert dict(config["double_puppet.servers"]) == {
        "other.example": "https://matrix.other.example"
    }
    assert config["double_puppet.allow_discovery"] is True
    assert dict(config["double_puppet.secrets"]) == {
        "example.org": "as_token:abc",
        "other.example": "x",
    }


def _intent(real_user: bool) -> IntentAPI:
    api = SimpleNamespace(is_real_user=real_user, bridge_name="mautrix-whatsapp")
    return cast(IntentAPI, SimpleNamespace(api=api))


def test_edits_by_a_double_puppet_carry_the_marker_inside() -> None:
    """mautrix reads a received edit as its m.new_content: the marker must be there too."""
    edit: dict[str, Any] = {
        "msgtype": "m.text",
        "body": "* new",
        "m.new_content": {"msgtype": "m.text", "body": "new"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"},
    }
    ghost_edit = {**edit, "m.new_content": dict(edit["m.new_content"])}
    mark_edit(_intent(real_user=False), ghost_edit)
    assert "fi.mau.double_puppet_source" not in ghost_edit["m.new_content"]
    mark_edit(_intent(real_user=True), edit)
    assert edit["m.new_content"]["fi.mau.double_puppet_source"] == "mautrix-whatsapp"
    plain = {"msgtype": "m.text", "body": "hi"}
    mark_edit(_intent(real_user=True), plain)
    assert plain == {"msgtype": "m.text", "body": "hi"}
