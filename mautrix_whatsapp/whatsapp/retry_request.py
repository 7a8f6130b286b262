"""Asking a sender to encrypt a message again: the retry receipt (whatsmeow ``sendRetryReceipt``).

When a message cannot be decrypted (no session, bad MAC, unknown sender key…) we answer with::

    <receipt id to [participant] [recipient] type="retry" [category="peer"]>
      <retry count id t v="1"/>
      <registration>4-byte registration id</registration>
      <keys>…</keys>   from the second retry on
    </receipt>

``<keys>`` (type, identity, a fresh one-time pre-key, the signed pre-key, our signed device
identity) lets the sender build a new session with us without asking the server. At most
:data:`MAX_RETRIES` receipts go out per message; counts are remembered for a bounded number of
recent messages, and a resent message's ``<enc count>`` restores the count after a restart.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from .binary.node import Node
from .message_info import MessageInfo
from .prekeys import pre_key_node, signed_pre_key_node
from .receipt_send import base_receipt_attrs

if TYPE_CHECKING:
    from .client import Client

MAX_RETRIES = 5
"""Retry receipts sent per message at most (counts 1..5)."""
REMEMBERED_MESSAGES = 4096
KEY_TYPE_DJB = b"\x05"


def build_retry_receipt(
    node: Node,
    info: MessageInfo,
    count: int,
    registration_id: int,
    keys: Node | None = None,
) -> Node:
    """The retry receipt for the ``<message>`` ``node`` (``keys`` from :func:`keys_node`)."""
    attrs = base_receipt_attrs(info.id, node)
    attrs["type"] = "retry"
    if info.is_peer and info.is_from_me:
        attrs["category"] = "peer"
    retry_attrs = {"count": str(count), "id": info.id, "v": "1"}
    t = node.attrs.get("t")
    if isinstance(t, str):
        retry_attrs["t"] = t
    children = [
        Node("retry", retry_attrs),
        Node("registration", {}, registration_id.to_bytes(4, "big")),
    ]
    if keys is not None:
        children.append(keys)
    return Node("receipt", attrs, children)


class RetryRequester:
    """Counts and sends one client's retry receipts."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._counts: OrderedDict[str, int] = OrderedDict()

    def next_count(self, node: Node) -> int:
        """This message's retry number (1 for the first receipt)."""
        message_id = str(node.attrs.get("id", ""))
        count = self._counts.pop(message_id, 0) + 1
        if count == 1:
            encs = node.children_by_tag("enc")
            in_message = encs[0].attrs.get("count") if len(encs) == 1 else None
            if isinstance(in_message, str) and in_message.isdigit() and int(in_message) > 0:
                count = int(in_message) + 1
        self._counts[message_id] = count
        while len(self._counts) > REMEMBERED_MESSAGES:
            self._counts.popitem(last=False)
        return count

    async def keys_node(self) -> Node:
        """``<keys>`` with a freshly generated (and stored) one-time pre-key."""
        client = self.client
        device = client.device
        record = await client._pre_keys.generate_one()
        children = [
            Node("type", {}, KEY_TYPE_DJB),
            Node("identity", {}, device.identity_key.public),
            pre_key_node(record),
            signed_pre_key_node(device.signed_pre_key),
        ]
        if device.account is not None:
            children.append(Node("device-identity", {}, device.account))
        return Node("keys", {}, children)

    async def send(self, node: Node, info: MessageInfo, *, force_keys: bool = False) -> bool:
        """Send the next retry receipt for ``node``; False once :data:`MAX_RETRIES` is reached."""
        count = self.next_count(node)
        if count > MAX_RETRIES:
            self.client.log.warning("Not sending any more retry receipts for %s", info.id)
            return False
        keys = await self.keys_node() if count > 1 or force_keys else None
        receipt = build_retry_receipt(node, info, count, self.client.device.registration_id, keys)
        await self.client.send_node(receipt)
        return True
