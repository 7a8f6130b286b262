"""What kind of thing a received WhatsApp message is, so the portal can route it (the Go
bridge's ``getMessageType`` in ``pkg/connector/wamsgtype.go``).

Content kinds go to :func:`~.to_matrix.convert_to_matrix`; ``reaction`` to
:func:`~.to_matrix.convert_reaction`; ``revoke`` to :func:`~.to_matrix.convert_revoke`;
``ignore`` is housekeeping that carries nothing to show (a bare sender-key distribution, app
state key shares, history-sync notifications, other protocol messages).
"""

from __future__ import annotations

from typing import Literal

from google.protobuf import unknown_fields

from ..whatsapp.message_builders import unwrap
from ..whatsapp.proto import wa_e2e_pb2

MessageKind = Literal[
    "ignore",
    "text",
    "media",
    "location",
    "live_location",
    "contact",
    "contact_array",
    "group_invite",
    "poll_create",
    "poll_vote",
    "reaction",
    "revoke",
    "edit",
    "timer",
    "unknown",
]

_CONTENT: tuple[tuple[str, MessageKind], ...] = (
    ("conversation", "text"),
    ("extendedTextMessage", "text"),
    ("imageMessage", "media"),
    ("stickerMessage", "media"),
    ("videoMessage", "media"),
    ("ptvMessage", "media"),
    ("audioMessage", "media"),
    ("documentMessage", "media"),
    ("contactMessage", "contact"),
    ("contactsArrayMessage", "contact_array"),
    ("locationMessage", "location"),
    ("liveLocationMessage", "live_location"),
    ("groupInviteMessage", "group_invite"),
    ("reactionMessage", "reaction"),
    ("pollCreationMessage", "poll_create"),
    ("pollCreationMessageV2", "poll_create"),
    ("pollCreationMessageV3", "poll_create"),
    ("pollCreationMessageV5", "poll_create"),
    ("pollCreationMessageV6", "poll_create"),
    ("pollUpdateMessage", "poll_vote"),
)
_Protocol = wa_e2e_pb2.ProtocolMessage


def message_kind(message: wa_e2e_pb2.Message) -> MessageKind:
    """The kind of ``message`` (wrappers such as ephemeral or view-once taken off)."""
    message = unwrap(message)
    if message.HasField("editedMessage"):
        return message_kind(message.editedMessage.message)
    for field, kind in _CONTENT:
        if message.HasField(field):
            return kind
    if message.HasField("protocolMessage"):
        protocol = message.protocolMessage
        if protocol.type == _Protocol.REVOKE:
            return "revoke" if protocol.HasField("key") else "ignore"
        if protocol.type == _Protocol.MESSAGE_EDIT:
            return "edit"
        if protocol.type == _Protocol.EPHEMERAL_SETTING:
            return "timer"
        return "ignore"
    # A field our schema does not know is content of a kind we cannot show; with none, what
    # is left (sender keys, message secrets) is housekeeping.
    if len(unknown_fields.UnknownFieldSet(message)) > 0:
        return "unknown"
    return "ignore" if message.ListFields() else "unknown"
