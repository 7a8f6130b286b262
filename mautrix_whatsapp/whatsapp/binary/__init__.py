"""WhatsApp's binary XML: nodes, JIDs, token dictionaries, and the codec.

``marshal(node)`` gives a frame payload (flags byte 0, then the node), byte-identical to Baileys'
``encodeBinaryNode`` and whatsmeow's ``Marshal``; ``unmarshal(payload)`` reads it back, also
when zlib-compressed, and raises BinaryDecodeError for anything malformed.

What comes back: attribute values are ``str`` or ``JID``; content is ``None``, a list of nodes,
``bytes`` (anything written raw, including a ``str`` content that was neither a token nor a
packed string, as in Baileys and whatsmeow), a ``str`` (token or packed) or a ``JID``.
"""

from __future__ import annotations

from .decoder import MAX_DECOMPRESSED_SIZE, decode_node, decompress, unmarshal
from .encoder import marshal
from .errors import (
    AttrError,
    BinaryDecodeError,
    BinaryEncodeError,
    BinaryError,
    ContentTypeError,
    JIDParseError,
    MissingChildError,
    NodeError,
)
from .jid import (
    BOT_SERVER,
    BROADCAST_SERVER,
    DEFAULT_USER_SERVER,
    EMPTY_JID,
    GROUP_SERVER,
    HIDDEN_USER_SERVER,
    HOSTED_LID_SERVER,
    HOSTED_SERVER,
    INTEROP_SERVER,
    JID,
    LEGACY_USER_SERVER,
    LID_SERVER,
    MESSENGER_SERVER,
    NEWSLETTER_SERVER,
    PSA_JID,
    SERVER_JID,
    STATUS_BROADCAST_JID,
)
from .node import Attrs, AttrValue, Content, Node

__all__ = [
    "BOT_SERVER",
    "BROADCAST_SERVER",
    "DEFAULT_USER_SERVER",
    "EMPTY_JID",
    "GROUP_SERVER",
    "HIDDEN_USER_SERVER",
    "HOSTED_LID_SERVER",
    "HOSTED_SERVER",
    "INTEROP_SERVER",
    "JID",
    "LEGACY_USER_SERVER",
    "LID_SERVER",
    "MAX_DECOMPRESSED_SIZE",
    "MESSENGER_SERVER",
    "NEWSLETTER_SERVER",
    "PSA_JID",
    "SERVER_JID",
    "STATUS_BROADCAST_JID",
    "AttrError",
    "AttrValue",
    "Attrs",
    "BinaryDecodeError",
    "BinaryEncodeError",
    "BinaryError",
    "Content",
    "ContentTypeError",
    "JIDParseError",
    "MissingChildError",
    "Node",
    "NodeError",
    "decode_node",
    "decompress",
    "marshal",
    "unmarshal",
]
