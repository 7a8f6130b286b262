"""The 1:1 session builder and cipher between two of our own devices: bounds, errors, records."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
from mautrix_whatsapp.whatsapp.signal.cipher import MAX_FUTURE_MESSAGES, CiphertextMessage
from mautrix_whatsapp.whatsapp.signal.errors import (
    CorruptRecordError,
    DuplicateMessageError,
    InvalidKeyError,
    InvalidKeyIdError,
    InvalidMACError,
    InvalidMessageError,
    InvalidSignatureError,
    NoSessionError,
    SignalError,
    UntrustedIdentityError,
)
from mautrix_whatsapp.whatsapp.signal.group_session import create_distribution
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle, PreKeyRecord, SignedPreKeyRecord
from mautrix_whatsapp.whatsapp.signal.messages import PreKeySignalMessage, SignalMessage
from mautrix_whatsapp.whatsapp.signal.proto.storage_pb2 import SessionStructure
from mautrix_whatsapp.whatsapp.signal.ratchet import ChainKey
from mautrix_whatsapp.whatsapp.signal.sender_key import SenderKeyRecord
from mautrix_whatsapp.whatsapp.signal.session import (
    ARCHIVED_STATES_MAX,
    MAX_RECEIVER_CHAINS,
    SessionRecord,
)
from mautrix_whatsapp.whatsapp.store import MemorySignalStore

from .signal_session_harness import PyDevice

ALICE = SignalAddress("111", 0)
BOB = SignalAddress("222_1", 3)


async def pair(prekey: bool = True) -> tuple[PyDevice, PyDevice]:
    """Alice has started a session from Bob's bundle (nothing sent yet)."""
    alice, bob = PyDevice(ALICE), PyDevice(BOB)
    await alice.start_session(BOB, bob.bundle(prekey))
    return alice, bob


async def send(sender: PyDevice, receiver: PyDevice, text: bytes) -> bytes:
    message = await sender.cipher(receiver.address).encrypt(text)
    return await receiver.cipher(sender.address).decrypt(message.type, message.serialized)


async def encrypt_n(sender: PyDevice, peer: SignalAddress, n: int) -> list[CiphertextMessage]:
    cipher = sender.cipher(peer)
    return [await cipher.encrypt(b"msg %d" % i) for i in range(n)]


async def settled() -> tuple[PyDevice, PyDevice]:
    alice, bob = await pair()
    assert await send(alice, bob, b"hello") == b"hello"
    assert await send(bob, alice, b"hi") == b"hi"
    return alice, bob


async def test_first_messages_are_pkmsgs_until_answered() -> None:
    alice, bob = await pair()
    first = await encrypt_n(alice, BOB, 3)
    assert [m.type for m in first] == ["pkmsg"] * 3
    parsed = PreKeySignalMessage.parse(first[0].serialized)
    assert parsed.registration_id == alice.store.registration_id
    assert parsed.identity_key == alice.store.identity_key_pair.public
    for i, m in enumerate(first):
        assert await bob.cipher(ALICE).decrypt(m.type, m.serialized) == b"msg %d" % i
    assert await send(bob, alice, b"answer") == b"answer"
    assert (await alice.cipher(BOB).encrypt(b"x")).type == "msg"


async def test_bundle_without_one_time_pre_key() -> None:
    alice, bob = await pair(prekey=False)
    message = await alice.cipher(BOB).encrypt(b"no otpk")
    assert PreKeySignalMessage.parse(message.serialized).pre_key_id is None
    assert await bob.cipher(ALICE).decrypt("pkmsg", message.serialized) == b"no otpk"
    assert len(bob.store.pre_keys) == 10  # nothing consumed


async def test_one_time_pre_key_is_consumed_and_replayed_pkmsg_is_duplicate() -> None:
    alice, bob = await pair()
    m = await alice.cipher(BOB).encrypt(b"once")
    assert await bob.cipher(ALICE).decrypt(m.type, m.serialized) == b"once"
    assert 1 not in bob.store.pre_keys
    with pytest.raises(DuplicateMessageError):
        await bob.cipher(ALICE).decrypt(m.type, m.serialized)
    # A pkmsg for a new session naming the consumed pre-key cannot be built any more.
    fresh = PyDevice(SignalAddress("444", 0))
    stale_bundle = dataclasses.replace(
        bob.bundle(), pre_key_id=1, pre_key=KeyPair.generate().public
    )
    await fresh.start_session(BOB, stale_bundle)
    stale = await fresh.cipher(BOB).encrypt(b"stale")
    with pytest.raises(InvalidKeyIdError):
        await bob.cipher(fresh.address).decrypt(stale.type, stale.serialized)
    assert not await bob.cipher(fresh.address).has_session()


