"""WhatsApp binary XML → Node.

The decoder faces the network, so it is defensive: every malformed input raises
BinaryDecodeError. Reads past the end surface internally as IndexError (indexing ``bytes`` checks
bounds for free) and are translated once, at the top; slices, which do not check, are checked by
hand. Nesting depth and decompressed size are bounded.
"""

from __future__ import annotations

import re
import zlib
from typing import Final, cast

from .errors import BinaryDecodeError
from .jid import (
    DEFAULT_USER_SERVER,
    DOMAIN_SERVERS,
    INTEROP_SERVER,
    JID,
    MESSENGER_SERVER,
    make_jid,
)
from .node import AttrValue, Content, Node
from .token import (
    AD_JID,
    BINARY_8,
    BINARY_20,
    BINARY_32,
    DICTIONARY_0,
    DICTIONARY_3,
    DOUBLE_BYTE_TOKENS,
    FB_JID,
    HEX_8,
    INTEROP_JID,
    JID_PAIR,
    LIST_8,
    LIST_16,
    LIST_EMPTY,
    NIBBLE_8,
    SINGLE_BYTE_TOKENS,
)

MAX_DEPTH: Final = 128
"""Deeper trees are refused (real stanzas are under ten levels deep)."""
MAX_DECOMPRESSED_SIZE: Final = 32 << 20
"""A compressed payload may inflate to at most this many bytes (guards against zlib bombs)."""

FLAG_COMPRESSED: Final = 0x02

_SINGLE_COUNT: Final = len(SINGLE_BYTE_TOKENS)
_TOKEN_BY_BYTE: Final[tuple[str | None, ...]] = (
    (None,) + SINGLE_BYTE_TOKENS[1:] + (None,) * (256 - _SINGLE_COUNT)
)
"""Tag byte → its single-byte token, or None (LIST_EMPTY and every other tag)."""
_BAD_NIBBLE_RE: Final = re.compile("[c-f]")


def unmarshal(
    data: bytes | bytearray | memoryview, *, max_decompressed_size: int = MAX_DECOMPRESSED_SIZE
) -> Node:
    """Decode a frame payload: a flags byte (bit 0x02: zlib-compressed), then one node."""
    if type(data) is not bytes:
        data = bytes(data)
    if not data:
        raise BinaryDecodeError("empty payload")
    if data[0] & FLAG_COMPRESSED:
        return decode_node(decompress(data[1:], max_decompressed_size))
    return _decode(data, 1)


