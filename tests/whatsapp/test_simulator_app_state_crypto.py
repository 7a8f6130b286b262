"""The simulated phone's app-state encoding read by Baileys' own decoders with every MAC check
on (``tests/js/appstate_check.mjs``): patches and snapshots decode to the mutations the phone
meant, Baileys' LTHash equals the server's, and a corrupted MAC is caught."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2
from tests.baileys_peer import JS_DIR, require_node
from tests.simulator.accounts import AccountRegistry
from tests.simulator.app_state import AppStateService
from tests.simulator.app_state_crypto import EMPTY_HASH, lthash
from tests.simulator.app_state_keys import get_key_ring
from tests.simulator.media_crypto import decrypt_media
from tests.simulator.media_store import get_media_store
from tests.simulator.phone_memory import Contact, get_memories
from tests.simulator.state import ServerState

B64 = base64.b64encode


async def baileys_decode(job: dict[str, Any]) -> dict[str, Any]:
    require_node()
    process = await asyncio.create_subprocess_exec(
        "node",
        "appstate_check.mjs",
        cwd=JS_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(job).encode()), 60)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result


def phone_with_state() -> tuple[ServerState, AppStateService, Any]:
    state = ServerState()
    account = AccountRegistry().create("15550004001", push_name="Fay")
    memory = get_memories(state).of(account)
    memory.contacts["15550004002@s.whatsapp.net"] = Contact(
        "15550004002@s.whatsapp.net", "Gus Grey", "Gus", "200000000000002@lid"
    )
    memory.contacts["200000000000003@lid"] = Contact("200000000000003@lid", "Hal Lid", "Hal")
    chat = memory.chat("15550004004@s.whatsapp.net")
    chat.pinned, chat.archived, chat.mute_end = 1700000000, True, -1
    service = AppStateService(state)
    service.phone_changes(account)
    chat.archived = False
    chat.marked_unread = True
    del memory.contacts["200000000000003@lid"]
    service.phone_changes(account)
    return state, service, account


def job_for(state: ServerState, service: AppStateService, account: Any) -> dict[str, Any]:
    key = get_key_ring(state).of(account).latest(account)
    collections = service.of(account).server.collections
    return {
        "key_id": B64(key.key_id).decode(),
        "key_data": B64(key.key_data).decode(),
        "collections": {
            name: {"patches": [B64(p.SerializeToString()).decode() for p in c.patches]}
            for name, c in collections.items()
            if c.patches
        },
    }


def snapshot_bytes(state: ServerState, service: AppStateService, account: Any, name: str) -> bytes:
    reference = wa_server_sync_pb2.ExternalBlobReference.FromString(
        service.snapshot(account, service.of(account).server.collections[name])
    )
    stored = get_media_store(state).get(reference.directPath)
    assert stored is not None and stored.enc_sha256 == reference.fileEncSHA256
    return decrypt_media(stored.blob, "md-app-state", reference.mediaKey)


def test_lthash_subtract_undoes_add() -> None:
    items = [os.urandom(32) for _ in range(5)]
    added = lthash(EMPTY_HASH, add=items)
    assert added != EMPTY_HASH
    assert lthash(added, subtract=items) == EMPTY_HASH
    assert lthash(lthash(EMPTY_HASH, add=items[:2]), add=items[2:]) == added


async def test_baileys_reads_the_phones_patches_and_snapshots() -> None:
    state, service, account = phone_with_state()
    job = job_for(state, service, account)
    collections = service.of(account).server.collections
    job["snapshots"] = {
        name: B64(snapshot_bytes(state, service, account, name)).decode()
        for name in ("regular_low", "critical_unblock_low")
    }
    result = await baileys_decode(job)
    assert result["warnings"] == []
    for name, decoded in result["patches"].items():
        assert decoded["version"] == collections[name].version
        assert base64.b64decode(decoded["hash"]) == collections[name].hash, name
    for name, decoded in result["snapshots"].items():
        assert base64.b64decode(decoded["hash"]) == collections[name].hash, name
    low = {tuple(index): value for index, value in result["snapshots"]["regular_low"]["mutations"]}
    chat = "15550004004@s.whatsapp.net"
    assert low[("pin_v1", chat)]["pinAction"] == {"pinned": True}
    assert low[("archive", chat)]["archiveChatAction"]["archived"] is False
    assert low[("markChatAsRead", chat)]["markChatAsReadAction"]["read"] is False
    contacts = result["snapshots"]["critical_unblock_low"]["mutations"]
    assert contacts == [
        [
            ["contact", "15550004002@s.whatsapp.net"],
            {
                "timestamp": contacts[0][1]["timestamp"],
                "contactAction": {
                    "fullName": "Gus Grey",
                    "firstName": "Gus",
                    "lidJid": "200000000000002@lid",
                },
            },
        ]
    ]
    mute = result["patches"]["regular_high"]["mutations"]
    assert mute[0][1]["muteAction"] == {"muted": True, "muteEndTimestamp": -1}
    name = result["patches"]["critical_block"]["mutations"]
    assert name[0][1]["pushNameSetting"] == {"name": "Fay"}


async def test_baileys_catches_corrupted_macs() -> None:
    state, service, account = phone_with_state()
    job = job_for(state, service, account)
    collection = service.of(account).server.collections["regular_low"]
    service.of(account).corrupt_next = "patch_mac"
    bad_patch = service.served(account, collection.patches[0])
    service.of(account).corrupt_next = "snapshot_mac"
    bad_snapshot = snapshot_bytes(state, service, account, "regular_low")
    job["collections"] = {"regular_low": {"patches": [B64(bad_patch).decode()]}}
    job["snapshots"] = {"regular_low": B64(bad_snapshot).decode()}
    result = await baileys_decode(job)
    assert any(
        "failed to decode patch" in w and "Invalid patch mac" in w for w in result["warnings"]
    )
    assert any("LTHash verification failed on snapshot" in w for w in result["warnings"])
    assert service.of(account).corrupt_next == ""
    # A bad value MAC: the record is dropped and the patch MAC (over the value MACs) fails.
    service.of(account).corrupt_next = "value_mac"
    bad_value = service.served(account, collection.patches[0])
    assert (
        service.served(account, collection.patches[0]) == collection.patches[0].SerializeToString()
    )
    job["collections"] = {"regular_low": {"patches": [B64(bad_value).decode()]}}
    del job["snapshots"]
    result = await baileys_decode(job)
    assert result["patches"]["regular_low"]["mutations"] == []
    assert any("Invalid patch mac" in w for w in result["warnings"])
