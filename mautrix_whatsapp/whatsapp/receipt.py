"""Incoming ``<receipt>`` stanzas and the acks the server expects for them (whatsmeow
``receipt.go``).

A receipt names its message (``id``, more in ``<list><item id/>``), its sender and chat (see
:mod:`.message_source`), a ``type`` and the time ``t``. Group receipts for several readers come
grouped: ``<participants key=message-id><user jid t/>…</participants>``, one receipt per user.

Every receipt is acked with ``<ack class="receipt" id to [participant] [recipient] [type]/>``
(plus ``error`` when it could not be parsed), else the server delivers it again.
"""

from __future__ import annotations

from .binary import BinaryError
from .binary.jid import JID, SERVER_JID
from .binary.node import Node
from .events import Receipt
from .message_source import MessageSource, is_own_user, parse_message_source

NACK_PARSING_ERROR = 487
"""whatsmeow's ``NackParsingError``: the ack's ``error`` for a stanza we could not read."""


class ReceiptError(ValueError):
    """A ``<receipt>`` we cannot make sense of (missing id, bad JIDs, no participants)."""


def parse_receipt(node: Node, own: JID | None, own_lid: JID | None) -> list[Receipt]:
    """The receipts in ``node`` (several for a grouped one); raises :class:`ReceiptError`."""
    try:
        source = parse_message_source(node, own, own_lid)
        timestamp = node.attr_unix_time_opt("t")
        receipt_type = node.attr_str_opt("type") or ""
        message_sender = node.attr_jid_opt("recipient") if source.is_group else None
        if source.is_group and source.sender is None:
            return _grouped(node, source, receipt_type, own, own_lid)
        if source.sender is None:
            raise ReceiptError("receipt without a sender")
        ids = [node.attr_str("id")]
        children = node.children
        if len(children) == 1 and children[0].tag == "list":
            ids.extend(
                str(item.attrs["id"])
                for item in children[0].children
                if item.tag == "item" and isinstance(item.attrs.get("id"), str)
            )
    except BinaryError as e:
        raise ReceiptError(f"bad receipt: {e}") from e
    return [
        Receipt(
            chat=source.chat,
            sender=source.sender,
            is_from_me=source.is_from_me,
            is_group=source.is_group,
            message_ids=tuple(ids),
            timestamp=timestamp,
            type=receipt_type,
            message_sender=message_sender,
        )
    ]


def _grouped(
    node: Node, source: MessageSource, receipt_type: str, own: JID | None, own_lid: JID | None
) -> list[Receipt]:
    groups = node.children_by_tag("participants")
    if not groups:
        raise ReceiptError("grouped receipt without <participants>")
    receipts: list[Receipt] = []
    for group in groups:
        message_id = group.attr_str("key")
        for user in group.children_by_tag("user"):
            sender = user.attr_jid("jid")
            receipts.append(
                Receipt(
                    chat=source.chat,
                    sender=sender,
                    is_from_me=is_own_user(sender, own, own_lid),
                    is_group=True,
                    message_ids=(message_id,),
                    timestamp=user.attr_unix_time_opt("t"),
                    type=receipt_type,
                )
            )
    return receipts


def build_ack(node: Node, error: int | None = None) -> Node:
    """The ``<ack>`` for a received stanza (whatsmeow's ``sendAck``, Baileys' ``buildAckStanza``).

    ``class`` is the stanza's tag; ``participant``, ``recipient`` and (except for messages)
    ``type`` are copied from it.
    """
    attrs: dict[str, str | JID] = {
        "class": node.tag,
        "id": str(node.attrs.get("id", "")),
        "to": node.attrs.get("from", SERVER_JID),
    }
    for key in ("participant", "recipient"):
        if key in node.attrs:
            attrs[key] = node.attrs[key]
    if node.tag != "message" and "type" in node.attrs:
        attrs["type"] = node.attrs["type"]
    if error is not None:
        attrs["error"] = str(error)
    return Node("ack", attrs)