async def test_unknown_signed_pre_key_id() -> None:
    alice, bob = await pair()
    bob.store.signed_pre_keys.clear()
    m = await alice.cipher(BOB).encrypt(b"x")
    with pytest.raises(InvalidKeyIdError):
        await bob.cipher(ALICE).decrypt(m.type, m.serialized)
    assert 1 in bob.store.pre_keys  # the one-time pre-key survives a failed attempt


async def test_tampered_signed_pre_key_signature() -> None:
    alice, bob = PyDevice(ALICE), PyDevice(BOB)
    bundle = bob.bundle()
    bad = bytearray(bundle.signed_pre_key_signature)
    bad[0] ^= 0x04
    with pytest.raises(InvalidSignatureError):
        await alice.start_session(
            BOB, dataclasses.replace(bundle, signed_pre_key_signature=bytes(bad))
        )
    other_identity = KeyPair.generate().public
    with pytest.raises(InvalidSignatureError):
        await alice.start_session(BOB, dataclasses.replace(bundle, identity_key=other_identity))
    assert not alice.store.sessions
    await alice.start_session(BOB, bundle)
    assert await send(alice, bob, b"valid") == b"valid"


def test_bundle_rejects_bad_keys() -> None:
    bob = PyDevice(BOB)
    bundle = bob.bundle()
    with pytest.raises(InvalidKeyError):
        dataclasses.replace(bundle, identity_key=b"\x05" + bytes(30))
    with pytest.raises(InvalidKeyError):
        dataclasses.replace(bundle, signed_pre_key=bytes(33))
    with pytest.raises(InvalidKeyError):
        dataclasses.replace(bundle, pre_key=None)


async def test_out_of_order_and_dropped_across_ratchet_steps() -> None:
    alice, bob = await settled()
    a1 = await encrypt_n(alice, BOB, 5)
    assert await send(bob, alice, b"b1") == b"b1"
    a2 = await encrypt_n(alice, BOB, 4)
    cipher = bob.cipher(ALICE)
    # New chain first, then the old chain's messages in reverse, some never delivered.
    order = [(a2, 3), (a2, 0), (a1, 4), (a1, 2), (a1, 0)]
    for chain, i in order:
        assert await cipher.decrypt("msg", chain[i].serialized) == b"msg %d" % i
    assert await cipher.decrypt(a2[2].type, a2[2].serialized) == b"msg 2"
    assert await send(bob, alice, b"b2") == b"b2"


async def test_message_too_far_ahead() -> None:
    alice, bob = await settled()
    sent = await encrypt_n(alice, BOB, MAX_FUTURE_MESSAGES + 1)
    cipher = bob.cipher(ALICE)
    before = bob.store.sessions[ALICE]
    with pytest.raises(InvalidMessageError, match="ahead"):
        await cipher.decrypt("msg", sent[MAX_FUTURE_MESSAGES].serialized)
    assert bob.store.sessions[ALICE] == before
    # Exactly the bound is fine, and then everything skipped is still there.
    last = sent[MAX_FUTURE_MESSAGES - 1]
    assert await cipher.decrypt("msg", last.serialized) == b"msg %d" % (MAX_FUTURE_MESSAGES - 1)
    assert await cipher.decrypt("msg", sent[0].serialized) == b"msg 0"
    assert await cipher.decrypt("msg", sent[MAX_FUTURE_MESSAGES].serialized) == b"msg 2000"


