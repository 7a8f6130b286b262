"""A transaction whose events could not be kept is refused (503), so the homeserver sends it
again; mautrix alone would answer 200 and the events would be gone. Real parts: mautrix's
appservice HTTP route and the ``pending_matrix_event`` table on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from aiohttp.test_utils import TestClient, TestServer
from mautrix.appservice import AppService
from mautrix.appservice.state_store.file import FileASStateStore
from mautrix.types import Event, RoomID, UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB
from mautrix_whatsapp.matrix_pending import MatrixEventKeeper

HS_TOKEN = "hs-token"
ROOM = "!portal:example.org"


class DiskFullOnce:
    """The real table, whose first write fails as a full disk would."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.failures_left = 1

    async def insert_many(self, events: list[Any]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("database or disk is full")
        await self.table.insert_many(events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)


class PortalBridge:
    """What the keeper asks of the bridge: its appservice, tables, and who is a portal."""

    def __init__(self, az: AppService, database: Database) -> None:
        self.az = az
        self.tables = BridgeDB(database)
        self.tables.pending_matrix = cast(Any, DiskFullOnce(self.tables.pending_matrix))

    async def get_portal(self, room_id: RoomID) -> object | None:
        return object() if room_id == ROOM else None

    def is_bridge_ghost(self, user_id: UserID) -> bool:
        return False

    async def get_user(self, user_id: UserID, create: bool = False) -> None:
        return None  # a previous run's event of someone unknown is dropped


def _message(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "m.room.message",
        "room_id": ROOM,
        "sender": "@alice:example.org",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": "hello"},
    }


def _appservice(tmp_path: Path) -> tuple[AppService, asyncio.Queue[Event]]:
    """mautrix's appservice, its handlers run before the answer (what isn't handled, wasn't)."""
    az = AppService(
        server="http://127.0.0.1:1",
        domain="example.org",
        as_token="as-token",
        hs_token=HS_TOKEN,
        bot_localpart="whatsappbot",
        id="whatsapp",
        state_store=FileASStateStore(str(tmp_path / "state.json")),
    )
    handled: asyncio.Queue[Event] = asyncio.Queue()

    async def record(event: Event) -> None:
        await handled.put(event)

    az.matrix_event_handler(record)
    az.synchronous_handlers = True
    return az, handled


async def _put(client: TestClient[Any, Any], txn_id: str, event_id: str = "$hello") -> int:
    response = await client.put(
        f"/_matrix/app/v1/transactions/{txn_id}",
        json={"events": [_message(event_id)]},
        headers={"Authorization": f"Bearer {HS_TOKEN}"},
    )
    return response.status


async def test_unkept_transaction_is_refused_then_taken_on_retry(
    database: Database, tmp_path: Path
) -> None:
    az, handled = _appservice(tmp_path)
    bridge = PortalBridge(az, database)
    keeper = MatrixEventKeeper(cast(Any, bridge))
    keeper.install()
    await keeper.resubmit_all()

    async with TestClient(TestServer(az.app)) as client:

        async def put(txn_id: str) -> int:
            return await _put(client, txn_id)

        assert await put("1") == 503
        assert handled.empty()
        assert await bridge.tables.pending_matrix.all() == []

        assert await put("1") == 200  # the homeserver's retry
        assert handled.get_nowait().event_id == "$hello"
        kept = await bridge.tables.pending_matrix.all()
        assert [e["event_id"] for e in kept] == ["$hello"]

        assert await put("1") == 200  # a repeat of a taken transaction: answered, not re-run
        assert handled.empty()


async def test_a_transaction_during_start_up_is_answered_at_once_and_handled_after(
    database: Database, tmp_path: Path
) -> None:
    """Synapse's recoverer must not wait on the bridge's start-up (its ping then fails)."""
    az, handled = _appservice(tmp_path)
    bridge = PortalBridge(az, database)
    cast(DiskFullOnce, bridge.tables.pending_matrix).failures_left = 0
    keeper = MatrixEventKeeper(cast(Any, bridge))
    keeper.install()

    async with TestClient(TestServer(az.app)) as client:
        assert await _put(client, "1", "$early") == 200
        assert handled.empty()  # the previous run's events go first
        kept = await bridge.tables.pending_matrix.all()
        assert [e["event_id"] for e in kept] == ["$early"]
        await keeper.resubmit_all()
        event = await asyncio.wait_for(handled.get(), 10)
        assert event.event_id == "$early"
