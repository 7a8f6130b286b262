"""Media requests of backfilled messages without a network: when they run (``local_time``),
how many at once (``max_async_handle``), the config keys, and the v13 table on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from mautrix.types import UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.backfill import media_requests
from mautrix_whatsapp.backfill.media_requests import MediaRequests, next_local_run
from mautrix_whatsapp.config import Config, ConfigError, MediaRequestSettings
from mautrix_whatsapp.db import BridgeDB, UserRow
from mautrix_whatsapp.db.media_request import DONE, PENDING, MediaRequestRow
from mautrix_whatsapp.user import User
from tests.bridge.test_config import EXAMPLE, _load_config

ALICE = UserID("@alice:example.org")
BOB = UserID("@bob:example.org")
CHAT = "15550000002@s.whatsapp.net"
OWN = "15550000001@s.whatsapp.net"


def _row(message_id: str, user: str = ALICE, t: int = 1000) -> MediaRequestRow:
    return MediaRequestRow(
        user_mxid=user,
        chat_jid=CHAT,
        receiver=OWN,
        sender=CHAT,
        message_id=message_id,
        part=0,
        mx_room="!room:example.org",
        event_id=f"$placeholder-{message_id}",
        timestamp=t,
        from_me=False,
        is_group=False,
        content=b"\x1a\x00",
        created_at=5,
    )


# ---- local_time ----------------------------------------------------------------------


def test_next_local_run_is_today_when_still_ahead() -> None:
    now = datetime(2026, 3, 10, 1, 15, tzinfo=UTC)
    assert next_local_run(now, 120) == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def test_next_local_run_is_tomorrow_once_passed() -> None:
    now = datetime(2026, 3, 10, 2, 0, 1, tzinfo=UTC)
    assert next_local_run(now, 120) == datetime(2026, 3, 11, 2, 0, tzinfo=UTC)


def test_next_local_run_at_the_minute_itself_is_now() -> None:
    now = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)
    assert next_local_run(now, 120) == now


def test_next_local_run_crosses_month_and_year_in_the_local_zone() -> None:
    zone = timezone(timedelta(hours=-5))
    now = datetime(2026, 12, 31, 23, 59, tzinfo=zone)
    run = next_local_run(now, 0)
    assert run == datetime(2027, 1, 1, 0, 0, tzinfo=zone)
    assert run.utcoffset() == timedelta(hours=-5)


# ---- scheduling ----------------------------------------------------------------------


@dataclass
class _FakeConfig:
    media_requests: MediaRequestSettings


@dataclass
class _FakeTable:
    rows: list[MediaRequestRow] = field(default_factory=list)

    async def put(self, row: MediaRequestRow) -> None:
        self.rows.append(row)

    async def pending(self, user: str) -> list[MediaRequestRow]:
        return [r for r in self.rows if r.user_mxid == user and r.status == PENDING]


@dataclass
class _FakeTables:
    media_requests: _FakeTable = field(default_factory=_FakeTable)


@dataclass
class _FakeBridge:
    config: _FakeConfig
    tables: _FakeTables = field(default_factory=_FakeTables)


@dataclass
class _FakeUser:
    bridge: _FakeBridge
    mxid: str = ALICE
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("test.media"))


def _requests(method: str = "immediate", max_async: int = 2) -> tuple[MediaRequests, _FakeTable]:
    settings = MediaRequestSettings(True, method, 120, max_async)
    user = _FakeUser(_FakeBridge(_FakeConfig(settings)))
    return MediaRequests(cast(User, user)), user.bridge.tables.media_requests


class _Phone:
    """Stands in for :func:`fill_media_request`: each request waits for ``release``."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self.handled: list[str] = []
        self.release = asyncio.Event()
        self.started = asyncio.Condition()

    async def fill(self, user: Any, row: MediaRequestRow) -> None:
        async with self.started:
            self.active += 1
            self.most = max(self.most, self.active)
            self.started.notify_all()
        try:
            await self.release.wait()
            self.handled.append(row.message_id)
        finally:
            self.active -= 1

    async def wait_active(self, count: int) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: self.active == count), 10)