async def test_tampered_mac_and_replay_leave_session_usable() -> None:
    alice, bob = await settled()
    m1, m2 = await encrypt_n(alice, BOB, 2)
    cipher = bob.cipher(ALICE)
    before = bob.store.sessions[ALICE]
    for position in (-1, -8, -12, 3):
        tampered = bytearray(m2.serialized)
        tampered[position] ^= 0x10
        with pytest.raises(InvalidMessageError):  # a MAC error, or malformed where parsing fails
            await cipher.decrypt("msg", bytes(tampered))
    assert bob.store.sessions[ALICE] == before
    tampered = bytearray(m1.serialized)
    tampered[-1] ^= 1
    with pytest.raises(InvalidMACError):
        await cipher.decrypt("msg", bytes(tampered))
    assert await cipher.decrypt("msg", m2.serialized) == b"msg 1"
    assert await cipher.decrypt("msg", m1.serialized) == b"msg 0"
    with pytest.raises(DuplicateMessageError):
        await cipher.decrypt("msg", m1.serialized)
    assert await send(alice, bob, b"next") == b"next"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x33", b"\x33" + bytes(8), b"\x23" + bytes(20), b"\x33\x0a\x21" + bytes(12)],
)
async def test_malformed_messages(data: bytes) -> None:
    alice, bob = await settled()
    with pytest.raises(InvalidMessageError):
        await bob.cipher(ALICE).decrypt("msg", data)
    with pytest.raises(InvalidMessageError):
        await bob.cipher(ALICE).decrypt("pkmsg", data)
    with pytest.raises(InvalidMessageError):
        await bob.cipher(ALICE).decrypt("skmsg", data)
    assert await send(alice, bob, b"fine") == b"fine"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), cut=st.integers(min_value=0, max_value=400))
async def test_garbage_only_raises_signal_errors(data: bytes, cut: int) -> None:
    alice, bob = PyDevice(ALICE, pre_keys=1), PyDevice(BOB, pre_keys=1)
    await alice.start_session(BOB, bob.bundle())
    real = (await alice.cipher(BOB).encrypt(b"real")).serialized
    for enc_type, payload in (
        ("msg", data),
        ("pkmsg", data),
        ("msg", b"\x33" + data),
        ("pkmsg", b"\x33" + data),
        ("pkmsg", real[: min(cut, len(real) - 1)]),  # every truncation is refused
    ):
        with pytest.raises(SignalError):
            await bob.cipher(ALICE).decrypt(enc_type, payload)
    assert await bob.cipher(ALICE).decrypt("pkmsg", real) == b"real"


async def test_no_session() -> None:
    alice = PyDevice(ALICE)
    with pytest.raises(NoSessionError):
        await alice.cipher(BOB).encrypt(b"x")
    alice2, _bob = await settled()
    m = await alice2.cipher(BOB).encrypt(b"x")
    with pytest.raises(NoSessionError):
        await alice.cipher(BOB).decrypt("msg", m.serialized)


async def test_untrusted_identity_on_send_and_receive() -> None:
    alice, bob = await settled()
    m = await alice.cipher(BOB).encrypt(b"x")
    bob.store.identities[ALICE] = KeyPair.generate().public
    with pytest.raises(UntrustedIdentityError):
        await bob.cipher(ALICE).decrypt("msg", m.serialized)
    with pytest.raises(UntrustedIdentityError):
        await bob.cipher(ALICE).encrypt(b"y")
    with pytest.raises(UntrustedIdentityError):
        await SessionBuilder(bob.store, ALICE).process_bundle(
            PreKeyBundle.from_records(
                1, 0, alice.store.identity_key_pair, alice.signed_pre_key, None
            )
        )
    await bob.store.save_identity(ALICE, alice.store.identity_key_pair.public)
    assert await bob.cipher(ALICE).decrypt("msg", m.serialized) == b"x"


async def test_record_round_trip_mid_conversation() -> None:
    alice, bob = await settled()
    early = await encrypt_n(alice, BOB, 6)
    for m in early[3:]:
        await bob.cipher(ALICE).decrypt(m.type, m.serialized)
    # Move Bob to a "new process": a new store restored from the serialized records only.
    record_bytes = bob.store.sessions[ALICE]
    restored = SessionRecord.deserialize(record_bytes)
    assert restored.serialize() == record_bytes
    new_store = MemorySignalStore(bob.store.identity_key_pair, bob.store.registration_id)
    await new_store.store_session(ALICE, restored.serialize())
    await new_store.save_identity(ALICE, alice.store.identity_key_pair.public)
    bob.store = new_store
    for m in early[:3]:  # skipped keys survived
        assert await bob.cipher(ALICE).decrypt(m.type, m.serialized) == m_text(early, m)
    assert await send(alice, bob, b"after restore") == b"after restore"
    assert await send(bob, alice, b"and back") == b"and back"


def m_text(messages: list[CiphertextMessage], m: CiphertextMessage) -> bytes:
    return b"msg %d" % messages.index(m)


def test_corrupt_record() -> None:
    with pytest.raises(CorruptRecordError):
        SessionRecord.deserialize(b"\x0a\xff\xff")


