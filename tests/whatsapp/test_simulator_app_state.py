"""The simulator's ``w:sync:app:state`` through a raw companion: paging, conflicts, corrupted
answers on demand and refused patches (the MACs themselves are proven by Baileys, which checks
them all, in ``test_interop_baileys_appstate.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.raw_device import RawDevice, linked_raw_device
from tests.whatsapp.test_client_helpers import admin

PHONE = "15550003001"


async def _post(info: SimulatorInfo, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await admin(info, "POST", path, body)
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


async def sync(device: RawDevice, *collections: Node) -> list[Node]:
    answer = await device.iq(
        "set", "s.whatsapp.net", [Node("sync", {}, list(collections))], xmlns="w:sync:app:state"
    )
    assert answer.attrs["type"] == "result", answer
    return answer.get_child_by_tag("sync").children_by_tag("collection")


def patches_of(collection: Node) -> list[wa_server_sync_pb2.SyncdPatch]:
    found = collection.get_optional_child_by_tag("patches")
    if found is None:
        return []
    return [
        wa_server_sync_pb2.SyncdPatch.FromString(p.content_bytes())
        for p in found.children_by_tag("patch")
    ]


@pytest.mark.simulator_protocol_errors()
async def test_paging_conflict_corruption_and_bad_patches(simulator: SimulatorInfo) -> None:  # noqa: F811
    device = await linked_raw_device(simulator, PHONE, "Raw")
    try:
        await _post(simulator, "/app-state/config", {"page_size": 2})
        for i in range(5):
            jid = f"1555000310{i}@s.whatsapp.net"
            await _post(simulator, f"/accounts/{PHONE}/chats/{jid}/settings", {"pinned": True})
        notified = [
            n.get_child_by_tag("collection").attrs
            for n in await device.quiet()
            if n.attrs.get("type") == "server_sync"
        ]
        regular_low = [a["version"] for a in notified if a["name"] == "regular_low"]
        assert regular_low == ["1", "2", "3", "4", "5"]

        (first,) = await sync(device, Node("collection", {"name": "regular_low", "version": "0"}))
        assert first.attrs["has_more_patches"] == "true"
        assert [p.version.version for p in patches_of(first)] == [1, 2]
        assert first.attrs["version"] == "2"
        (rest,) = await sync(device, Node("collection", {"name": "regular_low", "version": "4"}))
        assert "has_more_patches" not in rest.attrs
        assert [p.version.version for p in patches_of(rest)] == [5]

        # A patch at a stale version: whatsmeow's 409 conflict, with the patches it lacks.
        stale = patches_of(first)[0].SerializeToString()
        patch_node = Node("patch", {}, stale)
        (conflict,) = await sync(
            device, Node("collection", {"name": "regular_low", "version": "3"}, [patch_node])
        )
        assert conflict.attrs["type"] == "error"
        assert conflict.get_child_by_tag("error").attrs["code"] == "409"
        assert [p.version.version for p in patches_of(conflict)] == [4, 5]

        # corrupt-next: the next patch served has a wrong patch MAC, once.
        await _post(simulator, f"/accounts/{PHONE}/app-state/corrupt-next", {"kind": "patch_mac"})
        (bad,) = await sync(device, Node("collection", {"name": "regular_low", "version": "4"}))
        (good,) = await sync(device, Node("collection", {"name": "regular_low", "version": "4"}))
        assert patches_of(bad)[0].patchMAC != patches_of(good)[0].patchMAC
        assert patches_of(bad)[0].mutations == patches_of(good)[0].mutations

        # A patch of the wrong shape is refused (400); the connection lives on.
        junk = Node("patch", {}, b"\xff\x00junk")
        answer = await device.iq(
            "set",
            "s.whatsapp.net",
            [
                Node(
                    "sync",
                    {},
                    [Node("collection", {"name": "regular_low", "version": "5"}, [junk])],
                )
            ],
            xmlns="w:sync:app:state",
        )
        assert answer.attrs["type"] == "error"
        state = (await admin(simulator, "GET", f"/accounts/{PHONE}/app-state"))[1]
        assert state["collections"]["regular_low"]["version"] == 5
        assert len(state["memory"]["chats"]) == 5
    finally:
        await device.close()
