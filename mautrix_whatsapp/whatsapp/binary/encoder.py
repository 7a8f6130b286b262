"""Node → WhatsApp binary XML.

Strings are written, in order of preference, as a single-byte token, a double-byte token, a
packed nibble string (``0-9 - .``), a packed hex string (``0-9 A-F``) or raw UTF-8. This is the
order Baileys' ``encodeBinaryNode`` and whatsmeow use, so the bytes match theirs exactly.
Where the peers differ: a ``str`` is never sniffed for ``@`` and written as a JID (Baileys does
that; here only ``JID`` values are JIDs), an empty attribute value is written (as Baileys does;
whatsmeow drops it), and msgr/interop JIDs use FB_JID/INTEROP_JID (as whatsmeow does; Baileys
cannot write them).
"""

from __future__ import annotations

import re
from typing import Final

from .errors import BinaryEncodeError
from .jid import (
    AD_SERVERS,
    DEFAULT_USER_SERVER,
    DOMAIN_SERVERS,
    HOSTED_LID_SERVER,
    HOSTED_SERVER,
    INTEROP_SERVER,
    JID,
    MESSENGER_SERVER,
)
from .node import MAX_DEPTH, Node
from .token import (
    AD_JID,
    BINARY_8,
    BINARY_20,
    BINARY_32,
    FB_JID,
    HEX_8,
    INTEROP_JID,
    JID_PAIR,
    LIST_8,
    LIST_16,
    LIST_EMPTY,
    NIBBLE_8,
    PACKED_MAX,
    TOKEN_BYTES,
)

_NIBBLE_RE: Final = re.compile(rf"[0-9.\-]{{1,{PACKED_MAX}}}")
_HEX_RE: Final = re.compile(rf"[0-9A-F]{{1,{PACKED_MAX}}}")
_EMPTY_STRING: Final = bytes((BINARY_8, 0))
_HOSTED_SERVERS: Final = frozenset({HOSTED_SERVER, HOSTED_LID_SERVER})


def marshal(node: Node) -> bytes:
    """Encode ``node`` as a frame payload: a flags byte (0: uncompressed), then the node."""
    out = bytearray(b"\x00")
    try:
        _write_node(out, node, 0)
    except BinaryEncodeError:
        raise
    except (ValueError, OverflowError) as e:  # a str with lone surrogates, a number too big
        raise BinaryEncodeError(f"cannot encode node: {e}") from e
    return bytes(out)


