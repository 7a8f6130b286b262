"""Sender keys against Baileys' group cipher (libsignal-node), via tests/js/signal_group.mjs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.errors import (
    DuplicateMessageError,
    InvalidMessageError,
    InvalidSignatureError,
    NoSessionError,
)
from mautrix_whatsapp.whatsapp.signal.group_cipher import GroupCipher, SenderKeyMessage
from mautrix_whatsapp.whatsapp.signal.group_session import (
    GroupSessionBuilder,
    SenderKeyDistributionMessage,
)
from mautrix_whatsapp.whatsapp.signal.padding import pad_message, unpad_message
from mautrix_whatsapp.whatsapp.signal.sender_key import MAX_FORWARD_JUMP, SenderKeyName
from mautrix_whatsapp.whatsapp.store import MemorySenderKeyStore

from .signal_session_harness import GroupHarness, b64, unb64

pytestmark = pytest.mark.node

GROUP = "120363111111111111@g.us"
NODE_SENDER = SignalAddress("222222222222222_1", 0)
OUR_ADDRESS = SignalAddress("333333333333333_1", 7)


@pytest.fixture(scope="module")
def harness(node_harness_dir: Path) -> Iterator[GroupHarness]:
    with GroupHarness(node_harness_dir) as h:
        yield h


def addr_args(party: str, address: SignalAddress, group: str = GROUP) -> dict[str, Any]:
    return {"party": party, "group": group, "name": address.name, "device": address.device}


def node_sends(
    harness: GroupHarness,
    party: str,
    plaintexts: list[bytes],
    group: str = GROUP,
    pad: bool = False,
) -> list[bytes]:
    encoded = [b64(p) for p in plaintexts]
    args = addr_args(party, NODE_SENDER, group)
    answer = harness.call("encrypt", **args, plaintexts=encoded, pad=pad)
    return [unb64(c) for c in answer["ciphertexts"]]


def node_receives(
    harness: GroupHarness,
    party: str,
    ciphertexts: list[bytes],
    group: str = GROUP,
    unpad: bool = False,
) -> list[bytes | str]:
    encoded = [b64(c) for c in ciphertexts]
    args = addr_args(party, OUR_ADDRESS, group)
    answer = harness.call("decrypt", **args, ciphertexts=encoded, unpad=unpad)
    return [
        unb64(r["plaintext"]) if "plaintext" in r else str(r["error"]) for r in answer["results"]
    ]


async def test_node_to_us_100_messages_shuffled(harness: GroupHarness) -> None:
    skdm = unb64(harness.call("create", **addr_args("node-a", NODE_SENDER))["skdm"])
    parsed = SenderKeyDistributionMessage.parse(skdm)
    assert parsed.signing_key[0] == 5 and len(parsed.chain_key) == 32
    plaintexts = [f"group message {i} ".encode() * (i % 7 + 1) for i in range(100)]
    ciphertexts = node_sends(harness, "node-a", plaintexts, pad=True)

    store = MemorySenderKeyStore()
    name = SenderKeyName(GROUP, NODE_SENDER)
    await GroupSessionBuilder(store).process(name, skdm)
    cipher = GroupCipher(store, name)
    order = list(range(100))
    random.Random(100).shuffle(order)
    for i in order:
        assert unpad_message(await cipher.decrypt(ciphertexts[i])) == plaintexts[i]
    for i in order[:5]:
        with pytest.raises(DuplicateMessageError):
            await cipher.decrypt(ciphertexts[i])


async def test_us_to_node_shuffled(harness: GroupHarness) -> None:
    store = MemorySenderKeyStore()
    name = SenderKeyName(GROUP, OUR_ADDRESS)
    skdm = await GroupSessionBuilder(store).create(name)
    harness.call("process", **addr_args("node-b", OUR_ADDRESS), skdm=b64(skdm.serialize()))
    cipher = GroupCipher(store, name)
    plaintexts = [f"from python {i}".encode() for i in range(100)]
    ciphertexts = [await cipher.encrypt(pad_message(p)) for p in plaintexts]
    order = list(range(100))
    random.Random(7).shuffle(order)
    results = node_receives(harness, "node-b", [ciphertexts[i] for i in order], unpad=True)
    assert results == [plaintexts[i] for i in order]
    # Baileys, too, refuses a replay of ours.
    [replayed] = node_receives(harness, "node-b", [ciphertexts[order[0]]])
    assert isinstance(replayed, str) and "old counter" in replayed


async def test_a_second_python_sender_key_after_rotation_decrypts_with_node(
    harness: GroupHarness,
) -> None:
    """Two key ids from the same sender: node keeps both and decrypts either."""
    first_store, second_store = MemorySenderKeyStore(), MemorySenderKeyStore()
    name = SenderKeyName(GROUP, OUR_ADDRESS)
    args = addr_args("node-c", OUR_ADDRESS)
    for store in (first_store, second_store):
        skdm = await GroupSessionBuilder(store).create(name)
        harness.call("process", **args, skdm=b64(skdm.serialize()))
    old = await GroupCipher(first_store, name).encrypt(b"old key")
    new = await GroupCipher(second_store, name).encrypt(b"new key")
    assert node_receives(harness, "node-c", [new, old]) == [b"new key", b"old key"]


async def test_negative_cases_against_node_messages(harness: GroupHarness) -> None:
    group = "120363222222222222@g.us"
    skdm = unb64(harness.call("create", **addr_args("node-d", NODE_SENDER, group))["skdm"])
    plaintexts = [f"n{i}".encode() for i in range(8)]
    sent = node_sends(harness, "node-d", plaintexts, group)
    name = SenderKeyName(group, NODE_SENDER)
    store = MemorySenderKeyStore()
    cipher = GroupCipher(store, name)

    with pytest.raises(NoSessionError):  # no SKDM processed yet
        await cipher.decrypt(sent[0])
    await GroupSessionBuilder(store).process(name, skdm)

    with pytest.raises(InvalidSignatureError):
        await cipher.decrypt(sent[0][:-1] + bytes([sent[0][-1] ^ 0x01]))
    assert await cipher.decrypt(sent[0]) == plaintexts[0]

    body_end = len(SenderKeyMessage.parse(sent[1]).signed_part)
    tampered = bytearray(sent[1])
    tampered[body_end - 3] ^= 0x80  # inside the ciphertext
    with pytest.raises(InvalidSignatureError):
        await cipher.decrypt(bytes(tampered))
    assert await cipher.decrypt(sent[1]) == plaintexts[1]

    with pytest.raises(DuplicateMessageError):
        await cipher.decrypt(sent[1])
    assert await cipher.decrypt(sent[2]) == plaintexts[2]

    for cut in (0, 1, 30, len(sent[3]) - 1):
        with pytest.raises(InvalidMessageError):
            await cipher.decrypt(sent[3][:cut])
    assert await cipher.decrypt(sent[3]) == plaintexts[3]

    # Node's sender loses messages until its chain is past our bound.
    harness.call("skip", **addr_args("node-d", NODE_SENDER, group), count=MAX_FORWARD_JUMP - 10)
    [near] = node_sends(harness, "node-d", [b"near"], group)
    harness.call("skip", **addr_args("node-d", NODE_SENDER, group), count=20)
    [too_far] = node_sends(harness, "node-d", [b"too far"], group)
    with pytest.raises(InvalidMessageError, match="ahead"):
        await cipher.decrypt(too_far)
    for i in range(4, 8):
        assert await cipher.decrypt(sent[i]) == plaintexts[i]
    assert await cipher.decrypt(near) == b"near"
    assert await cipher.decrypt(too_far) == b"too far"


async def test_restored_record_keeps_decrypting_node_messages(harness: GroupHarness) -> None:
    group = "120363333333333333@g.us"
    skdm = unb64(harness.call("create", **addr_args("node-e", NODE_SENDER, group))["skdm"])
    plaintexts = [f"r{i}".encode() for i in range(20)]
    sent = node_sends(harness, "node-e", plaintexts, group)
    name = SenderKeyName(group, NODE_SENDER)
    store = MemorySenderKeyStore()
    await GroupSessionBuilder(store).process(name, skdm)
    for i in (0, 5, 9):
        assert await GroupCipher(store, name).decrypt(sent[i]) == plaintexts[i]
    record = await store.load_sender_key(group, NODE_SENDER)
    assert record is not None
    restored = MemorySenderKeyStore()
    await restored.store_sender_key(group, NODE_SENDER, record)
    cipher = GroupCipher(restored, name)
    for i in (3, 19, 1, 12, 2, 4, 6, 7, 8, 10, 11, 13, 14, 15, 16, 17, 18):
        assert await cipher.decrypt(sent[i]) == plaintexts[i]
    with pytest.raises(DuplicateMessageError):
        await cipher.decrypt(sent[5])