def _damage_remote_identity(s: SessionStructure) -> None:
    s.remoteIdentityPublic = b"\x05" + bytes(5)


def _damage_local_identity(s: SessionStructure) -> None:
    s.localIdentityPublic = b""


def _damage_ratchet_private(s: SessionStructure) -> None:
    s.senderChain.senderRatchetKeyPrivate = bytes(7)


def _damage_ratchet_public(s: SessionStructure) -> None:
    s.senderChain.senderRatchetKey = bytes(40)


def _damage_skipped_iv(s: SessionStructure) -> None:
    for chain in s.receiverChains:
        for key in chain.messageKeys:
            key.iv = bytes(3)


def _damage_skipped_cipher_key(s: SessionStructure) -> None:
    for chain in s.receiverChains:
        for key in chain.messageKeys:
            key.cipherKey = bytes(5)


def _damage_pending_base_key(s: SessionStructure) -> None:
    s.pendingPreKey.signedPreKeyId = 1
    s.pendingPreKey.baseKey = bytes(10)


@pytest.mark.parametrize(
    "damage",
    [
        _damage_remote_identity,
        _damage_local_identity,
        _damage_ratchet_private,
        _damage_ratchet_public,
        _damage_skipped_iv,
        _damage_skipped_cipher_key,
        _damage_pending_base_key,
    ],
)
async def test_damaged_stored_record_is_a_typed_error(
    damage: Callable[[SessionStructure], None],
) -> None:
    """A store that hands back a damaged record gets a Signal error, never a bare ValueError;
    the undamaged record keeps working."""
    alice, bob = await settled()
    skipped, late = await encrypt_n(alice, BOB, 2)
    assert await bob.cipher(ALICE).decrypt("msg", late.serialized) == b"msg 1"
    good = bob.store.sessions[ALICE]
    record = SessionRecord.deserialize(good)
    assert record.current is not None
    damage(record.current.structure)
    damaged = record.serialize()
    refused: list[CorruptRecordError] = []
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: bob.cipher(ALICE).decrypt("msg", skipped.serialized),
        lambda: bob.cipher(ALICE).encrypt(b"x"),
    ]
    for operation in operations:
        bob.store.sessions[ALICE] = damaged
        try:
            await operation()
        except CorruptRecordError as e:  # anything else fails the test
            refused.append(e)
    assert refused, "a damaged key went unnoticed"
    bob.store.sessions[ALICE] = good
    assert await bob.cipher(ALICE).decrypt("msg", skipped.serialized) == b"msg 0"
    assert await send(bob, alice, b"fine") == b"fine"


async def test_archived_states_are_bounded_and_still_decrypt() -> None:
    alice, bob = await settled()
    old = await alice.cipher(BOB).encrypt(b"from the first session")
    for _ in range(ARCHIVED_STATES_MAX + 3):
        await alice.start_session(BOB, bob.bundle(prekey=False))
    record = SessionRecord.deserialize(alice.store.sessions[BOB])
    assert len(record.previous) == ARCHIVED_STATES_MAX
    # Bob only knows the first session: he still reads it, but Alice archived it out of her
    # record (more than ARCHIVED_STATES_MAX newer sessions), so his answer no longer decrypts.
    assert await bob.cipher(ALICE).decrypt("msg", old.serialized) == b"from the first session"
    bob_reply = await bob.cipher(ALICE).encrypt(b"late reply")
    with pytest.raises(InvalidMACError):  # the first session was archived out of the record
        await alice.cipher(BOB).decrypt("msg", bob_reply.serialized)
    # A recent archived state still decrypts, and the current one stays current.
    bob2 = PyDevice(SignalAddress("555", 0))
    await alice.start_session(bob2.address, bob2.bundle())
    hello = await alice.cipher(bob2.address).encrypt(b"hello")
    await bob2.cipher(ALICE).decrypt(hello.type, hello.serialized)
    late = await bob2.cipher(ALICE).encrypt(b"late")
    await alice.start_session(bob2.address, bob2.bundle())
    current = SessionRecord.deserialize(alice.store.sessions[bob2.address]).current
    assert await alice.cipher(bob2.address).decrypt("msg", late.serialized) == b"late"
    after = SessionRecord.deserialize(alice.store.sessions[bob2.address]).current
    assert current is not None and after is not None and after.base_key == current.base_key


