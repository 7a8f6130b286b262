"""Sender keys (the Signal group cipher) on their own: round trips, ordering, bounds, errors."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.errors import (
    CorruptRecordError,
    DuplicateMessageError,
    InvalidMessageError,
    InvalidSignatureError,
    NoSessionError,
    SignalError,
)
from mautrix_whatsapp.whatsapp.signal.group_cipher import (
    SIGNATURE_SIZE,
    GroupCipher,
    SenderKeyMessage,
    decrypt_with_record,
    encrypt_with_record,
)
from mautrix_whatsapp.whatsapp.signal.group_session import (
    GroupSessionBuilder,
    SenderKeyDistributionMessage,
    create_distribution,
    process_distribution,
)
from mautrix_whatsapp.whatsapp.signal.padding import pad_message, unpad_message
from mautrix_whatsapp.whatsapp.signal.proto import storage_pb2, whisper_pb2
from mautrix_whatsapp.whatsapp.signal.sender_key import (
    MAX_FORWARD_JUMP,
    MAX_MESSAGE_KEYS,
    MAX_STATES,
    SenderChainKey,
    SenderKeyName,
    SenderKeyRecord,
)
from mautrix_whatsapp.whatsapp.store import MemorySenderKeyStore

GROUP = "120363000000000000@g.us"
ALICE = SignalAddress("111111111111111_1", 0)


def alice_name() -> SenderKeyName:
    return SenderKeyName(GROUP, ALICE)


def new_pair() -> tuple[SenderKeyRecord, SenderKeyRecord]:
    """Alice's own record and Bob's copy of Alice's sender key."""
    sender = SenderKeyRecord()
    skdm = create_distribution(sender)
    receiver = SenderKeyRecord()
    process_distribution(receiver, SenderKeyDistributionMessage.parse(skdm.serialize()))
    return sender, receiver


def test_sender_key_name_string_form() -> None:
    assert str(alice_name()) == f"{GROUP}::111111111111111_1::0"


def test_chain_and_message_key_derivation_match_the_spec() -> None:
    """Written out independently: seed = HMAC(ck, 01), next = HMAC(ck, 02), HKDF → iv ‖ key."""
    ck = bytes(range(32))
    chain = SenderChainKey(7, ck)
    seed = hmac.digest(ck, b"\x01", hashlib.sha256)
    assert chain.message_seed() == seed
    assert chain.next() == SenderChainKey(8, hmac.digest(ck, b"\x02", hashlib.sha256))
    okm = HKDF(hashes.SHA256(), 48, bytes(32), b"WhisperGroup").derive(seed)
    key = chain.message_key()
    assert (key.iteration, key.iv, key.cipher_key) == (7, okm[:16], okm[16:])


def test_distribution_message_wire_form() -> None:
    record = SenderKeyRecord()
    skdm = create_distribution(record)
    data = skdm.serialize()
    assert data[0] == 0x33
    parsed = SenderKeyDistributionMessage.parse(data)
    assert parsed == skdm
    assert parsed.iteration == 0 and len(parsed.chain_key) == 32
    assert len(parsed.signing_key) == 33 and parsed.signing_key[0] == 5
    assert 0 <= parsed.key_id < 2**31
    # Creating again describes the same key, not a new one.
    assert create_distribution(record) == skdm


def test_round_trip_in_order_and_message_format() -> None:
    sender, receiver = new_pair()
    for i in range(5):
        plaintext = f"message {i}".encode()
        data = encrypt_with_record(sender, plaintext)
        parsed = SenderKeyMessage.parse(data)
        assert data[0] == 0x33
        assert parsed.iteration == i
        assert parsed.key_id == sender.current_state().key_id
        assert len(parsed.signature) == SIGNATURE_SIZE
        assert decrypt_with_record(receiver, data) == plaintext


def test_out_of_order_delivery_and_skipped_keys_are_bounded() -> None:
    sender, receiver = new_pair()
    messages = [
        (f"m{i}".encode(), encrypt_with_record(sender, f"m{i}".encode())) for i in range(60)
    ]
    shuffled = messages[:]
    random.Random(3).shuffle(shuffled)
    for plaintext, data in shuffled:
        assert decrypt_with_record(receiver, data) == plaintext
    state = receiver.current_state()
    assert state.skipped_keys == {}
    assert state.chain_key.iteration == 60


def test_replay_is_a_duplicate_and_the_state_stays_usable() -> None:
    sender, receiver = new_pair()
    first = encrypt_with_record(sender, b"one")
    second = encrypt_with_record(sender, b"two")
    third = encrypt_with_record(sender, b"three")
    assert decrypt_with_record(receiver, second) == b"two"
    with pytest.raises(DuplicateMessageError):
        decrypt_with_record(receiver, second)
    assert decrypt_with_record(receiver, first) == b"one"  # a skipped key, used once
    with pytest.raises(DuplicateMessageError):
        decrypt_with_record(receiver, first)
    assert decrypt_with_record(receiver, third) == b"three"


