"""WhatsApp binary XML → Node.

The decoder faces the network, so it is defensive: every malformed input raises
BinaryDecodeError. Reads past the end surface internally as IndexError (indexing ``bytes`` checks
bounds for free) and are translated once, at the top; slices, which do not check, are checked by
hand. Nesting depth and decompressed size are bounded.

It is also the hottest code of a connection, so it avoids per-item Python work: single-byte
tokens come straight from a 256-entry table, every other string form is read by one function
picked from another 256-entry table (one call, no chain of comparisons), packed strings are
expanded by ``bytes.hex()`` in C, and nodes and JIDs are built without going through their
argument-checking constructors.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Final

from .errors import BinaryDecodeError
from .jid import (
    INTEROP_SERVER,
    JID,
    MESSENGER_SERVER,
    make_jid,
)
from .node import MAX_DEPTH, AttrValue, Content, Node
from .token import (
    AD_JID,
    BINARY_8,
    BINARY_20,
    BINARY_32,
    DICTIONARY_0,
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

MAX_DECOMPRESSED_SIZE: Final = 32 << 20
"""A compressed payload may inflate to at most this many bytes (guards against zlib bombs)."""

FLAG_COMPRESSED: Final = 0x02
AD_JID_CACHE_SIZE: Final = 4096
"""Distinct device JIDs (by their bytes) whose decoded JID objects are kept for reuse."""

_new_object = object.__new__

_Reader = Callable[[bytes, int], tuple[AttrValue, int]]
"""Reads the item whose tag byte is at ``pos - 1``; returns its value and the next position."""
_TextReader = Callable[[bytes, int], tuple[str, int]]
"""A _Reader of a form that is never a JID."""


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
        value, pos = _READERS[buf[pos - 1]](buf, pos)
        if type(value) is not str or not value:
            raise BinaryDecodeError(f"node tag is not a non-empty string: {value!r:.64}")
        tag = value

    attrs: dict[str, AttrValue] = {}
    for _ in range((size - 1) >> 1):
        key = tokens[buf[pos]]
        pos += 1
        if key is None:
            name, pos = _READERS[buf[pos - 1]](buf, pos)
            if type(name) is not str:
                raise BinaryDecodeError(f"<{tag}> has an attribute name that is a JID: {name}")
            key = name
        token = tokens[buf[pos]]
        pos += 1
        if token is None:
            attrs[key], pos = _READERS[buf[pos - 1]](buf, pos)
        else:
            attrs[key] = token

    # Node(tag, attrs, content) without the constructor's call and argument checks.
    node: Node = _new_object(Node)
    node.tag = tag
    node.attrs = attrs
    if size & 1:
        node.content = None
        return node, pos

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
        append = children.append
        depth += 1
        for _ in range(count):
            child, pos = _read_node(buf, pos, depth)
            append(child)
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
            content, pos = _READERS[tag_byte](buf, pos)
    node.content = content
    return node, pos


def _slice(buf: bytes, start: int, end: int) -> bytes:
    if end > len(buf):
        raise BinaryDecodeError(f"length {end - start} at {start} runs past the end of the data")
    return buf[start:end]


# --- string forms ---------------------------------------------------------------------------
# Each reader takes the position after its tag byte. Text forms of JID parts are read with
# _PART_READERS, which refuse a JID inside a JID.

_NIBBLE_CHARS: Final = str.maketrans("abcdef", "-.\0\0\0\0")
"""bytes.hex() digits → nibble characters: 10 is '-', 11 is '.', 12..15 are invalid (NUL)."""


def _packed_digits(buf: bytes, pos: int) -> tuple[str, int]:
    """The hex digits of a packed string (its odd-length padding nibble removed)."""
    start = buf[pos]
    end = pos + 1 + (start & 0x7F)
    if end > len(buf):
        raise BinaryDecodeError(f"packed string at {pos} runs past the end of the data")
    digits = buf[pos + 1 : end].hex()
    if start & 0x80:
        if digits[-1:] != "f":
            raise BinaryDecodeError(f"bad padding in packed string at {pos}")
        digits = digits[:-1]
    return digits, end


def _read_nibble(buf: bytes, pos: int) -> tuple[str, int]:
    digits, end = _packed_digits(buf, pos)
    if digits.isdigit():  # plain numbers (phone numbers, timestamps) need no mapping
        return digits, end
    text = digits.translate(_NIBBLE_CHARS)
    if "\0" in text:
        raise BinaryDecodeError(f"invalid nibble in packed string at {pos}")
    return text, end


def _read_hex(buf: bytes, pos: int) -> tuple[str, int]:
    digits, end = _packed_digits(buf, pos)
    return digits.upper(), end


def _read_binary_8(buf: bytes, pos: int) -> tuple[str, int]:
    end = pos + 1 + buf[pos]
    return _slice(buf, pos + 1, end).decode(), end


def _read_binary_20(buf: bytes, pos: int) -> tuple[str, int]:
    end = pos + 3 + (((buf[pos] & 0x0F) << 16) | (buf[pos + 1] << 8) | buf[pos + 2])
    return _slice(buf, pos + 3, end).decode(), end


def _read_binary_32(buf: bytes, pos: int) -> tuple[str, int]:
    end = pos + 4 + int.from_bytes(_slice(buf, pos, pos + 4), "big")
    return _slice(buf, pos + 4, end).decode(), end


def _read_empty(buf: bytes, pos: int) -> tuple[str, int]:
    return "", pos


def _token_reader(token: str) -> _TextReader:
    def read(buf: bytes, pos: int) -> tuple[str, int]:
        return token, pos

    return read


def _dictionary_reader(tokens: tuple[str, ...]) -> _TextReader:
    def read(buf: bytes, pos: int) -> tuple[str, int]:
        return tokens[buf[pos]], pos + 1

    return read


def _bad_tag(buf: bytes, pos: int) -> tuple[str, int]:
    raise BinaryDecodeError(f"invalid string tag {buf[pos - 1]} at {pos - 1}")


def _jid_in_jid(buf: bytes, pos: int) -> tuple[str, int]:
    raise BinaryDecodeError(f"a JID inside a JID at {pos - 1}")


def _read_part(buf: bytes, pos: int) -> tuple[str, int]:
    """A JID's user or server: any string form but a JID."""
    return _PART_READERS[buf[pos]](buf, pos + 1)


