"""What a ``<message>`` stanza says about its message before decryption (whatsmeow's
``parseMessageInfo`` and ``types.MessageInfo``).

The routing (chat, sender, from-me) comes from :mod:`.message_source`; on top of that the
stanza names the sender's other identity, as WhatsApp moves from phone numbers to LIDs: in a
DM ``sender_lid`` (sender is a phone number) or ``sender_pn`` (sender is a LID); in a group
``participant_pn``/``participant_lid`` by its ``addressing_mode``; for our own messages
``peer_recipient_pn``/``peer_recipient_lid`` give the chat's other form. These pairs are how a
linked device learns the LID ↔ phone-number mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import DecodeError

from .binary import BinaryError
from .binary.jid import BROADCAST_SERVER, JID
from .binary.node import Node
from .message_source import parse_message_source
from .proto import wa_vname_cert_pb2 as vname_pb


class MessageInfoError(ValueError):
    """A ``<message>`` whose routing attributes are missing or malformed."""


@dataclass(frozen=True)
class MessageInfo:
    """Metadata of one received message. ``sender`` is a device JID (``123:4@…``)."""

    chat: JID
    sender: JID
    id: str
    timestamp: datetime
    is_from_me: bool
    is_group: bool
    sender_alt: JID | None = None
    """The sender's other identity (its LID for a phone-number sender, or the reverse)."""
    recipient_alt: JID | None = None
    """For our own DMs: the chat's other identity."""
    addressing_mode: str = ""
    """``pn`` or ``lid`` in groups."""
    push_name: str = ""
    verified_name: str = ""
    """A business sender's verified name (from ``<verified_name>``; empty for the rest)."""
    category: str = ""
    """``peer`` for messages between our own devices."""
    type: str = ""
    """``text``, ``media``, ``reaction``, ``poll``…; ``peer_msg`` for peer messages."""
    edit: str = ""
    """The edit attribute: ``1`` edit, ``7`` revoke by sender, ``8`` revoke by admin…"""
    offline: bool = False
    """Delivered from the server's offline queue."""
    broadcast_list_owner: JID | None = None
    device_sent_destination: JID | None = None
    """Set when the message came as a ``deviceSentMessage`` (we sent it from another device)."""

    @property
    def is_peer(self) -> bool:
        """A peer message: between our own devices (app-state keys, history sync…)."""
        return self.category == "peer" or self.type == "peer_msg"

    @property
    def is_broadcast(self) -> bool:
        return self.chat.server == BROADCAST_SERVER

    @property
    def is_status(self) -> bool:
        return self.chat.is_status_broadcast

    @property
    def key(self) -> tuple[JID, JID, str]:
        """What makes a message unique: chat, sending user (not device), id."""
        return (self.chat, self.sender.to_non_ad(), self.id)

    def describe(self) -> str:
        if self.is_group:
            return f"{self.id} from {self.sender} in {self.chat}"
        return f"{self.id} from {self.sender}"


def parse_verified_name(node: Node | None) -> str:
    """The name in a ``<verified_name>`` certificate (whatsmeow ``parseVerifiedNameContent``);
    ``""`` when absent or unreadable: a bad certificate must not cost the message."""
    if node is None:
        return ""
    content = node.content
    if not isinstance(content, bytes):
        return ""
    try:
        cert = vname_pb.VerifiedNameCertificate.FromString(content)
        details = vname_pb.VerifiedNameCertificate.Details.FromString(cert.details)
    except DecodeError:
        return ""
    return details.verifiedName


def parse_message_info(node: Node, own: JID | None, own_lid: JID | None) -> MessageInfo:
    """Read ``node``'s attributes; raises :class:`MessageInfoError`."""
    try:
        source = parse_message_source(node, own, own_lid, require_participant=True)
        assert source.sender is not None  # required above
        sender_alt: JID | None = None
        recipient_alt: JID | None = None
        broadcast_owner: JID | None = None
        mode = node.attr_str_opt("addressing_mode") or ""
        if source.is_group:
            key = "participant_pn" if mode == "lid" else "participant_lid"
            sender_alt = node.attr_jid_opt(key)
            if source.chat.server == BROADCAST_SERVER:
                broadcast_owner = node.attr_jid_opt("recipient")
        elif source.is_from_me:
            key = "peer_recipient_pn" if source.chat.is_lid else "peer_recipient_lid"
            recipient_alt = node.attr_jid_opt(key)
        elif not source.sender.is_newsletter:
            key = "sender_pn" if source.sender.is_lid else "sender_lid"
            sender_alt = node.attr_jid_opt(key)
        if sender_alt is not None and sender_alt.device == 0:
            # The alternate JID names the user; the device is the sender's.
            sender_alt = JID(sender_alt.user, sender_alt.server, source.sender.device)
        info = MessageInfo(
            chat=source.chat,
            sender=source.sender,
            id=node.attr_str("id"),
            timestamp=node.attr_unix_time("t"),
            is_from_me=source.is_from_me,
            is_group=source.is_group,
            sender_alt=sender_alt,
            recipient_alt=recipient_alt,
            addressing_mode=mode,
            push_name=node.attr_str_opt("notify") or "",
            verified_name=parse_verified_name(node.get_optional_child_by_tag("verified_name")),
            category=node.attr_str_opt("category") or "",
            type=node.attr_str_opt("type") or "",
            edit=node.attr_str_opt("edit") or "",
            offline=node.attrs.get("offline") is not None,
            broadcast_list_owner=broadcast_owner,
        )
    except BinaryError as e:
        raise MessageInfoError(f"bad message stanza: {e}") from e
    if not info.id:
        raise MessageInfoError("message without an id")
    return info