def test_too_far_ahead_is_rejected_without_advancing() -> None:
    sender, receiver = new_pair()
    first = encrypt_with_record(sender, b"first")  # iteration 0, delivered after the refusal
    state = sender.current_state()
    for _ in range(MAX_FORWARD_JUMP):
        state.next_own_key()
    too_far = encrypt_with_record(sender, b"far")  # iteration MAX_FORWARD_JUMP + 1
    with pytest.raises(InvalidMessageError, match="ahead"):
        decrypt_with_record(receiver, too_far)
    assert receiver.current_state().chain_key.iteration == 0
    assert receiver.current_state().skipped_keys == {}
    # The state is still usable: the next valid message decrypts, and then the far one is
    # within reach.
    assert decrypt_with_record(receiver, first) == b"first"
    assert decrypt_with_record(receiver, too_far) == b"far"


def test_exactly_max_forward_jump_ahead_is_accepted() -> None:
    sender, receiver = new_pair()
    state = sender.current_state()
    for _ in range(MAX_FORWARD_JUMP):
        state.next_own_key()
    assert decrypt_with_record(receiver, encrypt_with_record(sender, b"edge")) == b"edge"
    assert len(receiver.current_state().skipped_keys) == MAX_FORWARD_JUMP


def test_skipped_keys_keep_only_the_newest_max_message_keys() -> None:
    sender, receiver = new_pair()
    early = encrypt_with_record(sender, b"early")  # iteration 0, never delivered in time
    state = sender.current_state()
    for _ in range(MAX_FORWARD_JUMP - 1):
        state.next_own_key()
    assert decrypt_with_record(receiver, encrypt_with_record(sender, b"a")) == b"a"
    for _ in range(10):
        state.next_own_key()
    assert decrypt_with_record(receiver, encrypt_with_record(sender, b"b")) == b"b"
    assert len(receiver.current_state().skipped_keys) == MAX_MESSAGE_KEYS
    with pytest.raises(DuplicateMessageError):  # its key was dropped, as libsignal does
        decrypt_with_record(receiver, early)


def test_tampered_signature_and_ciphertext() -> None:
    sender, receiver = new_pair()
    good = encrypt_with_record(sender, b"hello")
    bad_signature = good[:-1] + bytes([good[-1] ^ 0x01])
    with pytest.raises(InvalidSignatureError):
        decrypt_with_record(receiver, bad_signature)
    parsed = SenderKeyMessage.parse(good)
    offset = len(parsed.signed_part) - 1  # last ciphertext byte, covered by the signature
    bad_ciphertext = good[:offset] + bytes([good[offset] ^ 0x01]) + good[offset + 1 :]
    with pytest.raises(InvalidSignatureError):
        decrypt_with_record(receiver, bad_ciphertext)
    assert decrypt_with_record(receiver, good) == b"hello"


def test_validly_signed_but_badly_padded_ciphertext_is_invalid() -> None:
    """A correctly signed message whose plaintext lacks PKCS#7 padding is rejected and does not
    advance the chain."""
    sender, receiver = new_pair()
    state = sender.current_state()
    assert state.signing_private is not None
    key = state.chain_key.message_key()
    raw = Cipher(algorithms.AES(key.cipher_key), modes.CBC(key.iv)).encryptor()
    unpadded = raw.update(bytes(32)) + raw.finalize()  # decrypts to a zero pad byte
    forged = SenderKeyMessage.create(state.key_id, 0, unpadded, state.signing_private)
    with pytest.raises(InvalidMessageError, match="padding"):
        decrypt_with_record(receiver, forged.serialized)
    assert receiver.current_state().chain_key.iteration == 0
    assert decrypt_with_record(receiver, encrypt_with_record(sender, b"ok")) == b"ok"


@pytest.mark.parametrize("cut", [0, 1, 10, 64, 65, -1, -20])
def test_truncated_messages_are_invalid(cut: int) -> None:
    sender, receiver = new_pair()
    good = encrypt_with_record(sender, b"truncate me" * 3)
    with pytest.raises(InvalidMessageError):
        decrypt_with_record(receiver, good[:cut])
    assert decrypt_with_record(receiver, good) == b"truncate me" * 3


