"""App-state crypto against Baileys: LTHash and key expansion (whatsapp-rust-bridge, which
Baileys uses), Baileys' patches decoded by us with every MAC checked, ours decoded by Baileys.

One node process (``tests/js/appstate_crypto.mjs``) handles the whole batch. The fixed vectors
below were produced by that same Baileys code and are checked without node too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.appstate import events as ev
from mautrix_whatsapp.whatsapp.appstate import lthash
from mautrix_whatsapp.whatsapp.appstate.decode import Decoder, PatchList
from mautrix_whatsapp.whatsapp.appstate.encode import (
    PatchInfo,
    build_archive,
    build_delete_chat,
    build_mark_chat_as_read,
    build_mute,
    build_pin,
    build_setting_push_name,
    build_star,
    encode_patch,
)
from mautrix_whatsapp.whatsapp.appstate.hash import HashState
from mautrix_whatsapp.whatsapp.appstate.keys import KeyCache, expand_keys
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2 as pb
from mautrix_whatsapp.whatsapp.proto import wa_sync_action_pb2 as sa
from mautrix_whatsapp.whatsapp.store import AppStateSyncKey, MemoryAppStateStore
from tests.processes import run_node_json

# Baileys' LTHashAntiTampering.subtractThenAdd(zero hash, [], [b"\x01"]), first 32 bytes, and
# expandAppStateKeys(b"\x00").indexKey.
VECTOR_LTHASH_ADD_01 = "871edb313a8928859eba2120a38ab75c9513ee6629d16adc635f4dcbe72768f7"
VECTOR_INDEX_KEY_00 = "8003c56709fa9345b62a8586a1448c566ed23f5d935f8c158bcf70b80758487d"

ALICE = JID.parse("15550001@s.whatsapp.net")
GROUP = JID.parse("120363000000000001@g.us")
KEY_ID = bytes.fromhex("0000000000a1")


def test_fixed_vectors_from_baileys() -> None:
    assert lthash.subtract_then_add(bytes(128), [], [b"\x01"]).hex()[:64] == VECTOR_LTHASH_ADD_01
    assert expand_keys(b"\x00").index.hex() == VECTOR_INDEX_KEY_00


def test_lthash_is_order_free_and_reversible() -> None:
    items = [os.urandom(32) for _ in range(5)]
    base = os.urandom(128)
    forward = lthash.subtract_then_add(base, [], items)
    assert lthash.subtract_then_add(base, [], list(reversed(items))) == forward
    assert lthash.subtract_then_add(forward, items, []) == base
    with pytest.raises(ValueError):
        lthash.subtract_then_add(b"\x00" * 127, [], [])


async def _store_with_key(key_data: bytes) -> MemoryAppStateStore:
    store = MemoryAppStateStore()
    await store.put_app_state_sync_key(AppStateSyncKey(KEY_ID, key_data, b"", 1))
    return store


def _ours() -> list[PatchInfo]:
    return [
        build_mute(ALICE, True),
        build_pin(ALICE, True),
        build_archive(GROUP, True),
        build_mark_chat_as_read(ALICE, False),
        build_star(GROUP, ALICE, "3EB0AAAA", False, True),
        build_delete_chat(ALICE, delete_media=True),
        build_setting_push_name("Älice ✓"),
        build_mute(ALICE, False),
    ]


@pytest.mark.node
@pytest.mark.timeout(120)
async def test_appstate_crypto_interop_with_baileys(node_harness_dir: Path) -> None:
    key_data = os.urandom(32)
    lthash_cases = [
        (os.urandom(128), [os.urandom(32)], [os.urandom(32) for _ in range(3)]) for _ in range(4)
    ]
    expand_cases = [os.urandom(32) for _ in range(3)]
    last = {
        "key": {"remoteJid": str(ALICE), "id": "3EB0BB", "fromMe": False},
        "messageTimestamp": 1_700_000_000,
    }
    baileys_mods: list[dict[str, Any]] = [
        {"jid": str(ALICE), "mod": {"mute": 1_900_000_000_000}},
        {"jid": str(ALICE), "mod": {"pin": True}},
        {"jid": str(GROUP), "mod": {"archive": True, "lastMessages": [last]}},
        {"jid": str(ALICE), "mod": {"markRead": False, "lastMessages": [last]}},
        {
            "jid": str(ALICE),
            "mod": {"contact": {"fullName": "Alice Liddell", "firstName": "Alice"}},
        },
        {"jid": str(ALICE), "mod": {"clear": True, "lastMessages": [last]}},
        {"jid": str(ALICE), "mod": {"mute": None}},
        {"jid": str(ALICE), "mod": {"contact": None}},
    ]

    # Ours, encoded in order on each collection's state (kept by decoding them back).
    store = await _store_with_key(key_data)
    keys = expand_keys(key_data)
    decoder = Decoder(store, KeyCache(store))
    ours: list[dict[str, str]] = []
    for info in _ours():
        name = str(info.type)
        version, lt_hash = await store.get_app_state_version(name)

        async def previous(idx: bytes, _i: int, name: str = name) -> bytes | None:
            return await store.get_app_state_mutation_mac(name, idx)

        raw, expected = await encode_patch(
            info, KEY_ID, keys, HashState(version, lt_hash), previous
        )
        patch = pb.SyncdPatch.FromString(raw)
        patch.version.version = expected.version
        _, state = await decoder.decode(
            PatchList(name, False, [patch]), HashState(version, lt_hash)
        )
        assert state == expected
        ours.append({"name": name, "patch": patch.SerializeToString().hex()})

    result = run_node_json(
        node_harness_dir,
        "appstate_crypto.mjs",
        {
            "key": {"id": KEY_ID.hex(), "data": key_data.hex()},
            "lthash": [
                {"base": base.hex(), "sub": [x.hex() for x in sub], "add": [x.hex() for x in add]}
                for base, sub, add in lthash_cases
            ],
            "expand": [k.hex() for k in expand_cases],
            "encode": baileys_mods,
            "decode": ours,
        },
        timeout=90,
    )

    for (base, sub, add), theirs in zip(lthash_cases, result["lthash"], strict=True):
        assert lthash.subtract_then_add(base, sub, add).hex() == theirs
    for data, theirs in zip(expand_cases, result["expand"], strict=True):
        mine = expand_keys(data)
        assert theirs == {
            "index": mine.index.hex(),
            "valueEncryption": mine.value_encryption.hex(),
            "valueMac": mine.value_mac.hex(),
            "snapshotMac": mine.snapshot_mac.hex(),
            "patchMac": mine.patch_mac.hex(),
        }

    # Baileys verified every MAC of ours and decoded every mutation, with the same hash.
    decoded = result["decode"]
    assert decoded["warnings"] == []
    assert [m["index"][0] for m in decoded["mutations"]] == [
        "mute",
        "pin_v1",
        "archive",
        "pin_v1",
        "markChatAsRead",
        "star",
        "deleteChat",
        "setting_pushName",
        "mute",
    ]
    push = next(m for m in decoded["mutations"] if m["index"][0] == "setting_pushName")
    assert (
        sa.SyncActionValue.FromString(bytes.fromhex(push["value"])).pushNameSetting.name
        == "Älice ✓"
    )
    for name, their_hash in decoded["hashes"].items():
        version, our_hash = await store.get_app_state_version(name)
        assert (decoded["versions"][name], their_hash) == (version, our_hash.hex())

    # Baileys' patches, decoded by us with every MAC checked, become the right events.
    store = await _store_with_key(key_data)
    decoder = Decoder(store, KeyCache(store))
    got: list[object] = []
    for item in result["encode"]:
        name = item["name"]
        patch = pb.SyncdPatch.FromString(bytes.fromhex(item["patch"]))
        version, lt_hash = await store.get_app_state_version(name)
        mutations, state = await decoder.decode(
            PatchList(name, False, [patch]), HashState(version, lt_hash)
        )
        assert state.hash.hex() == item["hash"]
        got += [ev.to_event(name, m, False) for m in mutations]
    mute, pin, archive, read, contact, clear, unmute, removed = got
    assert isinstance(mute, ev.Mute) and mute.jid == ALICE and mute.muted
    assert mute.muted_until is not None and int(mute.muted_until.timestamp()) == 1_900_000_000
    assert isinstance(pin, ev.Pin) and pin.pinned
    assert isinstance(archive, ev.Archive) and archive.jid == GROUP and archive.archived
    assert isinstance(read, ev.MarkChatAsRead) and not read.read
    assert isinstance(contact, ev.Contact)
    assert (contact.full_name, contact.first_name) == ("Alice Liddell", "Alice")
    assert isinstance(clear, ev.ClearChat) and clear.jid == ALICE
    assert isinstance(unmute, ev.Mute) and not unmute.muted and unmute.muted_until is None
    assert isinstance(removed, ev.AppStateMutation)
    assert removed.operation == pb.SyncdMutation.REMOVE and removed.index == [
        "contact",
        str(ALICE),
    ]
    # The REMOVE took the contact out of the collection.
    assert store.macs["critical_unblock_low"] == {}
