"""After login: pre-key top-up on the server's low-count notification, offline delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.events import Connected, OfflineSyncCompleted, OfflineSyncPreview
from mautrix_whatsapp.whatsapp.store import MemoryDeviceStore
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(60)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def _linked_client(info: SimulatorInfo, phone: str) -> tuple[Client, MemoryDeviceStore]:
    """A new client linked by QR to a new simulated account ``phone``."""
    await admin(info, "POST", "/accounts", {"phone": phone, "default": True})
    client, store, log = make_client(info)
    await link_by_qr(info, client, log)
    return client, store


async def _drain(fetcher: Client, owner: JID, keep: int) -> None:
    """Have ``fetcher`` take one-time pre-keys of ``owner`` until ``keep`` are left."""
    users = [Node("user", {"jid": owner, "reason": "identity"}) for _ in range(812 - keep)]
    response = await fetcher.send_iq("encrypt", "get", [Node("key", {}, users)])
    got = response.get_child_by_tag("list").children
    assert len(got) == 812 - keep
    assert all(u.get_optional_child_by_tag("key") is not None for u in got)


async def test_low_pre_key_notification_tops_up(simulator: SimulatorInfo) -> None:  # noqa: F811
    owner, _ = await _linked_client(simulator, "15550001111")
    fetcher, _ = await _linked_client(simulator, "15550002222")
    assert owner.device.jid is not None and owner.device.next_pre_key_id == 813

    await _drain(fetcher, owner.device.jid, keep=4)
    # The server's encrypt notification makes the owner upload a normal batch of 50.
    await eventually(lambda: owner.device.next_pre_key_id == 863)
    assert await owner.get_server_pre_key_count() == 54
    await owner.disconnect()
    await fetcher.disconnect()


async def test_offline_queue_is_delivered_at_login(simulator: SimulatorInfo) -> None:  # noqa: F811
    owner, store = await _linked_client(simulator, "15550003333")
    fetcher, _ = await _linked_client(simulator, "15550004444")
    await owner.disconnect()
    assert owner.device.jid is not None
    await _drain(fetcher, owner.device.jid, keep=3)  # the low-count notice waits offline

    stored = await store.load_device()
    again, _, log = make_client(simulator, stored, store)
    await again.connect()
    preview = await log.wait_for(OfflineSyncPreview)
    completed = await log.wait_for(OfflineSyncCompleted)
    assert preview.total >= 1 and completed.count == preview.total
    await log.wait_for(Connected)
    # One top-up (at login, or for the queued notice; never both): 3 + 50.
    await eventually(lambda: again.device.next_pre_key_id == 863)
    assert await again.get_server_pre_key_count() == 53
    await again.disconnect()
    await fetcher.disconnect()


async def test_key_bundle_and_digest(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _, log = make_client(simulator)
    await link_by_qr(simulator, client, log)
    device = client.device
    assert device.jid is not None
    digest = (await client.send_iq("encrypt", "get", [Node("digest")])).get_child_by_tag("digest")
    assert digest.get_child_by_tag("registration").content_bytes() == (
        device.registration_id.to_bytes(4, "big")
    )
    assert digest.get_child_by_tag("identity").content_bytes() == device.identity_key.public
    assert len(digest.get_child_by_tag("list").children) == 812
    assert len(digest.get_child_by_tag("hash").content_bytes()) == 20

    users = [
        Node("user", {"jid": device.jid}),
        Node("user", {"jid": JID("1", "s.whatsapp.net", 9)}),
    ]
    response = await client.send_iq("encrypt", "get", [Node("key", {}, users)])
    mine, unknown = response.get_child_by_tag("list").children
    assert unknown.get_child_by_tag("error").attrs["code"] == "404"
    skey = mine.get_child_by_tag("skey")
    assert xeddsa.verify(
        mine.get_child_by_tag("identity").content_bytes(),
        b"\x05" + skey.get_child_by_tag("value").content_bytes(),
        skey.get_child_by_tag("signature").content_bytes(),
    )
    key = mine.get_child_by_tag("key")
    key_id = int.from_bytes(key.get_child_by_tag("id").content_bytes(), "big")
    stored = await client.signal_store.load_pre_key(key_id)
    assert stored is not None
    assert stored.key_pair.public == key.get_child_by_tag("value").content_bytes()
    assert await client.get_server_pre_key_count() == 811  # the fetch consumed it
    await client.disconnect()
