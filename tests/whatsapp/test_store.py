"""The in-memory Signal stores: they satisfy the store protocols and behave like a database."""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair, with_key_type
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.keys import (
    PreKeyRecord,
    SignedPreKeyRecord,
    deserialize_identity_key_pair,
    serialize_identity_key_pair,
)
from mautrix_whatsapp.whatsapp.store import (
    Direction,
    IdentityStore,
    MemorySenderKeyStore,
    MemorySignalStore,
    PreKeyStore,
    SenderKeyStore,
    SessionStore,
    SignalProtocolStore,
    SignedPreKeyStore,
)

PEER = SignalAddress("123_1", 2)


def test_memory_store_satisfies_the_protocols() -> None:
    store = MemorySignalStore.generate()
    for protocol in (
        IdentityStore,
        PreKeyStore,
        SignedPreKeyStore,
        SessionStore,
        SenderKeyStore,
        SignalProtocolStore,
    ):
        assert isinstance(store, protocol)
    assert not isinstance(MemorySenderKeyStore(), SessionStore)
    assert 1 <= store.registration_id <= 0x3FFF


async def test_identities_trust_on_first_use() -> None:
    store = MemorySignalStore.generate()
    first, second = KeyPair.generate().public, KeyPair.generate().public
    assert await store.is_trusted_identity(PEER, first, Direction.RECEIVING)
    assert not await store.save_identity(PEER, with_key_type(first))  # 33-byte form accepted
    assert await store.get_identity(PEER) == first
    assert await store.is_trusted_identity(PEER, first, Direction.SENDING)
    assert not await store.is_trusted_identity(PEER, second, Direction.SENDING)
    assert await store.save_identity(PEER, second)  # replaced a different key
    assert await store.is_trusted_identity(PEER, second, Direction.RECEIVING)
    await store.delete_identity(PEER)
    assert await store.get_identity(PEER) is None
    other = SignalAddress(PEER.name + "0", PEER.device)
    for address in (PEER, SignalAddress(PEER.name, 9), other):
        await store.save_identity(address, first)
    await store.delete_all_identities(PEER.name)
    assert await store.get_identity(PEER) is None
    assert await store.get_identity(SignalAddress(PEER.name, 9)) is None
    assert await store.get_identity(other) == first


async def test_pre_keys_round_trip() -> None:
    store = MemorySignalStore.generate()
    record = PreKeyRecord.generate(5)
    await store.store_pre_key(record)
    assert await store.contains_pre_key(5)
    loaded = await store.load_pre_key(5)
    assert loaded is not None and loaded.key_pair.private == record.key_pair.private
    await store.remove_pre_key(5)
    assert await store.load_pre_key(5) is None and not await store.contains_pre_key(5)

    batch = [PreKeyRecord.generate(i) for i in range(10, 20)]
    await store.store_pre_keys(batch)
    for stored in batch:
        loaded = await store.load_pre_key(stored.key_id)
        assert loaded is not None and loaded.serialize() == stored.serialize()

    signed = SignedPreKeyRecord.generate(store.identity_key_pair, 9)
    await store.store_signed_pre_key(signed)
    again = await store.load_signed_pre_key(9)
    assert again is not None
    assert (again.signature, again.timestamp) == (signed.signature, signed.timestamp)
    assert await store.contains_signed_pre_key(9)
    await store.remove_signed_pre_key(9)
    assert await store.load_signed_pre_key(9) is None


async def test_sessions_and_sender_keys_are_copies() -> None:
    store = MemorySignalStore.generate()
    blob = bytearray(b"record")
    await store.store_session(PEER, blob)  # type: ignore[arg-type]
    blob[0] = 0
    assert await store.load_session(PEER) == b"record"
    other_device = SignalAddress("123_1", 3)
    other_user = SignalAddress("123", 2)
    await store.store_session(other_device, b"x")
    await store.store_session(other_user, b"y")
    assert await store.contains_session(PEER)
    await store.delete_all_sessions("123_1")
    assert not await store.contains_session(PEER)
    assert not await store.contains_session(other_device)
    assert await store.load_session(other_user) == b"y"
    await store.delete_session(other_user)
    assert await store.load_session(other_user) is None

    await store.store_sender_key("g@g.us", PEER, b"sk")
    assert await store.load_sender_key("g@g.us", PEER) == b"sk"
    assert await store.load_sender_key("h@g.us", PEER) is None


def test_identity_key_pair_serialization() -> None:
    pair = KeyPair.generate()
    again = deserialize_identity_key_pair(serialize_identity_key_pair(pair))
    assert (again.private, again.public) == (pair.private, pair.public)