def _write_node(out: bytearray, node: Node, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BinaryEncodeError(f"node tree deeper than {MAX_DEPTH} levels")
    token_bytes = TOKEN_BYTES.get
    attrs = node.attrs
    content = node.content
    tag = node.tag
    if type(tag) is not str or not tag:
        raise BinaryEncodeError(f"node tag must be a non-empty string, not {tag!r}")
    size = 2 * len(attrs) + (1 if content is None else 2)
    if size < 256:
        out += bytes((LIST_8, size))
    else:
        _write_list_start(out, size)
    encoded = token_bytes(tag)
    if encoded is not None:
        out += encoded
    else:
        _write_string(out, tag)
    for key, value in attrs.items():
        encoded = token_bytes(key)
        if encoded is not None:
            out += encoded
        elif type(key) is str:
            _write_string(out, key)
        else:
            raise BinaryEncodeError(f"<{tag}> attribute name {key!r} is not a string")
        if type(value) is str:
            encoded = token_bytes(value)
            if encoded is not None:
                out += encoded
            else:
                _write_string(out, value)
        elif isinstance(value, JID):
            _write_jid(out, value)
        else:
            raise BinaryEncodeError(
                f"<{tag}> attribute {key!r} is a {type(value).__name__}, not str or JID"
            )
    if content is None:
        return
    if type(content) is list:
        count = len(content)
        if count == 0:
            out.append(LIST_EMPTY)
        elif count < 256:
            out += bytes((LIST_8, count))
        else:
            _write_list_start(out, count)
        depth += 1
        for child in content:
            if type(child) is not Node:
                raise BinaryEncodeError(f"<{tag}> has a child that is not a Node: {child!r:.64}")
            _write_node(out, child, depth)
    elif isinstance(content, bytes | bytearray | memoryview):
        _write_byte_length(out, len(content))
        out += content
    elif type(content) is str:
        encoded = token_bytes(content)
        if encoded is not None:
            out += encoded
        else:
            _write_string(out, content)
    elif isinstance(content, JID):
        _write_jid(out, content)
    else:
        raise BinaryEncodeError(f"<{tag}> content is a {type(content).__name__}")


def _write_list_start(out: bytearray, size: int) -> None:
    if size == 0:
        out.append(LIST_EMPTY)
    elif size < 256:
        out += bytes((LIST_8, size))
    elif size < 0x10000:
        out += bytes((LIST_16, size >> 8, size & 0xFF))
    else:
        raise BinaryEncodeError(f"list of {size} items is too long for LIST_16")


def _write_byte_length(out: bytearray, length: int) -> None:
    if length < 256:
        out += bytes((BINARY_8, length))
    elif length < 1 << 20:
        out += bytes((BINARY_20, length >> 16, (length >> 8) & 0xFF, length & 0xFF))
    elif length < 1 << 32:
        out.append(BINARY_32)
        out += length.to_bytes(4, "big")
    else:
        raise BinaryEncodeError(f"{length} bytes is too long to encode")


def _write_string(out: bytearray, value: str) -> None:
    """Write a string that may be a token; the callers' fast path has already tried tokens."""
    encoded = TOKEN_BYTES.get(value)
    if encoded is not None:
        out += encoded
    elif not value:
        out += _EMPTY_STRING
    elif _NIBBLE_RE.fullmatch(value):
        # As hex digits, nibbles 10 ('-') and 11 ('.') are 'a' and 'b'.
        _write_packed(out, NIBBLE_8, value.replace("-", "a").replace(".", "b"))
    elif _HEX_RE.fullmatch(value):
        _write_packed(out, HEX_8, value)
    else:
        raw = value.encode()
        _write_byte_length(out, len(raw))
        out += raw


def _write_packed(out: bytearray, tag: int, hex_digits: str) -> None:
    length = len(hex_digits)
    if length & 1:
        out += bytes((tag, 0x80 | ((length + 1) >> 1)))
        out += bytes.fromhex(hex_digits + "f")
    else:
        out += bytes((tag, length >> 1))
        out += bytes.fromhex(hex_digits)


def _write_jid(out: bytearray, jid: JID) -> None:
    server = jid.server
    user = jid.user
    device = jid.device
    if jid.integrator and server != INTEROP_SERVER:
        raise BinaryEncodeError(f"only interop JIDs have an integrator: {jid}")
    if jid.raw_agent and (server != DEFAULT_USER_SERVER or jid.raw_agent in DOMAIN_SERVERS):
        # On the wire the agent shares a byte with the domain: 1, 128 and 129 would read back
        # as lid/hosted/hosted.lid, and other servers have no such byte at all.
        raise BinaryEncodeError(f"the wire cannot carry agent {jid.raw_agent} on {server}: {jid}")
    if server in AD_SERVERS and (device or jid.ad or jid.raw_agent or server in _HOSTED_SERVERS):
        if device > 0xFF:
            raise BinaryEncodeError(f"device {device} does not fit an AD_JID: {jid}")
        out += bytes((AD_JID, jid.actual_agent, device))
        _write_string(out, user)
    elif server == MESSENGER_SERVER:
        out.append(FB_JID)
        _write_string(out, user)
        out += device.to_bytes(2, "big")
        _write_string(out, server)
    elif server == INTEROP_SERVER:
        out.append(INTEROP_JID)
        _write_string(out, user)
        out += device.to_bytes(2, "big")
        out += jid.integrator.to_bytes(2, "big")
        _write_string(out, server)
    else:
        if device:
            raise BinaryEncodeError(f"the wire cannot carry a device on {server}: {jid}")
        if not server:
            raise BinaryEncodeError("cannot encode a JID without a server")
        out.append(JID_PAIR)
        if user:
            _write_string(out, user)
        else:
            out.append(LIST_EMPTY)
        _write_string(out, server)