def test_bad_version_and_garbage_are_invalid() -> None:
    sender, receiver = new_pair()
    good = encrypt_with_record(sender, b"v")
    with pytest.raises(InvalidMessageError, match="version"):
        decrypt_with_record(receiver, b"\x22" + good[1:])
    with pytest.raises(InvalidMessageError):
        decrypt_with_record(receiver, b"\x33" + b"\xff" * 80)
    assert decrypt_with_record(receiver, good) == b"v"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x33",
        b"\x23" + bytes(10),
        b"\x33\x08",  # truncated varint
        b"\x33\x08\x01\x10\x00",  # no keys at all
    ],
)
def test_truncated_distribution_messages_are_invalid(data: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        SenderKeyDistributionMessage.parse(data)


def test_distribution_message_truncations_all_raise_typed_errors() -> None:
    data = create_distribution(SenderKeyRecord()).serialize()
    for cut in range(len(data)):
        with pytest.raises(InvalidMessageError):
            SenderKeyDistributionMessage.parse(data[:cut])


def test_unknown_key_id_is_no_session() -> None:
    sender, receiver = new_pair()
    other, _ = new_pair()
    with pytest.raises(NoSessionError):
        decrypt_with_record(receiver, encrypt_with_record(other, b"not for you"))
    with pytest.raises(NoSessionError):
        decrypt_with_record(SenderKeyRecord(), encrypt_with_record(sender, b"x"))
    assert (
        decrypt_with_record(receiver, encrypt_with_record(sender, b"still fine")) == b"still fine"
    )


def test_several_states_per_sender_and_the_oldest_is_dropped() -> None:
    receiver = SenderKeyRecord()
    senders = []
    for _ in range(MAX_STATES + 1):
        sender = SenderKeyRecord()
        process_distribution(receiver, create_distribution(sender))
        senders.append(sender)
    assert len(receiver.states) == MAX_STATES
    for sender in senders[1:]:  # every kept key id still decrypts, in any order
        assert decrypt_with_record(receiver, encrypt_with_record(sender, b"k")) == b"k"
    with pytest.raises(NoSessionError):
        decrypt_with_record(receiver, encrypt_with_record(senders[0], b"gone"))
    # The newest distributed key is the current one.
    assert receiver.current_state().key_id == senders[-1].current_state().key_id


def test_reprocessing_the_same_distribution_does_not_rewind_the_chain() -> None:
    sender, receiver = new_pair()
    skdm = create_distribution(sender)
    first = encrypt_with_record(sender, b"first")
    assert decrypt_with_record(receiver, first) == b"first"
    process_distribution(receiver, skdm)
    with pytest.raises(DuplicateMessageError):
        decrypt_with_record(receiver, first)
    assert len(receiver.states) == 1


def test_same_key_id_with_a_new_signing_key_replaces_the_state() -> None:
    sender, receiver = new_pair()
    skdm = create_distribution(sender)
    impostor = SenderKeyRecord()
    impostor_skdm = create_distribution(impostor)
    impostor.current_state().key_id = skdm.key_id
    process_distribution(
        receiver,
        SenderKeyDistributionMessage(
            skdm.key_id,
            impostor_skdm.iteration,
            impostor_skdm.chain_key,
            impostor_skdm.signing_key,
        ),
    )
    assert len(receiver.states) == 1
    assert decrypt_with_record(receiver, encrypt_with_record(impostor, b"new")) == b"new"
    with pytest.raises(InvalidSignatureError):
        decrypt_with_record(receiver, encrypt_with_record(sender, b"old"))


def test_distribution_mid_chain_starts_there() -> None:
    sender = SenderKeyRecord()
    create_distribution(sender)
    early = [encrypt_with_record(sender, b"before") for _ in range(3)]
    receiver = SenderKeyRecord()
    process_distribution(receiver, create_distribution(sender))
    assert receiver.current_state().chain_key.iteration == 3
    for data in early:
        with pytest.raises(DuplicateMessageError):
            decrypt_with_record(receiver, data)
    assert decrypt_with_record(receiver, encrypt_with_record(sender, b"after")) == b"after"


def test_cannot_encrypt_with_someone_elses_state() -> None:
    _, receiver = new_pair()
    with pytest.raises(NoSessionError):
        encrypt_with_record(receiver, b"x")
    with pytest.raises(NoSessionError):
        encrypt_with_record(SenderKeyRecord(), b"x")


def test_record_serialization_round_trip_mid_conversation() -> None:
    sender, receiver = new_pair()
    messages = [encrypt_with_record(sender, f"m{i}".encode()) for i in range(12)]
    for i in (0, 3, 5, 6):
        assert decrypt_with_record(receiver, messages[i]) == f"m{i}".encode()
    sender = SenderKeyRecord.deserialize(sender.serialize())
    restored = SenderKeyRecord.deserialize(receiver.serialize())
    assert restored.current_state().skipped_keys == receiver.current_state().skipped_keys
    assert restored.current_state().signing_private is None
    assert sender.current_state().signing_private is not None
    for i in (4, 1, 2, 11, 7, 10, 8, 9):  # skipped keys and the chain both survived
        assert decrypt_with_record(restored, messages[i]) == f"m{i}".encode()
    with pytest.raises(DuplicateMessageError):
        decrypt_with_record(restored, messages[5])
    assert decrypt_with_record(restored, encrypt_with_record(sender, b"after")) == b"after"


def test_corrupt_record_is_a_typed_error() -> None:
    with pytest.raises(CorruptRecordError):
        SenderKeyRecord.deserialize(b"\x0a\x05\x08")
    structure = storage_pb2.SenderKeyRecordStructure.FromString(new_pair()[1].serialize())
    structure.senderKeyStates[0].senderSigningKey.public = b"\x06" + bytes(32)
    with pytest.raises(CorruptRecordError):
        SenderKeyRecord.deserialize(structure.SerializeToString())


async def test_store_backed_builder_and_cipher_with_padding() -> None:
    alice_store, bob_store = MemorySenderKeyStore(), MemorySenderKeyStore()
    name = alice_name()
    skdm = await GroupSessionBuilder(alice_store).create(name)
    assert await GroupSessionBuilder(alice_store).create(name) == skdm
    await GroupSessionBuilder(bob_store).process(name, skdm.serialize())
    alice, bob = GroupCipher(alice_store, name), GroupCipher(bob_store, name)
    sent = [await alice.encrypt(pad_message(f"hi {i}".encode())) for i in range(4)]
    for i in (2, 0, 3, 1):
        assert unpad_message(await bob.decrypt(sent[i])) == f"hi {i}".encode()
    with pytest.raises(DuplicateMessageError):
        await bob.decrypt(sent[1])
    # A tampered message leaves the stored record untouched.
    before = await bob_store.load_sender_key(GROUP, ALICE)
    with pytest.raises(InvalidSignatureError):
        await bob.decrypt(sent[0][:-1] + bytes([sent[0][-1] ^ 0x40]))
    assert await bob_store.load_sender_key(GROUP, ALICE) == before
    # Unknown senders and senders without our key are NoSessionError.
    stranger = GroupCipher(bob_store, SenderKeyName(GROUP, SignalAddress("222", 3)))
    with pytest.raises(NoSessionError):
        await stranger.decrypt(sent[0])
    with pytest.raises(NoSessionError):
        await stranger.encrypt(b"x")


def test_zero_id_and_iteration_may_be_left_out_by_the_encoder() -> None:
    """Encoders that skip zero values send neither id 0 nor iteration 0; both read as 0."""
    sender, receiver = new_pair()
    for record in (sender, receiver):
        record.current_state().key_id = 0
    state = sender.current_state()
    assert state.signing_private is not None
    key = state.chain_key.message_key()
    ciphertext = Cipher(algorithms.AES(key.cipher_key), modes.CBC(key.iv)).encryptor()
    body = ciphertext.update(b"zero" + bytes([12]) * 12) + ciphertext.finalize()
    signed = b"\x33" + whisper_pb2.SenderKeyMessage(ciphertext=body).SerializeToString()
    assert b"\x08" not in signed[:2]  # no id field on the wire
    data = signed + xeddsa.sign(state.signing_private, signed)
    assert decrypt_with_record(receiver, data) == b"zero"
    with pytest.raises(DuplicateMessageError):
        decrypt_with_record(receiver, data)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    mutated = bytearray(data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated[:cut] if cut is not None else mutated)


_EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)
_CUT = st.none() | st.integers(0, 200)


@settings(max_examples=80, deadline=None)
@given(garbage=st.binary(max_size=150), edits=_EDITS, cut=_CUT)
def test_fuzzed_group_inputs_only_raise_signal_errors(
    garbage: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    """Random and mutated messages, distribution messages and stored records: the only errors
    are Signal errors, and a refused message leaves the receiver able to decrypt a valid one."""
    sender, receiver = new_pair()
    good = encrypt_with_record(sender, b"good")
    skdm = create_distribution(sender).serialize()
    stored = receiver.serialize()
    for data in (garbage, b"\x33" + garbage, _mutate(good, edits, cut)):
        if data == good:
            continue
        with pytest.raises(SignalError):
            decrypt_with_record(receiver, data)
    for data in (garbage, b"\x33" + garbage, _mutate(skdm, edits, cut)):
        with contextlib.suppress(SignalError):
            # A copy: an intact SKDM with a changed signing key rightly replaces the state.
            process_distribution(receiver.copy(), SenderKeyDistributionMessage.parse(data))
    for data in (garbage, _mutate(stored, edits, cut)):
        with contextlib.suppress(SignalError):
            decrypt_with_record(SenderKeyRecord.deserialize(data), good)
    assert decrypt_with_record(receiver, good) == b"good"
