"""Keeping one-time pre-keys on the server, so others can start Signal sessions with us.

After login we ask the server how many pre-keys it still holds (``<count>``) and upload a batch
when it runs low: 812 the first time, 50 later (whatsmeow's numbers). The server also tells us
when it runs low with an ``encrypt`` notification carrying ``<count>``.

The node builders are pure (the simulator's tests use them too); :class:`PreKeyUploader` runs
the count/upload exchange for a client.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .binary.node import Node
from .device import MAX_PRE_KEY_ID, DeviceIdentity
from .signal.keys import PreKeyRecord, SignedPreKeyRecord

if TYPE_CHECKING:
    from .client import Client

WANTED_PRE_KEY_COUNT = 50
"""Keys in a normal upload batch."""
INITIAL_PRE_KEY_COUNT = 812
"""Keys in the first upload of a new device."""
MIN_PRE_KEY_COUNT = 5
"""Upload again when the server holds fewer than this."""
PRE_KEY_RECHECK_WINDOW = 600.0
"""After an upload, notified counts are re-checked with the server for this long (seconds)."""


def key_id_bytes(key_id: int) -> bytes:
    return key_id.to_bytes(4, "big")[1:]


def pre_key_node(record: PreKeyRecord) -> Node:
    return Node(
        "key",
        {},
        [Node("id", {}, key_id_bytes(record.key_id)), Node("value", {}, record.key_pair.public)],
    )


def signed_pre_key_node(record: SignedPreKeyRecord) -> Node:
    return Node(
        "skey",
        {},
        [
            Node("id", {}, key_id_bytes(record.key_id)),
            Node("value", {}, record.key_pair.public),
            Node("signature", {}, record.signature),
        ],
    )


def generate_pre_keys(device: DeviceIdentity, count: int) -> list[PreKeyRecord]:
    """New pre-keys with ids from ``device.next_pre_key_id``, wrapping within 1..0xFFFFFF.

    The caller stores them and advances ``next_pre_key_id`` once the upload succeeded.
    """
    records = []
    key_id = device.next_pre_key_id
    for _ in range(count):
        if not 1 <= key_id <= MAX_PRE_KEY_ID:
            key_id = 1
        records.append(PreKeyRecord.generate(key_id))
        key_id += 1
    return records


def upload_content(device: DeviceIdentity, records: list[PreKeyRecord]) -> list[Node]:
    """The children of ``<iq xmlns="encrypt" type="set">`` that uploads ``records``."""
    return [
        Node("registration", {}, device.registration_id.to_bytes(4, "big")),
        Node("type", {}, b"\x05"),
        Node("identity", {}, device.identity_key.public),
        Node("list", {}, [pre_key_node(r) for r in records]),
        signed_pre_key_node(device.signed_pre_key),
    ]


def parse_count(response: Node) -> int:
    """The ``value`` of ``<count>`` in a count response or an encrypt notification."""
    count = response.get_child_by_tag("count")
    return count.attr_int("value")


class PreKeyUploader:
    """Checks the server's count and uploads batches, one exchange at a time."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = asyncio.Lock()
        self._last_upload = -PRE_KEY_RECHECK_WINDOW

    async def server_count(self) -> int:
        response = await self.client.send_iq("encrypt", "get", [Node("count")])
        return parse_count(response)

    async def ensure(self, server_count: int | None = None) -> None:
        """Upload a batch if the server holds too few (``server_count`` if already known)."""
        async with self._lock:
            recent = time.monotonic() - self._last_upload < PRE_KEY_RECHECK_WINDOW
            if server_count is None or recent:
                # A notified count may predate an upload that just happened (whatsmeow's check).
                server_count = await self.server_count()
            if server_count >= MIN_PRE_KEY_COUNT:
                return
            first_upload = self.client.device.next_pre_key_id == 1 and server_count == 0
            await self.upload(INITIAL_PRE_KEY_COUNT if first_upload else WANTED_PRE_KEY_COUNT)

    async def generate_one(self) -> PreKeyRecord:
        """One new one-time pre-key, stored but not uploaded (for a retry receipt's ``<keys>``).

        Taken under the upload lock: an upload in flight has not yet advanced
        ``next_pre_key_id``, and reusing one of its ids would overwrite an uploaded key.
        """
        async with self._lock:
            client = self.client
            (record,) = generate_pre_keys(client.device, 1)
            await client.signal_store.store_pre_key(record)
            client.device.next_pre_key_id = record.key_id + 1
            await client.device_store.save_device(client.device)
            return record

    async def upload(self, count: int) -> None:
        """Generate, store and upload ``count`` one-time pre-keys."""
        client = self.client
        device, signal_store = client.device, client.signal_store
        spk = device.signed_pre_key
        if not await signal_store.contains_signed_pre_key(spk.key_id):
            await signal_store.store_signed_pre_key(spk)
        records = generate_pre_keys(device, count)
        await signal_store.store_pre_keys(records)
        await client.send_iq("encrypt", "set", upload_content(device, records))
        device.next_pre_key_id = records[-1].key_id + 1
        self._last_upload = time.monotonic()
        await client.device_store.save_device(device)
        client.log.debug("Uploaded %d pre-keys", len(records))
