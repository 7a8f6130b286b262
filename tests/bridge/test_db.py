"""The bridge's tables and the SQL WhatsApp stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from mautrix.types import RoomID, UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, PortalRow, PuppetRow, UserRow, upgrade_table
from mautrix_whatsapp.db.whatsapp_store import (
    SQLDeviceStore,
    SQLMessagingStore,
    SQLSignalStore,
    delete_signal_state,
)
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyRecord, SignedPreKeyRecord
from mautrix_whatsapp.whatsapp.store import (
    DeviceStore,
    Direction,
    MessageSecretStore,
    SenderKeyStore,
    SignalProtocolStore,
)

ALICE = UserID("@alice:example.org")
BOB = UserID("@bob:example.org")


async def _users(db: Database, *mxids: UserID) -> BridgeDB:
    tables = BridgeDB(db)
    for mxid in mxids:
        await tables.users.upsert(UserRow(mxid=mxid))
    return tables


async def test_upgrades_reach_latest_version(database: Database) -> None:
    version = await database.fetchval("SELECT version FROM version")
    assert version == len(upgrade_table.upgrades) == 14
    for table in (
        "user",
        "puppet",
        "portal",
        "wa_device",
        "wa_session",
        "wa_sender_key",
        "wa_message_secret",
        "wa_app_state_version",
        "message",
        "reaction",
    ):
        assert await database.table_exists(table), table


async def test_upgrade_is_idempotent(database: Database) -> None:
    await upgrade_table.upgrade(database)
    assert await database.fetchval("SELECT version FROM version") == len(upgrade_table.upgrades)


async def test_user_round_trip_and_logged_in_queries(database: Database) -> None:
    tables = BridgeDB(database)
    assert await tables.users.get_by_mxid(ALICE) is None
    row = UserRow(mxid=ALICE, management_room=RoomID("!mgmt:example.org"))
    await tables.users.upsert(row)
    assert await tables.users.count_logged_in() == 0
    row.wa_jid = "15551234567:3@s.whatsapp.net"
    row.phone = "15551234567"
    row.phone_last_seen = 1_700_000_000
    await tables.users.upsert(row)
    await tables.users.upsert(UserRow(mxid=BOB))
    loaded = await tables.users.get_by_mxid(ALICE)
    assert loaded == row
    assert await tables.users.get_by_wa_jid("15551234567:3@s.whatsapp.net") == row
    assert [u.mxid for u in await tables.users.all_logged_in()] == [ALICE]
    assert await tables.users.count_logged_in() == 1


async def test_puppet_and_portal_round_trip(database: Database) -> None:
    tables = BridgeDB(database)
    puppet = PuppetRow(jid="15550001111@s.whatsapp.net", phone="15550001111", displayname="X")
    await tables.puppets.upsert(puppet)
    puppet.is_registered = True
    await tables.puppets.upsert(puppet)
    assert await tables.puppets.get_by_jid(puppet.jid) == puppet

    portal = PortalRow(jid="123-456@g.us", receiver="", mxid=RoomID("!room:example.org"))
    await tables.portals.upsert(portal)
    dm = PortalRow(jid="15550001111@s.whatsapp.net", receiver="15551234567@s.whatsapp.net")
    await tables.portals.upsert(dm)
    assert await tables.portals.get_by_mxid(RoomID("!room:example.org")) == portal
    assert await tables.portals.get_by_jid(dm.jid, dm.receiver) == dm
    assert await tables.portals.get_by_jid(dm.jid) is None
    await tables.portals.delete(portal.jid)
    assert await tables.portals.get_by_mxid(RoomID("!room:example.org")) is None


async def test_device_store_round_trip_and_delete(database: Database) -> None:
    await _users(database, ALICE)
    store = SQLDeviceStore(database, ALICE)
    assert isinstance(store, DeviceStore)
    assert await store.load_device() is None
    device = DeviceIdentity.generate()
    await store.save_device(device)
    loaded = await store.load_device()
    assert loaded is not None and loaded.to_dict() == device.to_dict()
    device.jid = JID.parse("15551234567:3@s.whatsapp.net")
    device.next_pre_key_id = 31
    await store.save_device(device)
    loaded = await store.load_device()
    assert loaded is not None
    assert str(loaded.jid) == "15551234567:3@s.whatsapp.net"
    assert loaded.next_pre_key_id == 31
    assert loaded.noise_key.private == device.noise_key.private

    signal = SQLSignalStore(database, ALICE, device.identity_key, device.registration_id)
    await signal.store_session(SignalAddress("1555", 0), b"session")
    await store.delete_device()
    assert await store.load_device() is None
    assert await signal.load_session(SignalAddress("1555", 0)) is None


async def test_signal_store_identities_are_trusted_on_first_use(database: Database) -> None:
    await _users(database, ALICE)
    identity = KeyPair.generate()
    store = SQLSignalStore(database, ALICE, identity, 4242)
    assert isinstance(store, SignalProtocolStore)
    assert isinstance(store, SenderKeyStore)
    assert (await store.get_identity_key_pair()).private == identity.private
    assert await store.get_local_registration_id() == 4242

    address = SignalAddress.from_jid_parts("15550001111", 0)
    key = KeyPair.generate().public
    other = KeyPair.generate().public
    assert await store.is_trusted_identity(address, key, Direction.RECEIVING)
    assert await store.save_identity(address, b"\x05" + key) is False  # type byte stripped
    assert await store.get_identity(address) == key
    assert await store.is_trusted_identity(address, key, Direction.SENDING)
    assert not await store.is_trusted_identity(address, other, Direction.SENDING)
    assert await store.save_identity(address, other) is True
    assert await store.get_identity(address) == other
    await store.delete_identity(address)
    assert await store.get_identity(address) is None


async def test_signal_store_deletes_all_identities_of_a_name(database: Database) -> None:
    await _users(database, ALICE)
    store = SQLSignalStore(database, ALICE, KeyPair.generate(), 1)
    gone = [SignalAddress("123_1", 0), SignalAddress("123_1", 12)]
    # "1234_1" shares the prefix and "12341" would match a LIKE "123_1%": both stay.
    kept = [SignalAddress("1234_1", 0), SignalAddress("12341", 0), SignalAddress("123", 0)]
    for address in gone + kept:
        await store.save_identity(address, KeyPair.generate().public)
    await store.delete_all_identities("123_1")
    assert [await store.get_identity(a) for a in gone] == [None, None]
    assert all([await store.get_identity(a) is not None for a in kept])


async def test_signal_store_pre_keys(database: Database) -> None:
    await _users(database, ALICE)
    identity = KeyPair.generate()
    store = SQLSignalStore(database, ALICE, identity, 1)
    record = PreKeyRecord.generate(7)
    assert not await store.contains_pre_key(7)
    await store.store_pre_key(record)
    assert await store.contains_pre_key(7)
    loaded = await store.load_pre_key(7)
    assert loaded is not None and loaded.serialize() == record.serialize()
    await store.remove_pre_key(7)
    assert await store.load_pre_key(7) is None

    batch = [PreKeyRecord.generate(i) for i in range(100, 150)]
    await store.store_pre_keys([*batch, batch[0]])  # a repeated id overwrites, never conflicts
    for stored in batch:
        loaded = await store.load_pre_key(stored.key_id)
        assert loaded is not None and loaded.serialize() == stored.serialize()
    # Another user's store sees none of them.
    await _users(database, BOB)
    assert not await SQLSignalStore(database, BOB, identity, 1).contains_pre_key(100)

    signed = SignedPreKeyRecord.generate(identity, 1)
    await store.store_signed_pre_key(signed)
    assert await store.contains_signed_pre_key(1)
    loaded_signed = await store.load_signed_pre_key(1)
    assert loaded_signed is not None and loaded_signed.serialize() == signed.serialize()
    await store.remove_signed_pre_key(1)
    assert not await store.contains_signed_pre_key(1)


async def test_signal_store_sessions_and_sender_keys(database: Database) -> None:
    await _users(database, ALICE)
    store = SQLSignalStore(database, ALICE, KeyPair.generate(), 1)
    a0 = SignalAddress.from_jid_parts("15550001111", 0)
    a1 = SignalAddress.from_jid_parts("15550001111", 1)
    lid = SignalAddress.from_jid_parts("15550001111", 0, "lid")
    for address, blob in ((a0, b"zero"), (a1, b"one"), (lid, b"lid")):
        await store.store_session(address, blob)
    await store.store_session(a0, b"zero-v2")
    assert await store.load_session(a0) == b"zero-v2"
    assert await store.contains_session(a1)
    await store.delete_session(a1)
    assert not await store.contains_session(a1)
    await store.store_session(a1, b"one")
    await store.delete_all_sessions("15550001111")
    assert await store.load_session(a0) is None and await store.load_session(a1) is None
    assert await store.load_session(lid) == b"lid"  # another domain, another name

    assert await store.load_sender_key("123@g.us", a0) is None
    await store.store_sender_key("123@g.us", a0, b"sk1")
    await store.store_sender_key("123@g.us", a0, b"sk2")
    await store.store_sender_key("123@g.us", a1, b"other")
    assert await store.load_sender_key("123@g.us", a0) == b"sk2"
    assert await store.load_sender_key("123@g.us", a1) == b"other"


async def test_stores_are_isolated_per_user(database: Database) -> None:
    await _users(database, ALICE, BOB)
    alice = SQLSignalStore(database, ALICE, KeyPair.generate(), 1)
    bob = SQLSignalStore(database, BOB, KeyPair.generate(), 2)
    address = SignalAddress("15550001111", 0)
    await alice.store_session(address, b"alice's")
    assert await bob.load_session(address) is None
    await bob.store_session(address, b"bob's")
    await delete_signal_state(database, ALICE)
    assert await alice.load_session(address) is None
    assert await bob.load_session(address) == b"bob's"

    await SQLDeviceStore(database, ALICE).save_device(DeviceIdentity.generate())
    assert await SQLDeviceStore(database, BOB).load_device() is None


async def test_deleting_a_user_cascades(database: Database) -> None:
    tables = await _users(database, ALICE)
    store = SQLSignalStore(database, ALICE, KeyPair.generate(), 1)
    for i in range(3):
        await store.store_pre_key(PreKeyRecord.generate(i + 1))
    assert await database.fetchval("SELECT COUNT(*) FROM wa_pre_key") == 3
    await database.execute('DELETE FROM "user" WHERE mxid=$1', ALICE)
    assert await tables.users.get_by_mxid(ALICE) is None
    assert await database.fetchval("SELECT COUNT(*) FROM wa_pre_key") == 0


async def test_message_secret_store(database: Database) -> None:
    await _users(database, ALICE, BOB)
    store = SQLMessagingStore(database, ALICE)
    assert isinstance(store, MessageSecretStore)
    chat, creator = "120363000000000001@g.us", "15550001111@s.whatsapp.net"
    assert await store.get_message_secret(chat, creator, "POLL") is None
    await store.put_message_secret(chat, creator, "POLL", b"s" * 32)
    await store.put_message_secret(chat, creator, "POLL", b"t" * 32)  # a redelivery: kept first
    assert await store.get_message_secret(chat, creator, "POLL") == b"s" * 32
    await store.put_message_secret(chat, "9@lid", "POLL", b"l" * 32)
    assert await store.get_message_secret(chat, "9@lid", "POLL") == b"l" * 32
    assert await store.get_message_secret(chat, creator, "OTHER") is None
    assert await store.get_message_secret("1@g.us", creator, "POLL") is None
    assert await SQLMessagingStore(database, BOB).get_message_secret(chat, creator, "POLL") is None
    await database.execute('DELETE FROM "user" WHERE mxid=$1', ALICE)
    assert await database.fetchval("SELECT COUNT(*) FROM wa_message_secret") == 0
