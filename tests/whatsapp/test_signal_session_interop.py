"""1:1 sessions against libsignal-node 6.0.0, through tests/js/signal_session.mjs."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from mautrix_whatsapp.whatsapp.crypto.keys import strip_key_type
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.errors import (
    DuplicateMessageError,
    InvalidMACError,
    InvalidMessageError,
    InvalidSignatureError,
    UntrustedIdentityError,
)
from mautrix_whatsapp.whatsapp.signal.session import SessionRecord

from .signal_session_harness import PyDevice, SessionHarness

pytestmark = pytest.mark.node

NODE = SignalAddress("222222222222222_1", 0)
OURS = SignalAddress("333333333333333_1", 7)
_party_ids = itertools.count()


@pytest.fixture(scope="module")
def harness(node_harness_dir: Path) -> Iterator[SessionHarness]:
    with SessionHarness(node_harness_dir) as h:
        yield h


@pytest.fixture
def party() -> str:
    """A fresh node-side device name, so tests never share node state."""
    return f"node-{next(_party_ids)}"


async def decrypt_all(device: PyDevice, messages: list[tuple[str, bytes]]) -> list[bytes]:
    cipher = device.cipher(NODE)
    return [await cipher.decrypt(t, body) for t, body in messages]


async def encrypt_all(device: PyDevice, plaintexts: list[bytes]) -> list[tuple[str, bytes]]:
    cipher = device.cipher(NODE)
    out: list[tuple[str, bytes]] = []
    for p in plaintexts:
        m = await cipher.encrypt(p)
        out.append((m.type, m.serialized))
    return out


async def establish(harness: SessionHarness, party: str) -> PyDevice:
    """Node starts a session with us from our bundle and we answer once."""
    ours = PyDevice(OURS)
    harness.init(party)
    harness.process_bundle(party, OURS, ours.bundle())
    assert await decrypt_all(ours, harness.encrypt(party, OURS, [b"hi"])) == [b"hi"]
    assert harness.decrypt(party, OURS, await encrypt_all(ours, [b"hello"])) == [b"hello"]
    return ours


@pytest.mark.parametrize("with_pre_key", [True, False])
async def test_node_builds_from_our_bundle(
    harness: SessionHarness, party: str, with_pre_key: bool
) -> None:
    ours = PyDevice(OURS)
    harness.init(party)
    bundle = ours.bundle(prekey=with_pre_key)
    harness.process_bundle(party, OURS, bundle)
    plaintexts = [f"node message {i}".encode() for i in range(6)]
    messages = harness.encrypt(party, OURS, plaintexts)
    assert [t for t, _ in messages] == ["pkmsg"] * 6  # until we answer
    assert await decrypt_all(ours, messages) == plaintexts
    if with_pre_key:
        assert bundle.pre_key_id not in ours.store.pre_keys  # the one-time pre-key is consumed
    assert await ours.store.get_identity(NODE) is not None
    # We answer; node's next messages are plain "msg"s, which we decrypt too.
    assert harness.decrypt(party, OURS, await encrypt_all(ours, [b"answer"])) == [b"answer"]
    later = harness.encrypt(party, OURS, [b"after", b"answer"])
    assert [t for t, _ in later] == ["msg", "msg"]
    assert await decrypt_all(ours, later) == [b"after", b"answer"]


@pytest.mark.parametrize("with_pre_key", [True, False])
async def test_we_build_from_node_bundle(
    harness: SessionHarness, party: str, with_pre_key: bool
) -> None:
    ours = PyDevice(OURS)
    bundle = harness.init(party, prekey=with_pre_key)
    assert (bundle.pre_key is not None) == with_pre_key
    await ours.start_session(NODE, bundle)
    plaintexts = [f"our message {i}".encode() * (i + 1) for i in range(5)]
    messages = await encrypt_all(ours, plaintexts)
    assert [t for t, _ in messages] == ["pkmsg"] * 5
    assert harness.decrypt(party, OURS, messages) == plaintexts
    removed = harness.call("removed_prekeys", party=party)["ids"]
    assert removed == ([bundle.pre_key_id] if with_pre_key else [])
    reply = harness.encrypt(party, OURS, [b"reply"])
    assert reply[0][0] == "msg"
    assert await decrypt_all(ours, reply) == [b"reply"]
    follow_up = await encrypt_all(ours, [b"now a msg"])
    assert follow_up[0][0] == "msg"
    assert harness.decrypt(party, OURS, follow_up) == [b"now a msg"]


async def test_we_reject_a_bundle_with_a_bad_signature(
    harness: SessionHarness, party: str
) -> None:
    ours = PyDevice(OURS)
    bundle = harness.init(party)
    signature = bytearray(bundle.signed_pre_key_signature)
    signature[5] ^= 0x01
    tampered = dataclasses.replace(bundle, signed_pre_key_signature=bytes(signature))
    with pytest.raises(InvalidSignatureError):
        await ours.start_session(NODE, tampered)
    assert not await ours.cipher(NODE).has_session()
    await ours.start_session(NODE, bundle)  # the genuine bundle still works
    assert harness.decrypt(party, OURS, await encrypt_all(ours, [b"ok"])) == [b"ok"]


async def test_long_conversation_out_of_order_with_drops(
    harness: SessionHarness, party: str
) -> None:
    """Bursts alternate direction; within a window messages arrive shuffled, some never."""
    rng = random.Random(20261128)
    ours = await establish(harness, party)
    counter = itertools.count()
    in_flight_to_us: list[tuple[bytes, tuple[str, bytes]]] = []
    in_flight_to_node: list[tuple[bytes, tuple[str, bytes]]] = []
    delivered = 0
    for burst in range(40):
        size = rng.randint(1, 5)
        plaintexts = [f"m{next(counter)}".encode() * rng.randint(1, 40) for _ in range(size)]
        if burst % 2 == 0:
            messages = harness.encrypt(party, OURS, plaintexts)
            in_flight_to_us += zip(plaintexts, messages, strict=True)
        else:
            messages = await encrypt_all(ours, plaintexts)
            in_flight_to_node += zip(plaintexts, messages, strict=True)
        # Deliver a random part of what is in flight, in random order; drop ~10 %.
        for queue, to_us in ((in_flight_to_us, True), (in_flight_to_node, False)):
            rng.shuffle(queue)
            take = rng.randint(0, len(queue)) if burst < 39 else len(queue)
            batch, queue[:] = queue[:take], queue[take:]
            kept = [(p, m) for p, m in batch if rng.random() > 0.1]
            if not kept:
                continue
            got: list[bytes | str]
            if to_us:
                got = list(await decrypt_all(ours, [m for _, m in kept]))
            else:
                got = harness.decrypt(party, OURS, [m for _, m in kept])
            assert got == [p for p, _ in kept]
            delivered += len(kept)
    assert delivered > 60


async def test_node_starts_a_new_session(harness: SessionHarness, party: str) -> None:
    """A new pkmsg replaces the session; the archived one still decrypts late messages."""
    ours = await establish(harness, party)
    late = harness.encrypt(party, OURS, [b"late 1", b"late 2"])
    old_base_key = SessionRecord.deserialize(ours.store.sessions[NODE]).current
    assert old_base_key is not None
    harness.call("close_session", party=party, name=OURS.name, device=OURS.device)
    harness.process_bundle(party, OURS, ours.bundle())
    fresh = harness.encrypt(party, OURS, [b"new session"])
    assert fresh[0][0] == "pkmsg"
    assert await decrypt_all(ours, fresh) == [b"new session"]
    record = SessionRecord.deserialize(ours.store.sessions[NODE])
    assert record.current is not None and record.previous
    assert record.previous[0].base_key == old_base_key.base_key
    assert record.current.base_key != old_base_key.base_key
    # Late messages of the old session still decrypt, and we keep sending on the new one.
    assert await decrypt_all(ours, late[::-1]) == [b"late 2", b"late 1"]
    assert harness.decrypt(party, OURS, await encrypt_all(ours, [b"on new"])) == [b"on new"]
    record = SessionRecord.deserialize(ours.store.sessions[NODE])
    assert record.current is not None and record.current.base_key != old_base_key.base_key
    assert await decrypt_all(ours, harness.encrypt(party, OURS, [b"x"])) == [b"x"]


async def test_we_start_a_new_session(harness: SessionHarness, party: str) -> None:
    ours = await establish(harness, party)
    late = await encrypt_all(ours, [b"old 1", b"old 2"])
    await ours.start_session(NODE, harness.bundle(party))
    fresh = await encrypt_all(ours, [b"new 1"])
    assert fresh[0][0] == "pkmsg"
    assert harness.decrypt(party, OURS, fresh) == [b"new 1"]
    assert await decrypt_all(ours, harness.encrypt(party, OURS, [b"reply"])) == [b"reply"]
    record = SessionRecord.deserialize(ours.store.sessions[NODE])
    assert record.current is not None and record.current.pending_pre_key is None
    assert len(record.previous) == 1
    # Node's archived session decrypts our late messages. (This comes last on purpose:
    # libsignal-node tries its open session first and does not roll back the ratchet step a
    # failed attempt made, so after this its open session no longer matches ours.)
    assert harness.decrypt(party, OURS, late) == [b"old 1", b"old 2"]


async def test_peer_with_a_new_identity(harness: SessionHarness, party: str) -> None:
    """A reinstalled peer: untrusted until the app accepts the new key, then a new session."""
    ours = await establish(harness, party)
    old_identity = await ours.store.get_identity(NODE)
    new_bundle = harness.init(party)  # same address, new identity key and pre-keys
    assert new_bundle.identity_key != old_identity
    harness.process_bundle(party, OURS, ours.bundle())
    pkmsg = harness.encrypt(party, OURS, [b"new me"])
    before = ours.store.sessions[NODE]
    with pytest.raises(UntrustedIdentityError) as error:
        await decrypt_all(ours, pkmsg)
    assert error.value.identity_key == new_bundle.identity_key
    assert ours.store.sessions[NODE] == before  # nothing changed
    # The app decides to trust the new key (whatsmeow does so by default) and retries.
    await ours.store.save_identity(NODE, new_bundle.identity_key)
    assert await decrypt_all(ours, pkmsg) == [b"new me"]
    record = SessionRecord.deserialize(ours.store.sessions[NODE])
    assert record.current is not None
    assert record.current.remote_identity_key == strip_key_type(new_bundle.identity_key)
    assert record.previous[0].remote_identity_key == old_identity
    assert harness.decrypt(party, OURS, await encrypt_all(ours, [b"welcome"])) == [b"welcome"]


async def test_node_messages_tampered_replayed_truncated(
    harness: SessionHarness, party: str
) -> None:
    ours = await establish(harness, party)
    cipher = ours.cipher(NODE)
    (t1, m1), (t2, m2), (t3, m3) = harness.encrypt(party, OURS, [b"one", b"two", b"three"])
    tampered = bytearray(m1)
    tampered[-1] ^= 0x80
    with pytest.raises(InvalidMACError):
        await cipher.decrypt(t1, bytes(tampered))
    flipped_ciphertext = bytearray(m1)
    flipped_ciphertext[-20] ^= 0x01
    with pytest.raises(InvalidMACError):
        await cipher.decrypt(t1, bytes(flipped_ciphertext))
    assert await cipher.decrypt(t1, m1) == b"one"
    with pytest.raises(DuplicateMessageError):
        await cipher.decrypt(t1, m1)
    for cut in (1, 5, len(m2) // 2, len(m2) - 9):
        with pytest.raises(InvalidMessageError):
            await cipher.decrypt(t2, m2[:cut])
    with pytest.raises(InvalidMessageError):
        await cipher.decrypt(t2, bytes([0x23]) + m2[1:])  # version 2
    assert await cipher.decrypt(t3, m3) == b"three"
    assert await cipher.decrypt(t2, m2) == b"two"
    # Node refuses our replay too (its "no matching session" wraps the counter error).
    ours_msg = await encrypt_all(ours, [b"once"])
    assert harness.decrypt(party, OURS, ours_msg + ours_msg) == [b"once", "SessionError"]
    assert await decrypt_all(ours, harness.encrypt(party, OURS, [b"still fine"])) == [
        b"still fine"
    ]


async def test_peer_that_lost_its_sessions_starts_over(
    harness: SessionHarness, party: str
) -> None:
    """Node keeps its identity but loses every session (a restored backup): our messages on the
    old session fail there, node starts a new session from our bundle, and we carry on in it."""
    ours = await establish(harness, party)
    old_identity = await ours.store.get_identity(NODE)
    harness.call("forget_sessions", party=party)
    [lost] = harness.decrypt(party, OURS, await encrypt_all(ours, [b"into the void"]))
    assert isinstance(lost, str)  # libsignal-node has no session to decrypt it with
    harness.process_bundle(party, OURS, ours.bundle())
    fresh = harness.encrypt(party, OURS, [b"starting over"])
    assert fresh[0][0] == "pkmsg"
    assert await decrypt_all(ours, fresh) == [b"starting over"]
    assert await ours.store.get_identity(NODE) == old_identity  # same identity, still trusted
    record = SessionRecord.deserialize(ours.store.sessions[NODE])
    assert record.current is not None and len(record.previous) == 1
    assert harness.decrypt(party, OURS, await encrypt_all(ours, [b"welcome back"])) == [
        b"welcome back"
    ]