async def test_at_most_max_async_handle_requests_run_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    phone = _Phone()
    monkeypatch.setattr(media_requests, "fill_media_request", phone.fill)
    requests, table = _requests(max_async=2)
    table.rows = [_row(f"M{i}") for i in range(5)]
    await requests.resume()
    await phone.wait_active(2)
    assert requests.in_flight() == 5  # three wait for a slot
    phone.release.set()
    await asyncio.wait_for(_idle(requests), 10)
    assert phone.most == 2
    assert sorted(phone.handled) == [f"M{i}" for i in range(5)]


async def test_the_same_request_is_not_started_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    phone = _Phone()
    monkeypatch.setattr(media_requests, "fill_media_request", phone.fill)
    requests, table = _requests(max_async=3)
    table.rows = [_row("M1")]
    await requests.resume()
    await requests.resume()  # a reconnect while it is in the phone's hands
    await phone.wait_active(1)
    assert requests.in_flight() == 1
    requests.stop()
    assert requests.in_flight() == 0


async def test_local_time_waits_for_its_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    phone = _Phone()
    monkeypatch.setattr(media_requests, "fill_media_request", phone.fill)
    requests, table = _requests("local_time")
    waits: asyncio.Queue[float] = asyncio.Queue()
    woken = asyncio.Event()

    async def fake_wait(seconds: float) -> None:
        waits.put_nowait(seconds)
        await woken.wait()

    monkeypatch.setattr(requests, "wait", fake_wait)
    table.rows = [_row("M1"), _row("M2")]
    await requests.resume()
    waited = await asyncio.wait_for(waits.get(), 10)
    now = datetime.now().astimezone()
    expected = (next_local_run(now, 120) - now).total_seconds()
    assert 0 <= waited <= 86400
    assert abs(waited - expected) < 5
    assert requests.in_flight() == 0  # nothing asked before the minute
    woken.set()
    await phone.wait_active(2)
    phone.release.set()
    requests.stop()


async def _idle(requests: MediaRequests) -> None:
    """Until every started request finished (each step lets the tasks run)."""
    while requests.in_flight():
        await asyncio.sleep(0)


# ---- config --------------------------------------------------------------------------


def _example(tmp_path: Path) -> Config:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    return _load_config(path)


def test_config_defaults_are_the_go_bridge_ones(tmp_path: Path) -> None:
    config = _example(tmp_path)
    settings = config.media_requests
    assert settings == MediaRequestSettings(
        auto_request_media=True,
        request_method="immediate",
        request_local_time=120,
        max_async_handle=2,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("request_method", "tonight"), ("request_local_time", 1440), ("max_async_handle", 0)],
)
def test_config_rejects_bad_media_request_values(tmp_path: Path, key: str, value: Any) -> None:
    config = _example(tmp_path)
    config.validate()
    config[f"bridge.history_sync.media_requests.{key}"] = value
    with pytest.raises(ConfigError, match=key):
        config.validate()


# ---- the table (v13) ---------------------------------------------------------------------


async def test_media_request_table_keeps_pending_until_finished(database: Database) -> None:
    tables = BridgeDB(database)
    for mxid in (ALICE, BOB):
        await tables.users.upsert(UserRow(mxid=mxid))
    table = tables.media_requests
    await table.put(_row("M2", t=2000))
    await table.put(_row("M1", t=1000))
    await table.put(_row("M3", user=BOB))
    pending = await table.pending(ALICE)
    assert [r.message_id for r in pending] == ["M1", "M2"]
    assert pending[0] == _row("M1", t=1000)

    await table.finish(pending[0], "media not on the phone (code 2)")
    assert [r.message_id for r in await table.pending(ALICE)] == ["M2"]
    done = await table.get(ALICE, CHAT, OWN, CHAT, "M1")
    assert done is not None
    assert (done.status, done.error) == (DONE, "media not on the phone (code 2)")

    again = _row("M1", t=1000)  # deferred again (the portal refilled): pending once more
    again.event_id = "$new-placeholder"
    await table.put(again)
    stored = await table.get(ALICE, CHAT, OWN, CHAT, "M1")
    assert stored is not None
    assert (stored.status, stored.event_id) == (PENDING, "$new-placeholder")
    assert [r.message_id for r in await table.pending(BOB)] == ["M3"]
