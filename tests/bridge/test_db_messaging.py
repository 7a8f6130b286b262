"""The messaging stores (LID map, sender-key recipients, message secrets): SQL and memory alike."""

from __future__ import annotations

from mautrix.types import UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, UserRow
from mautrix_whatsapp.db.whatsapp_store import SQLDeviceStore, SQLMessagingStore
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.store import MemoryMessagingStore, MessagingStore

ALICE = UserID("@alice:example.org")
BOB = UserID("@bob:example.org")


async def check_messaging_store(store: MessagingStore, other: MessagingStore) -> None:
    """The contract, against ``store``; ``other`` belongs to someone else and stays empty."""
    assert isinstance(store, MessagingStore)
    assert await store.get_lid_for_pn("111") is None
    await store.put_lid_mappings([("900", "111"), ("901", "112")])
    assert await store.get_lid_for_pn("111") == "900"
    assert await store.get_pn_for_lid("901") == "112"
    # A number that got a new LID: the old LID no longer maps to it, and vice versa.
    await store.put_lid_mappings([("902", "111")])
    assert await store.get_lid_for_pn("111") == "902"
    assert await store.get_pn_for_lid("900") is None
    await store.put_lid_mappings([("902", "113")])
    assert await store.get_lid_for_pn("111") is None
    assert await store.get_pn_for_lid("902") == "113"

    group = "123-456@g.us"
    assert await store.get_sender_key_devices(group) == set()
    await store.add_sender_key_devices(group, ["1@s.whatsapp.net", "1:2@s.whatsapp.net"])
    await store.add_sender_key_devices(group, ["1:2@s.whatsapp.net", "2@s.whatsapp.net"])
    assert await store.get_sender_key_devices(group) == {
        "1@s.whatsapp.net",
        "1:2@s.whatsapp.net",
        "2@s.whatsapp.net",
    }
    assert await store.get_sender_key_devices("other@g.us") == set()
    await store.clear_sender_key_devices(group)
    assert await store.get_sender_key_devices(group) == set()

    secret = bytes(range(32))
    await store.put_message_secret(group, "1@s.whatsapp.net", "3EB0AA", secret)
    assert await store.get_message_secret(group, "1@s.whatsapp.net", "3EB0AA") == secret
    assert await store.get_message_secret(group, "2@s.whatsapp.net", "3EB0AA") is None
    # A redelivered (or forged) copy of the message does not replace the first secret.
    await store.put_message_secret(group, "1@s.whatsapp.net", "3EB0AA", b"\x01" * 32)
    assert await store.get_message_secret(group, "1@s.whatsapp.net", "3EB0AA") == secret

    assert await other.get_lid_for_pn("113") is None
    assert await other.get_sender_key_devices(group) == set()
    assert await other.get_message_secret(group, "1@s.whatsapp.net", "3EB0AA") is None


async def test_memory_messaging_store() -> None:
    await check_messaging_store(MemoryMessagingStore(), MemoryMessagingStore())


async def test_sql_messaging_store(database: Database) -> None:
    tables = BridgeDB(database)
    for mxid in (ALICE, BOB):
        await tables.users.upsert(UserRow(mxid=mxid))
    await check_messaging_store(
        SQLMessagingStore(database, ALICE), SQLMessagingStore(database, BOB)
    )


async def test_sql_messaging_state_goes_with_the_device(database: Database) -> None:
    await BridgeDB(database).users.upsert(UserRow(mxid=ALICE))
    store = SQLMessagingStore(database, ALICE)
    devices = SQLDeviceStore(database, ALICE)
    await devices.save_device(DeviceIdentity.generate())
    await store.put_lid_mappings([("900", "111")])
    await store.add_sender_key_devices("g@g.us", ["1@s.whatsapp.net"])
    await store.put_message_secret("g@g.us", "1@s.whatsapp.net", "X", b"s" * 32)
    await devices.delete_device()
    assert await store.get_lid_for_pn("111") is None
    assert await store.get_sender_key_devices("g@g.us") == set()
    assert await store.get_message_secret("g@g.us", "1@s.whatsapp.net", "X") is None