def _read_ad_jid(buf: bytes, pos: int) -> tuple[AttrValue, int]:
    if buf[pos + 2] == NIBBLE_8:  # the usual case: a phone number or LID, looked up whole
        end = pos + 4 + (buf[pos + 3] & 0x7F)
        if end > len(buf):
            raise BinaryDecodeError(f"packed string at {pos + 3} runs past the end of the data")
        return _packed_ad_jid(buf[pos:end]), end
    user, end = _read_part(buf, pos + 2)
    return JID.from_ad(user, buf[pos], buf[pos + 1]), end


@functools.lru_cache(maxsize=AD_JID_CACHE_SIZE)
def _packed_ad_jid(data: bytes) -> JID:
    """The AD_JID whose bytes after the tag are ``data`` (domain, device, packed user).

    A connection sees the same few hundred devices over and over (every receipt, message and
    group fan-out names them), and a JID is immutable and a pure function of these bytes, so
    sharing one object per distinct encoding is safe. Errors are raised, never cached.
    """
    user, _ = _read_nibble(data, 3)
    return JID.from_ad(user, data[0], data[1])


def _read_jid_pair(buf: bytes, pos: int) -> tuple[AttrValue, int]:
    user, pos = _read_part(buf, pos)
    server, pos = _read_part(buf, pos)
    if not server:
        raise BinaryDecodeError(f"JID pair without a server at {pos}")
    return make_jid(user, server, 0, 0, 0, False), pos


def _read_fb_jid(buf: bytes, pos: int) -> tuple[AttrValue, int]:
    user, pos = _read_part(buf, pos)
    device = (buf[pos] << 8) | buf[pos + 1]
    server, pos = _read_part(buf, pos + 2)
    if server != MESSENGER_SERVER:
        raise BinaryDecodeError(f"FB_JID with server {server!r:.64}, expected 'msgr'")
    return make_jid(user, server, device, 0, 0, False), pos


def _read_interop_jid(buf: bytes, pos: int) -> tuple[AttrValue, int]:
    user, pos = _read_part(buf, pos)
    device = (buf[pos] << 8) | buf[pos + 1]
    integrator = (buf[pos + 2] << 8) | buf[pos + 3]
    server, pos = _read_part(buf, pos + 4)
    if server != INTEROP_SERVER:
        raise BinaryDecodeError(f"INTEROP_JID with server {server!r:.64}, expected 'interop'")
    return make_jid(user, server, device, 0, integrator, False), pos


def _text_readers() -> list[_TextReader]:
    """Tag byte → reader for every form that is not a JID (JID tags: _jid_in_jid)."""
    readers: list[_TextReader] = [_bad_tag] * 256
    for index, token in enumerate(SINGLE_BYTE_TOKENS[1:], start=1):
        readers[index] = _token_reader(token)
    for dictionary, tokens in enumerate(DOUBLE_BYTE_TOKENS):
        readers[DICTIONARY_0 + dictionary] = _dictionary_reader(tokens)
    readers[LIST_EMPTY] = _read_empty
    readers[BINARY_8] = _read_binary_8
    readers[BINARY_20] = _read_binary_20
    readers[BINARY_32] = _read_binary_32
    readers[NIBBLE_8] = _read_nibble
    readers[HEX_8] = _read_hex
    for tag in (JID_PAIR, AD_JID, FB_JID, INTEROP_JID):
        readers[tag] = _jid_in_jid
    return readers


_PART_READERS: Final[tuple[_TextReader, ...]] = tuple(_text_readers())
"""Tag byte → reader of a JID part (any string form, no JID)."""


def _all_readers() -> tuple[_Reader, ...]:
    readers: list[_Reader] = [*_text_readers()]
    readers[JID_PAIR] = _read_jid_pair
    readers[AD_JID] = _read_ad_jid
    readers[FB_JID] = _read_fb_jid
    readers[INTEROP_JID] = _read_interop_jid
    return tuple(readers)


_READERS: Final[tuple[_Reader, ...]] = _all_readers()
"""Tag byte → reader of an attribute value, a tag or a string/JID content."""

_TOKEN_BY_BYTE: Final[tuple[str | None, ...]] = (
    (None,) + SINGLE_BYTE_TOKENS[1:] + (None,) * (256 - len(SINGLE_BYTE_TOKENS))
)
"""Tag byte → its single-byte token, or None (LIST_EMPTY and every other tag): the hot path."""
