"""The real session's client: what it tells the phone, and what it knows after a restart.

These build :class:`ClientSession` clients on a real database (SQLite and PostgreSQL) and the
example config, without connecting anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from mautrix.types import UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.config import Config
from mautrix_whatsapp.db import BridgeDB, UserRow
from mautrix_whatsapp.wa_session import ClientSession
from mautrix_whatsapp.whatsapp.client_payload import device_props
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.proto import wa_companion_reg_pb2 as companion_reg

ALICE = UserID("@alice:example.org")


@dataclass
class StubBridge:
    """What ClientSession reads from the bridge: config, database, tables."""

    config: Config
    db: Database
    tables: BridgeDB


def make_session(config: Config, database: Database) -> ClientSession:
    async def sink(_event: object) -> None:
        return None

    bridge = StubBridge(config=config, db=database, tables=BridgeDB(database))
    return ClientSession(bridge, ALICE, sink)  # type: ignore[arg-type]


async def test_default_device_props(config: Config, database: Database) -> None:
    session = make_session(config, database)
    client = session._make_client(DeviceIdentity.generate())
    props = device_props(client.config)
    assert props.os == "Mautrix-WhatsApp bridge"
    assert props.platformType == companion_reg.DeviceProps.UNKNOWN
    assert props.HasField("requireFullSync") and not props.requireFullSync
    assert not props.historySyncConfig.HasField("fullSyncDaysLimit")
    assert not props.historySyncConfig.HasField("fullSyncSizeMbLimit")
    assert props.historySyncConfig.storageQuotaMb == 10240


async def test_config_edits_reach_device_props(config: Config, database: Database) -> None:
    config["whatsapp.os_name"] = "Alice's bridge"
    config["whatsapp.browser_name"] = "firefox"
    config["bridge.history_sync.request_full_sync"] = True
    config["bridge.history_sync.full_sync_config.days_limit"] = 400
    session = make_session(config, database)
    props = device_props(session._make_client(DeviceIdentity.generate()).config)
    assert props.os == "Alice's bridge"
    assert props.platformType == companion_reg.DeviceProps.FIREFOX
    assert props.requireFullSync is True
    # The full-sync limits are sent only when all three are set.
    assert not props.historySyncConfig.HasField("fullSyncDaysLimit")
    config["bridge.history_sync.full_sync_config.size_mb_limit"] = 2048
    props = device_props(session._make_client(DeviceIdentity.generate()).config)
    assert not props.historySyncConfig.HasField("fullSyncDaysLimit")
    assert not props.historySyncConfig.HasField("fullSyncSizeMbLimit")
    assert props.historySyncConfig.storageQuotaMb == 10240
    config["bridge.history_sync.full_sync_config.storage_quota_mb"] = 8192
    props = device_props(session._make_client(DeviceIdentity.generate()).config)
    assert props.historySyncConfig.fullSyncDaysLimit == 400
    assert props.historySyncConfig.fullSyncSizeMbLimit == 2048
    assert props.historySyncConfig.storageQuotaMb == 8192


async def test_client_starts_knowing_the_stored_phone_last_seen(
    config: Config, database: Database
) -> None:
    tables = BridgeDB(database)
    seen = int(time.time()) - 5 * 86400
    await tables.users.upsert(
        UserRow(mxid=ALICE, wa_jid="15551234567:3@s.whatsapp.net", phone_last_seen=seen)
    )
    session = make_session(config, database)
    client = session._make_client(DeviceIdentity.generate())
    assert client.phone_last_seen is None
    await session._seed_phone_last_seen(client)
    assert client.phone_last_seen == datetime.fromtimestamp(seen, UTC)
    # Older signs of life (e.g. the offline queue) don't move it back.
    client.note_phone_activity(datetime.fromtimestamp(seen - 3600, UTC))
    assert client.phone_last_seen == datetime.fromtimestamp(seen, UTC)


async def test_nothing_stored_nothing_seeded(config: Config, database: Database) -> None:
    await BridgeDB(database).users.upsert(UserRow(mxid=ALICE))
    session = make_session(config, database)
    client = session._make_client(DeviceIdentity.generate())
    await session._seed_phone_last_seen(client)
    assert client.phone_last_seen is None
