"""Keeping one-time pre-keys on the server, so others can start Signal sessions with us.

After login we ask the server how many pre-keys it still holds (``<count>``) and upload a batch
when it runs low: 812 the first time, 50 later (whatsmeow's numbers). The server also tells us
when it runs low with an ``encrypt`` notification carrying ``<count>``.
"""

from __future__ import annotations

from .binary.node import Node
from .device import MAX_PRE_KEY_ID, DeviceIdentity
from .signal.keys import PreKeyRecord, SignedPreKeyRecord

WANTED_PRE_KEY_COUNT = 50
"""Keys in a normal upload batch."""
INITIAL_PRE_KEY_COUNT = 812
"""Keys in the first upload of a new device."""
MIN_PRE_KEY_COUNT = 5
"""Upload again when the server holds fewer than this."""


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