def decompress(data: bytes, max_size: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Inflate a zlib stream, refusing output over ``max_size`` bytes and trailing garbage."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_size + 1)
    except zlib.error as e:
        raise BinaryDecodeError(f"bad zlib data: {e}") from None
    if len(out) > max_size:
        raise BinaryDecodeError(f"compressed payload inflates to over {max_size} bytes")
    if not inflater.eof:
        raise BinaryDecodeError("truncated zlib data")
    if inflater.unused_data:
        raise BinaryDecodeError("garbage after zlib data")
    return out


def decode_node(data: bytes | bytearray | memoryview) -> Node:
    """Decode one node with no flags byte in front (the decompressed form)."""
    if type(data) is not bytes:
        data = bytes(data)
    return _decode(data, 0)


def _decode(buf: bytes, pos: int) -> Node:
    try:
        node, pos = _read_node(buf, pos, 0)
    except IndexError:
        raise BinaryDecodeError("unexpected end of data") from None
    except UnicodeDecodeError:
        raise BinaryDecodeError("string is not valid UTF-8") from None
    if pos != len(buf):
        raise BinaryDecodeError(f"{len(buf) - pos} leftover bytes after the node")
    return node


def _read_node(buf: bytes, pos: int, depth: int) -> tuple[Node, int]:
    # Hot path: single-byte tokens come straight from _TOKEN_BY_BYTE (None: not a token).
    if depth > MAX_DEPTH:
        raise BinaryDecodeError(f"node tree deeper than {MAX_DEPTH} levels")
    tokens = _TOKEN_BY_BYTE
    tag_byte = buf[pos]
    if tag_byte == LIST_8:
        size = buf[pos + 1]
        pos += 2
    elif tag_byte == LIST_16:
        size = (buf[pos + 1] << 8) | buf[pos + 2]
        pos += 3
    else:
        raise BinaryDecodeError(f"expected a node (a list), got tag {tag_byte} at {pos}")
    if size == 0:
        raise BinaryDecodeError(f"empty node at {pos}")

    tag = tokens[buf[pos]]
    pos += 1
    if tag is None:
        value, pos = _read_string(buf, pos, buf[pos - 1])
        if not isinstance(value, str) or not value:
            raise BinaryDecodeError(f"node tag is not a non-empty string: {value!r:.64}")
        tag = value

    attrs: dict[str, AttrValue] = {}
    for _ in range((size - 1) >> 1):
        key = tokens[buf[pos]]
        pos += 1
        if key is None:
            name, pos = _read_string(buf, pos, buf[pos - 1])
            if not isinstance(name, str):
                raise BinaryDecodeError(f"<{tag}> has an attribute name that is a JID: {name}")
            key = name
        attr = tokens[buf[pos]]
        pos += 1
        if attr is None:
            attrs[key], pos = _read_string(buf, pos, buf[pos - 1])
        else:
            attrs[key] = attr

    if size & 1:
        return Node(tag, attrs), pos

    tag_byte = buf[pos]
    pos += 1
    content: Content
    if tag_byte == BINARY_8:
        end = pos + 1 + buf[pos]
        if end > len(buf):
            raise BinaryDecodeError(f"content at {pos} runs past the end of the data")
        content = buf[pos + 1 : end]
        pos = end
    elif tag_byte in (LIST_8, LIST_16, LIST_EMPTY):
        if tag_byte == LIST_8:
            count = buf[pos]
            pos += 1
        elif tag_byte == LIST_16:
            count = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
        else:
            count = 0
        if count * 3 > len(buf) - pos:
            raise BinaryDecodeError(f"<{tag}> claims {count} children, more than the data holds")
        children: list[Node] = []
        depth += 1
        for _ in range(count):
            child, pos = _read_node(buf, pos, depth)
            children.append(child)
        content = children
    elif tag_byte == BINARY_20:
        end = pos + 3 + (((buf[pos] & 0x0F) << 16) | (buf[pos + 1] << 8) | buf[pos + 2])
        content = _slice(buf, pos + 3, end)
        pos = end
    elif tag_byte == BINARY_32:
        end = pos + 4 + int.from_bytes(_slice(buf, pos, pos + 4), "big")
        content = _slice(buf, pos + 4, end)
        pos = end
    else:
        content = tokens[tag_byte]
        if content is None:
            content, pos = _read_string(buf, pos, tag_byte)
    return Node(tag, attrs, content), pos


def _slice(buf: bytes, start: int, end: int) -> bytes:
    if end > len(buf):
        raise BinaryDecodeError(f"length {end - start} at {start} runs past the end of the data")
    return buf[start:end]


def _read_string(buf: bytes, pos: int, tag: int, allow_jid: bool = True) -> tuple[AttrValue, int]:
    """Read a string-valued item whose tag byte (at ``pos - 1``) is ``tag``."""
    # Ordered by frequency in real stanzas: packed ids/numbers, device JIDs, raw strings.
    if tag in (NIBBLE_8, HEX_8):
        return _read_packed(buf, pos, tag)
    if 0 < tag < _SINGLE_COUNT:
        return SINGLE_BYTE_TOKENS[tag], pos
    if allow_jid and tag == AD_JID:
        domain = buf[pos]
        device = buf[pos + 1]
        if buf[pos + 2] == NIBBLE_8:
            user, pos = _read_packed(buf, pos + 3, NIBBLE_8)
        else:
            user, pos = _read_jid_part(buf, pos + 2)
        server = DOMAIN_SERVERS.get(domain)
        if server is None:  # any other domain byte is a raw agent on s.whatsapp.net
            return make_jid(user, DEFAULT_USER_SERVER, device, domain, 0, True), pos
        return make_jid(user, server, device, 0, 0, True), pos
    if tag == BINARY_8:
        end = pos + 1 + buf[pos]
        return _slice(buf, pos + 1, end).decode(), end
    if DICTIONARY_0 <= tag <= DICTIONARY_3:
        return DOUBLE_BYTE_TOKENS[tag - DICTIONARY_0][buf[pos]], pos + 1
    if tag == LIST_EMPTY:
        return "", pos
    if tag == BINARY_20:
        end = pos + 3 + (((buf[pos] & 0x0F) << 16) | (buf[pos + 1] << 8) | buf[pos + 2])
        return _slice(buf, pos + 3, end).decode(), end
    if tag == BINARY_32:
        end = pos + 4 + int.from_bytes(_slice(buf, pos, pos + 4), "big")
        return _slice(buf, pos + 4, end).decode(), end
    if not allow_jid:
        if tag in (JID_PAIR, AD_JID, FB_JID, INTEROP_JID):
            raise BinaryDecodeError(f"a JID inside a JID at {pos - 1}")
    elif tag == JID_PAIR:
        user, pos = _read_jid_part(buf, pos)
        server, pos = _read_jid_part(buf, pos)
        if not server:
            raise BinaryDecodeError(f"JID pair without a server at {pos}")
        return make_jid(user, server, 0, 0, 0, False), pos
    elif tag == FB_JID:
        user, pos = _read_jid_part(buf, pos)
        device = (buf[pos] << 8) | buf[pos + 1]
        server, pos = _read_jid_part(buf, pos + 2)
        if server != MESSENGER_SERVER:
            raise BinaryDecodeError(f"FB_JID with server {server!r:.64}, expected 'msgr'")
        return JID(user, server, device), pos
    elif tag == INTEROP_JID:
        user, pos = _read_jid_part(buf, pos)
        device = (buf[pos] << 8) | buf[pos + 1]
        integrator = (buf[pos + 2] << 8) | buf[pos + 3]
        server, pos = _read_jid_part(buf, pos + 4)
        if server != INTEROP_SERVER:
            raise BinaryDecodeError(f"INTEROP_JID with server {server!r:.64}, expected 'interop'")
        return JID(user, server, device, 0, integrator), pos
    raise BinaryDecodeError(f"invalid string tag {tag} at {pos - 1}")


def _read_jid_part(buf: bytes, pos: int) -> tuple[str, int]:
    value, pos = _read_string(buf, pos + 1, buf[pos], False)
    return cast(str, value), pos  # allow_jid=False: a JID raises instead


def _read_packed(buf: bytes, pos: int, tag: int) -> tuple[str, int]:
    start = buf[pos]
    end = pos + 1 + (start & 0x7F)
    if end > len(buf):
        raise BinaryDecodeError(f"packed string at {pos} runs past the end of the data")
    digits = buf[pos + 1 : end].hex()
    if start & 0x80:
        if digits[-1:] != "f":
            raise BinaryDecodeError(f"bad padding in packed string at {pos}")
        digits = digits[:-1]
    if tag == HEX_8:
        return digits.upper(), end
    if _BAD_NIBBLE_RE.search(digits):
        raise BinaryDecodeError(f"invalid nibble in packed string at {pos}")
    # Nibbles 10 and 11 are '-' and '.', which hex() wrote as 'a' and 'b'.
    return digits.replace("a", "-").replace("b", "."), end
