"""The app-state store (keys, versions, hashes, value MACs): SQL and memory alike."""

from __future__ import annotations

from mautrix.types import UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, UserRow
from mautrix_whatsapp.db.appstate_store import SQLAppStateStore
from mautrix_whatsapp.db.whatsapp_store import SQLDeviceStore
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.store import (
    EMPTY_APP_STATE_HASH,
    AppStateStore,
    AppStateSyncKey,
    MemoryAppStateStore,
)

ALICE = UserID("@alice:example.org")
BOB = UserID("@bob:example.org")


async def check_app_state_store(store: AppStateStore, other: AppStateStore) -> None:
    """The contract, against ``store``; ``other`` belongs to someone else and stays empty."""
    assert isinstance(store, AppStateStore)
    assert await store.get_latest_app_state_sync_key_id() is None
    old = AppStateSyncKey(b"\x00\x01", b"k" * 32, b"\x08\x01", 1_700_000_000_000)
    new = AppStateSyncKey(b"\x00\x02", b"n" * 32, b"", 1_800_000_000_000)
    await store.put_app_state_sync_key(new)
    await store.put_app_state_sync_key(old)
    assert await store.get_latest_app_state_sync_key_id() == b"\x00\x02"
    got = await store.get_app_state_sync_key(b"\x00\x01")
    assert got is not None
    assert (got.key_id, got.data, got.fingerprint, got.timestamp) == (
        old.key_id,
        old.data,
        old.fingerprint,
        old.timestamp,
    )
    assert "k" * 32 not in repr(got)
    assert await store.get_app_state_sync_key(b"\x00\x03") is None

    name = "regular_low"
    assert await store.get_app_state_version(name) == (0, EMPTY_APP_STATE_HASH)
    h1, h2 = bytes(range(128)), bytes(reversed(range(128)))
    await store.put_app_state_update(name, 3, h1, [], [(b"i1", b"v1"), (b"i2", b"v2")])
    assert await store.get_app_state_version(name) == (3, h1)
    assert await store.get_app_state_mutation_mac(name, b"i1") == b"v1"
    assert await store.get_app_state_mutation_mac("regular_high", b"i1") is None
    # One patch: i1 removed, i2 replaced, i3 added (a removal then a set of the same index too).
    await store.put_app_state_update(
        name, 4, h2, [b"i1", b"i2"], [(b"i2", b"v2b"), (b"i3", b"v3")]
    )
    assert await store.get_app_state_version(name) == (4, h2)
    assert await store.get_app_state_mutation_mac(name, b"i1") is None
    assert await store.get_app_state_mutation_mac(name, b"i2") == b"v2b"
    assert await store.get_app_state_mutation_mac(name, b"i3") == b"v3"
    await store.put_app_state_update("regular", 1, h1, [], [(b"i3", b"other")])
    await store.delete_app_state_version(name)
    assert await store.get_app_state_version(name) == (0, EMPTY_APP_STATE_HASH)
    assert await store.get_app_state_mutation_mac(name, b"i3") is None
    assert await store.get_app_state_mutation_mac("regular", b"i3") == b"other"

    assert await other.get_latest_app_state_sync_key_id() is None
    assert await other.get_app_state_version("regular") == (0, EMPTY_APP_STATE_HASH)
    assert await other.get_app_state_mutation_mac("regular", b"i3") is None


async def test_memory_app_state_store() -> None:
    await check_app_state_store(MemoryAppStateStore(), MemoryAppStateStore())


async def test_sql_app_state_store(database: Database) -> None:
    tables = BridgeDB(database)
    for mxid in (ALICE, BOB):
        await tables.users.upsert(UserRow(mxid=mxid))
    await check_app_state_store(SQLAppStateStore(database, ALICE), SQLAppStateStore(database, BOB))


async def test_sql_app_state_goes_with_the_device(database: Database) -> None:
    await BridgeDB(database).users.upsert(UserRow(mxid=ALICE))
    store = SQLAppStateStore(database, ALICE)
    devices = SQLDeviceStore(database, ALICE)
    await devices.save_device(DeviceIdentity.generate())
    await store.put_app_state_sync_key(AppStateSyncKey(b"\x01", b"k" * 32, b"", 1))
    await store.put_app_state_update("regular", 2, bytes(128), [], [(b"i", b"v")])
    await devices.delete_device()
    assert await store.get_latest_app_state_sync_key_id() is None
    assert await store.get_app_state_version("regular") == (0, EMPTY_APP_STATE_HASH)
    assert await store.get_app_state_mutation_mac("regular", b"i") is None
