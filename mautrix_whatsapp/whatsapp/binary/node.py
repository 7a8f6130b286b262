"""The binary XML element (Node) and the accessors protocol code uses to read stanzas.

Accessors raise typed errors (AttrError, MissingChildError, ContentTypeError, all NodeError)
so a handler can reject a malformed stanza with one ``except NodeError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeAlias

from .errors import AttrError, ContentTypeError, MissingChildError
from .jid import JID

AttrValue: TypeAlias = str | JID
"""An attribute value: a string, or a JID (written in one of the JID wire forms)."""
Attrs: TypeAlias = dict[str, AttrValue]
Content: TypeAlias = "bytes | str | JID | list[Node] | None"
"""Node content: nothing, raw bytes, a string (token/packed), a JID, or child nodes."""

MAX_BYTES_TO_PRINT_AS_HEX: Final = 128
MAX_DEPTH: Final = 128
"""How deep the codec nests nodes, both ways (real stanzas are under ten levels deep); deeper
trees are refused before they can exhaust Python's recursion limit."""

_INT_RE: Final = re.compile(r"-?[0-9]+")
_TRUE: Final = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "false", "FALSE", "False"})


@dataclass(slots=True, init=False, repr=False)
class Node:
    """One element: ``<tag attr="value">content</tag>``."""

    tag: str
    attrs: Attrs
    content: Content

    def __init__(
        self,
        tag: str,
        attrs: Mapping[str, AttrValue] | None = None,
        content: Content = None,
    ) -> None:
        self.tag = tag
        if attrs is None:
            self.attrs = {}
        elif type(attrs) is dict:
            self.attrs = attrs  # already a dict: no copy
        else:
            self.attrs = dict(attrs)
        self.content = content

    # -- children --------------------------------------------------------------------------

    @property
    def children(self) -> list[Node]:
        """The child nodes; empty when the content is not a list of nodes."""
        content = self.content
        return content if isinstance(content, list) else []

    def children_by_tag(self, tag: str) -> list[Node]:
        return [child for child in self.children if child.tag == tag]

    def iter_children(self, tag: str | None = None) -> Iterator[Node]:
        for child in self.children:
            if tag is None or child.tag == tag:
                yield child

    def get_optional_child_by_tag(self, *tags: str) -> Node | None:
        """Follow ``tags`` down, taking the first matching child at each level; None if absent."""
        node = self
        for tag in tags:
            for child in node.children:
                if child.tag == tag:
                    node = child
                    break
            else:
                return None
        return node

    def get_child_by_tag(self, *tags: str) -> Node:
        """Like get_optional_child_by_tag, but a missing child raises MissingChildError."""
        child = self.get_optional_child_by_tag(*tags)
        if child is None:
            raise MissingChildError(f"<{self.tag}> has no <{'/'.join(tags)}> child")
        return child

    # -- content ---------------------------------------------------------------------------

    def content_bytes(self) -> bytes:
        """The content as bytes (a string content is UTF-8 encoded)."""
        content = self.content
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode()
        raise ContentTypeError(f"<{self.tag}> content is {_kind(content)}, not bytes")

    def content_str(self) -> str:
        """The content as text (raw bytes content must be valid UTF-8)."""
        content = self.content
        if isinstance(content, str):
            return content
        if isinstance(content, bytes):
            try:
                return content.decode()
            except UnicodeDecodeError as e:
                raise ContentTypeError(f"<{self.tag}> content is not UTF-8") from e
        raise ContentTypeError(f"<{self.tag}> content is {_kind(content)}, not text")

    # -- attributes ------------------------------------------------------------------------

    def _require(self, key: str) -> AttrValue:
        try:
            return self.attrs[key]
        except KeyError:
            raise AttrError(f"<{self.tag}> has no {key!r} attribute") from None

    def _wrong(self, key: str, value: AttrValue, expected: str) -> AttrError:
        return AttrError(f"<{self.tag}> attribute {key!r}={value!s:.64} is not {expected}")

    def _to_str(self, key: str, value: AttrValue) -> str:
        if type(value) is str:
            return value
        raise self._wrong(key, value, "a string")

    def _to_int(self, key: str, value: AttrValue) -> int:
        if type(value) is str and _INT_RE.fullmatch(value):
            return int(value)
        raise self._wrong(key, value, "an integer")

    def _to_bool(self, key: str, value: AttrValue) -> bool:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self._wrong(key, value, "a boolean")

    def _to_jid(self, key: str, value: AttrValue) -> JID:
        if isinstance(value, JID):
            return value
        raise self._wrong(key, value, "a JID")

    def attr_str(self, key: str) -> str:
        return self._to_str(key, self._require(key))

    def attr_str_opt(self, key: str) -> str | None:
        value = self.attrs.get(key)
        return None if value is None else self._to_str(key, value)

    def attr_int(self, key: str) -> int:
        return self._to_int(key, self._require(key))

    def attr_int_opt(self, key: str) -> int | None:
        value = self.attrs.get(key)
        return None if value is None else self._to_int(key, value)

    def attr_bool(self, key: str) -> bool:
        """A boolean attribute ("true"/"false", also "1"/"0", "t"/"f" like Go's ParseBool)."""
        return self._to_bool(key, self._require(key))

    def attr_bool_opt(self, key: str) -> bool | None:
        value = self.attrs.get(key)
        return None if value is None else self._to_bool(key, value)

    def attr_jid(self, key: str) -> JID:
        return self._to_jid(key, self._require(key))

    def attr_jid_opt(self, key: str) -> JID | None:
        value = self.attrs.get(key)
        return None if value is None else self._to_jid(key, value)

    def attr_unix_time(self, key: str) -> datetime:
        """A timestamp attribute in Unix seconds, as an aware UTC datetime."""
        return self._to_time(key, self._require(key), 1)

    def attr_unix_time_opt(self, key: str) -> datetime | None:
        value = self.attrs.get(key)
        return None if value is None else self._to_time(key, value, 1)

    def attr_unix_milli(self, key: str) -> datetime:
        """A timestamp attribute in Unix milliseconds, as an aware UTC datetime."""
        return self._to_time(key, self._require(key), 1000)

    def attr_unix_milli_opt(self, key: str) -> datetime | None:
        value = self.attrs.get(key)
        return None if value is None else self._to_time(key, value, 1000)

    def _to_time(self, key: str, value: AttrValue, divisor: int) -> datetime:
        number = self._to_int(key, value)
        try:
            return datetime.fromtimestamp(number / divisor, UTC)
        except (OverflowError, OSError, ValueError):
            raise self._wrong(key, value, "a Unix timestamp") from None

    # -- debug output ----------------------------------------------------------------------

    def __repr__(self) -> str:
        """One-line XML, with long binary content summarised (for debug logs)."""
        return "".join(self._xml(None, 0))

    def pretty(self, indent: str = "  ") -> str:
        """Indented multi-line XML (for debug logs)."""
        return "\n".join(self._xml(indent, 0))

    def _xml(self, indent: str | None, level: int) -> list[str]:
        pad = indent * level if indent is not None else ""
        attrs = "".join(f' {key}="{value}"' for key, value in self.attrs.items())
        content = self.content
        if content is None:
            return [f"{pad}<{self.tag}{attrs}/>"]
        if isinstance(content, list):
            if not content:
                return [f"{pad}<{self.tag}{attrs}></{self.tag}>"]
            lines = [f"{pad}<{self.tag}{attrs}>"]
            for child in content:
                lines.extend(child._xml(indent, level + 1))
            lines.append(f"{pad}</{self.tag}>")
            return lines if indent is not None else ["".join(lines)]
        return [f"{pad}<{self.tag}{attrs}>{_content_text(content)}</{self.tag}>"]


def _content_text(content: bytes | str | JID) -> str:
    if isinstance(content, bytes):
        try:
            text = content.decode()
        except UnicodeDecodeError:
            text = None
        if text is not None and text.isprintable():
            return text
        if len(content) > MAX_BYTES_TO_PRINT_AS_HEX:
            return f"<!-- {len(content)} bytes -->"
        return content.hex()
    return str(content).replace("\n", "\\n")


def _kind(content: object) -> str:
    if content is None:
        return "empty"
    if isinstance(content, list):
        return "a list of nodes"
    return f"a {type(content).__name__}"
