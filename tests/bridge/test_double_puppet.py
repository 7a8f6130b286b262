"""Double puppeting's pieces without a homeserver: the token table (SQLite and PostgreSQL),
the config section surviving an update, and the edit marker that keeps edits from echoing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

from mautrix.appservice import AppServiceAPI, IntentAPI
from mautrix.appservice.state_store import ASStateStore
from mautrix.client.state_store import MemoryStateStore
from mautrix.types import UserID
from mautrix.util.async_db import Database
from mautrix.util.logging import TraceLogger
from ruamel.yaml import YAML
from yarl import URL

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
    """A real IntentAPI, as the bridge makes for a ghost or (``real_user``) a double puppet."""
    api = AppServiceAPI(
        base_url=URL("http://hs.invalid"),
        bot_mxid=UserID("@bot:example.org"),
        token="as_token",
        log=cast(TraceLogger, logging.getLogger("test")),
        state_store=cast(ASStateStore, MemoryStateStore()),  # sends nothing: no state needed
        bridge_name="mautrix-whatsapp",
    )
    mxid = ALICE if real_user else UserID("@whatsapp_1:example.org")
    intent: IntentAPI = api.intent(mxid, "syt_token") if real_user else api.intent(mxid)
    return intent


async def test_edits_by_a_double_puppet_carry_the_marker_inside() -> None:
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
