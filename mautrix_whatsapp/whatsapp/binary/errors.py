"""Errors of the binary node codec.

Everything the codec raises derives from BinaryError, so a connection can drop one bad stanza
with a single ``except BinaryError`` and carry on.
"""

from __future__ import annotations


class BinaryError(Exception):
    """Base class of every error raised by ``mautrix_whatsapp.whatsapp.binary``."""


class BinaryDecodeError(BinaryError, ValueError):
    """The bytes are not a well-formed binary node (truncated, bad tag, bad token, too big…)."""


class BinaryEncodeError(BinaryError, ValueError):
    """The node cannot be written on the wire (bad value type, a JID the wire cannot carry…)."""


class JIDParseError(BinaryError, ValueError):
    """A string is not a JID."""


class NodeError(BinaryError, ValueError):
    """A node does not have the shape the caller requires."""


class AttrError(NodeError):
    """A required attribute is missing, or an attribute has the wrong type or format."""


class MissingChildError(NodeError):
    """A required child element is missing."""


class ContentTypeError(NodeError):
    """A node's content is not of the type the caller requires."""