async def test_receiver_chains_are_bounded() -> None:
    alice, bob = await settled()
    held = await encrypt_n(alice, BOB, 1)
    for i in range(MAX_RECEIVER_CHAINS + 1):
        assert await send(bob, alice, b"b%d" % i) == b"b%d" % i
        assert await send(alice, bob, b"a%d" % i) == b"a%d" % i
    state = SessionRecord.deserialize(bob.store.sessions[ALICE]).current
    assert state is not None
    assert len(state.structure.receiverChains) == MAX_RECEIVER_CHAINS
    before = bob.store.sessions[ALICE]
    # Its chain was dropped with its skipped keys: the ratchet key looks new, and the chain a
    # DH step would derive for it does not verify the MAC.
    with pytest.raises(InvalidMACError):
        await bob.cipher(ALICE).decrypt("msg", held[0].serialized)
    assert bob.store.sessions[ALICE] == before
    assert await send(alice, bob, b"after") == b"after"


def test_signal_message_round_trip() -> None:
    ratchet = KeyPair.generate().public
    ik_a, ik_b = KeyPair.generate().public, KeyPair.generate().public
    m = SignalMessage.build(bytes(32), ratchet, 5, 4, bytes(16), ik_a, ik_b)
    assert m.serialized[0] == 0x33
    parsed = SignalMessage.parse(m.serialized)
    assert (parsed.ratchet_key, parsed.counter, parsed.previous_counter) == (ratchet, 5, 4)
    parsed.verify_mac(bytes(32), ik_a, ik_b)
    with pytest.raises(InvalidMACError):
        parsed.verify_mac(bytes(32), ik_b, ik_a)


def test_pre_key_record_round_trip() -> None:
    record = PreKeyRecord.generate(77)
    again = PreKeyRecord.deserialize(record.serialize())
    assert again.key_id == 77 and again.key_pair.public == record.key_pair.public
    assert "private" not in repr(record)
    with pytest.raises(InvalidKeyError):
        PreKeyRecord.deserialize(b"\x12\x01")


def test_signal_address() -> None:
    assert str(SignalAddress.from_jid_parts("123", 2, "lid")) == "123_1:2"
    assert str(SignalAddress.from_jid_parts("123", 0)) == "123:0"
    assert SignalAddress.from_jid_parts("5", 1, "hosted.lid").name == "5_129"
    assert SignalAddress("123_1", 0).user == "123"
    with pytest.raises(ValueError):
        SignalAddress.from_jid_parts("123", 0, "g.us")
    with pytest.raises(ValueError):
        SignalAddress("a.b", 0)


async def test_degenerate_keys_in_a_pkmsg() -> None:
    alice, bob = await pair()
    real = PreKeySignalMessage.parse((await alice.cipher(BOB).encrypt(b"x")).serialized)
    for field in ("base_key", "identity_key"):
        forged = PreKeySignalMessage.build(
            real.registration_id,
            real.pre_key_id,
            real.signed_pre_key_id,
            bytes(32) if field == "base_key" else real.base_key,
            bytes(32) if field == "identity_key" else real.identity_key,
            real.message,
        )
        with pytest.raises(InvalidKeyError):
            await bob.cipher(ALICE).decrypt("pkmsg", forged.serialized)
    assert await bob.cipher(ALICE).decrypt("pkmsg", real.serialized) == b"x"


def test_reprs_never_show_secret_key_material() -> None:
    """Objects holding private keys, chain keys or message keys may end up in logs via repr."""
    pair = KeyPair.generate()
    pre_key = PreKeyRecord(5, pair)
    signed = SignedPreKeyRecord.generate(pair, 6)
    chain = ChainKey(os.urandom(32), 3)
    keys = chain.message_keys()
    sender = SenderKeyRecord()
    skdm = create_distribution(sender)
    state = sender.current_state()
    assert state.signing_private is not None
    cases: list[tuple[object, list[bytes]]] = [
        (pair, [pair.private]),
        (pre_key, [pair.private]),
        (signed, [signed.key_pair.private]),
        (chain, [chain.key]),
        (keys, [keys.cipher_key, keys.mac_key]),
        (state.chain_key, [state.chain_key.key]),
        (state.chain_key.message_key(), [state.chain_key.message_key().cipher_key]),
        (state, [state.signing_private, state.chain_key.key]),
        (sender, [state.signing_private, state.chain_key.key]),
        (skdm, [skdm.chain_key]),
    ]
    for obj, secrets in cases:
        text = repr(obj)
        for secret in secrets:
            assert secret.hex() not in text and repr(secret) not in text, type(obj).__name__
