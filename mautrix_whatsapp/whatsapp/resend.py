"""Answering retry receipts for messages we sent (the sending half of whatsmeow ``retry.go``,
``handleRetryReceipt``).

A device that could not decrypt one of our messages sends ``<receipt type="retry">`` with
``<retry id count t/>``, its ``<registration>`` id and, from the second attempt on, its pre-key
bundle in ``<keys>``. We take the message from the recently sent ones (:mod:`.send` keeps 256),
re-encrypt it for that one device — building a fresh session from ``<keys>`` when given, or from a
fetched bundle if we have no session (or it keeps failing) — and send it back with
``<enc count=n>``. Group messages go with our sender-key distribution message, our own devices
get a ``deviceSentMessage``. Each (device, message) is answered at most :data:`MAX_RETRIES` times.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from .binary import BinaryError
from .binary.jid import HIDDEN_USER_SERVER, JID
from .binary.node import Node
from .bundles import BundleError, fetch_bundles, parse_bundle
from .message_builders import Message, media_type, message_type, poll_type
from .message_source import parse_message_source
from .proto import wa_e2e_pb2
from .send import address_of
from .signal.errors import SignalError
from .signal.group_session import GroupSessionBuilder
from .signal.keys import PreKeyBundle
from .signal.sender_key import SenderKeyName

if TYPE_CHECKING:
    from .client import Client

MAX_RETRIES = 5
MAX_TRACKED = 4096
"""Retry counts kept (oldest forgotten first)."""
RECREATE_SESSION_INTERVAL = 3600.0
"""After the first retries, a session is rebuilt from fetched keys at most this often."""


class RetryReceiptError(ValueError):
    """A retry receipt we cannot act on (malformed, or about a message we no longer have)."""


class Resender:
    """Handles ``<receipt type="retry">`` for the client (registered as a receipt handler)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.counts: OrderedDict[tuple[JID, str], int] = OrderedDict()
        self._recreated: dict[JID, float] = {}

    async def handle_receipt(self, node: Node) -> None:
        """A receipt handler: retry receipts are answered in the background."""
        if node.attrs.get("type") != "retry":
            return
        self.client._spawn(self._handle_safely(node))

    async def _handle_safely(self, node: Node) -> None:
        try:
            await self.handle_retry(node)
        except (RetryReceiptError, BundleError, BinaryError, SignalError) as e:
            self.client.log.warning("Can't answer retry receipt %s: %s", node.attrs.get("id"), e)

    async def handle_retry(self, node: Node) -> Node | None:
        """Resend the message ``node`` asks for; return the sent stanza (None if dropped)."""
        client = self.client
        source = parse_message_source(node, client.device.jid, client.device.lid)
        retry = node.get_optional_child_by_tag("retry")
        if retry is None or source.sender is None:
            raise RetryReceiptError("retry receipt without <retry> or sender")
        message_id = retry.attr_str("id")
        count = retry.attr_int("count")
        sent_at = retry.attr_unix_time_opt("t") or node.attr_unix_time_opt("t")
        device = source.sender
        message = client.sender.recent_message(source.chat, message_id)
        if message is None:
            other = await client.lids.alternate(source.chat)
            message = client.sender.recent_message(other, message_id) if other else None
        if message is None:
            raise RetryReceiptError(f"message {message_id} is not among the recently sent")
        key = (device, message_id)
        self.counts[key] = self.counts.pop(key, 0) + 1
        while len(self.counts) > MAX_TRACKED:
            self.counts.popitem(last=False)
        if self.counts[key] > MAX_RETRIES:
            client.log.warning("Not resending %s to %s again", message_id, device)
            return None

        if source.is_group:
            message = await self._with_sender_key(source.chat, device, message)
        elif source.is_from_me:
            message = Message(
                deviceSentMessage=wa_e2e_pb2.DeviceSentMessage(
                    destinationJID=str(source.chat), message=message
                )
            )
        bundle = await self._bundle_for(node, device, count)
        enc_attrs = {"mediatype": media_type(message)} if media_type(message) else {}
        enc, is_pre_key = await client.sender.encrypt_for_device(
            device, message.SerializeToString(), bundle, enc_attrs
        )
        enc.attrs["count"] = str(count)
        attrs: dict[str, str | JID] = {
            "to": node.attr_jid("from"),
            "type": message_type(message),
            "id": message_id,
        }
        if sent_at is not None:
            attrs["t"] = str(int(sent_at.timestamp()))
        if not source.is_group:
            attrs["device_fanout"] = "false"
        for name in ("participant", "recipient", "edit"):
            if name in node.attrs:
                attrs[name] = node.attrs[name]
        content = [enc]
        if is_pre_key:
            content.append(client.sender.device_identity_node())
        kind = poll_type(message)
        if kind is not None:
            content.append(Node("meta", {"polltype": kind}))
        stanza = Node("message", attrs, content)
        await client.send_node(stanza)
        client.log.debug("Resent %s to %s (retry %d)", message_id, device, count)
        return stanza

    async def _with_sender_key(self, group: JID, device: JID, message: Message) -> Message:
        """``message`` plus our current sender key of ``group`` for the device that asked."""
        client = self.client
        own = client.device.lid if device.server == HIDDEN_USER_SERVER else client.device.jid
        if own is None:
            raise RetryReceiptError("our JID for this group is unknown")
        name = SenderKeyName(str(group), address_of(own))
        async with client.locks.group(str(group)):
            distribution = await GroupSessionBuilder(client.signal_store).create(name)
        copy = Message()
        copy.CopyFrom(message)
        copy.senderKeyDistributionMessage.groupID = str(group)
        copy.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = (
            distribution.serialize()
        )
        return copy

    async def _bundle_for(self, node: Node, device: JID, count: int) -> PreKeyBundle | None:
        """The receipt's own bundle, or a fetched one when the session needs rebuilding."""
        if node.get_optional_child_by_tag("keys") is not None:
            return parse_bundle(device.device, node)
        address = await self.client.sender.session_address(device)
        has_session = await self.client.signal_store.contains_session(address)
        now = time.monotonic()
        if has_session:
            last = self._recreated.get(device)
            if count < 2 or (last is not None and now - last < RECREATE_SESSION_INTERVAL):
                return None
        self._recreated[device] = now
        bundle = (await fetch_bundles(self.client.send_iq, [device]))[device]
        if isinstance(bundle, BundleError):
            raise bundle
        return bundle
