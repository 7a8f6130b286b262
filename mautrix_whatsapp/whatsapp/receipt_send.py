"""Receipts we send: delivery receipts for received messages, read and played receipts.

Delivery (whatsmeow ``sendMessageReceipt``): every message we handled is answered with
``<receipt id to [participant] [recipient] [type]>``; it doubles as the stanza's ack. ``type``
is absent for a normal delivery, ``inactive`` while we have not announced ourselves available
(the sender then sees one grey tick, not two), ``sender`` for our own messages from another
device and ``peer_msg`` for peer messages between our devices.

Read (whatsmeow ``MarkRead``): ``<receipt id=first to=chat type=read t [participant]>``, the
other ids in ``<list><item id/></list>``. ``participant`` (the message's sender) only outside
DMs. ``read-self`` marks a chat read on our other devices without telling the sender (when read
receipts are turned off); ``played`` is for voice notes and view-once media.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, JID, MESSENGER_SERVER
from .binary.node import Node
from .message_info import MessageInfo

READ = "read"
READ_SELF = "read-self"
PLAYED = "played"
PLAYED_SELF = "played-self"
_READ_TYPES = (READ, READ_SELF, PLAYED, PLAYED_SELF)


def base_receipt_attrs(message_id: str, node: Node) -> dict[str, str | JID]:
    """``id`` and ``to`` (the stanza's ``from``), with ``recipient``/``participant`` copied."""
    attrs: dict[str, str | JID] = {"id": message_id, "to": node.attrs.get("from", "")}
    for key in ("recipient", "participant"):
        value = node.attrs.get(key)
        if value is not None:
            attrs[key] = value
    return attrs


def build_message_receipt(info: MessageInfo, node: Node, *, active: bool) -> Node:
    """The delivery receipt for a handled ``<message>`` ``node``."""
    attrs = base_receipt_attrs(info.id, node)
    if info.is_peer:
        attrs["type"] = "peer_msg"
    elif info.is_from_me:
        attrs["type"] = "sender"
    elif not active:
        attrs["type"] = "inactive"
    return Node("receipt", attrs)


def build_read_receipt(
    chat: JID,
    sender: JID | None,
    message_ids: Sequence[str],
    timestamp: datetime,
    receipt_type: str = READ,
) -> Node:
    """A read (or ``read-self``/``played``…) receipt for ``message_ids`` in ``chat``.

    ``sender`` is whoever sent the messages; it is only sent for groups and broadcasts.
    """
    if not message_ids:
        raise ValueError("no message ids to mark")
    if receipt_type == READ and chat.is_newsletter:
        receipt_type = READ_SELF  # channels take no read receipts (whatsmeow)
    if receipt_type not in _READ_TYPES:
        raise ValueError(f"not a read or played receipt type: {receipt_type!r}")
    attrs: dict[str, str | JID] = {
        "id": message_ids[0],
        "type": receipt_type,
        "to": chat,
        "t": str(int(timestamp.timestamp())),
    }
    if sender is not None and chat.server not in (
        DEFAULT_USER_SERVER,
        HIDDEN_USER_SERVER,
        MESSENGER_SERVER,
    ):
        attrs["participant"] = sender.to_non_ad()
    content = None
    if len(message_ids) > 1:
        items = [Node("item", {"id": message_id}) for message_id in message_ids[1:]]
        content = [Node("list", {}, items)]
    return Node("receipt", attrs, content)
