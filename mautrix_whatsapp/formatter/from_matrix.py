"""Matrix HTML (``formatted_body``) → WhatsApp text, the way the Go bridge's ``HTMLParser``
(``mautrix/go`` ``format/htmlparser.go`` with ``pkg/msgconv`` converters) writes it.

``mautrix.util.formatter.MatrixParser`` is not used: it is async all the way down and recurses
once per nesting level without a bound, while this conversion is pure and must survive hostile
input. The HTML is read with the standard library's tolerant parser into a small tree whose
depth is capped (deeper tags keep their text but lose their meaning), then rendered.

Where we differ from the Go bridge, on purpose: whitespace just inside ``<b> x </b>`` moves
outside the markers (WhatsApp ignores ``* x *``), empty formatting emits no markers, the
newline a ``<pre>`` ends with is not doubled before the closing fence, and a link without text
becomes its URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote

__all__ = ["MAX_DEPTH", "WhatsAppText", "matrix_to_whatsapp"]

MAX_DEPTH = 64
"""Elements nested deeper than this are read as plain containers of their text."""

_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "command",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ol",
        "ul",
        "pre",
        "blockquote",
        "div",
        "hr",
        "table",
    }
)
_SPACES = re.compile(" {2,}")
_MATRIX_URI_SIGILS = {"u": "@", "user": "@", "r": "#", "room": "#", "roomid": "!", "e": "$"}


@dataclass(frozen=True)
class WhatsAppText:
    """A WhatsApp message text and the JIDs its ``@<user part>`` mentions stand for."""

    text: str
    mentioned_jids: list[str] = field(default_factory=list)


def matrix_to_whatsapp(html: str, pill_resolver: Callable[[str], str | None]) -> WhatsAppText:
    """Convert a Matrix ``formatted_body`` to WhatsApp text.

    ``pill_resolver(user_id)`` gives the WhatsApp JID behind a Matrix user (a ghost, or a bridge
    user logged in here) or None; a resolved pill becomes ``@<user part>`` and its JID is listed
    once in ``mentioned_jids``, an unresolved one becomes its displayname. To honour a message's
    ``m.mentions``, resolve only the users it lists.
    """
    root = _parse(html.replace("\t", "    "))
    renderer = _Renderer(pill_resolver)
    text = renderer.tag_aware(root, preserve=False)
    return WhatsAppText(text=text, mentioned_jids=renderer.mentioned)


class _Node:
    __slots__ = ("attrs", "children", "tag")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Node | str] = []


class _TreeBuilder(HTMLParser):
    """A forgiving reader: unmatched end tags are ignored, unclosed elements end with the input,
    ``<p>`` and ``<li>`` close implicitly, and nesting stops at ``MAX_DEPTH``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("html", {})
        self.stack = [self.root]
        self.flattened: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        top = self.stack[-1].tag
        if (top == "p" and tag in _BLOCK) or (top == "li" and tag == "li"):
            self.stack.pop()
        node = _Node(tag, {k: v or "" for k, v in attrs})
        if tag in _VOID:
            self.stack[-1].children.append(node)
        elif len(self.stack) > MAX_DEPTH:
            self.flattened[tag] = self.flattened.get(tag, 0) + 1
        else:
            self.stack[-1].children.append(node)
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if self.flattened.get(tag):
            self.flattened[tag] -= 1
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse(html: str) -> _Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _parse_matrix_link(href: str) -> tuple[str, str] | None:
    """``(primary id, event id or "")`` of a matrix.to URL or ``matrix:`` URI, else None."""
    for prefix in ("https://matrix.to/#/", "http://matrix.to/#/"):
        if href.startswith(prefix):
            path = href[len(prefix) :].split("?", 1)[0]
            parts = [unquote(p) for p in path.split("/") if p]
            if not parts or parts[0][:1] not in ("@", "#", "!"):
                return None
            event = parts[1] if len(parts) > 1 and parts[1].startswith("$") else ""
            return parts[0], event
    if href.startswith("matrix:"):
        segments = [unquote(p) for p in href[7:].split("?", 1)[0].split("/")]
        if len(segments) < 2 or segments[0] not in _MATRIX_URI_SIGILS or not segments[1]:
            return None
        primary = _MATRIX_URI_SIGILS[segments[0]] + segments[1]
        event = ""
        if len(segments) >= 4 and segments[2] == "e" and segments[3]:
            event = "$" + segments[3]
        return primary, event
    return None


def _wrap(marker: str, text: str) -> str:
    """``marker + text + marker`` with surrounding whitespace kept outside the markers."""
    core = text.strip()
    if not core:
        return text
    start = text[: len(text) - len(text.lstrip())]
    end = text[len(text.rstrip()) :]
    return f"{start}{marker}{core}{marker}{end}"


class _Renderer:
    def __init__(self, resolver: Callable[[str], str | None]) -> None:
        self.resolver = resolver
        self.mentioned: list[str] = []

    def tag_aware(self, node: _Node, preserve: bool) -> str:
        """Children joined, block elements on their own lines, trimmed (Go's tag-aware string)."""
        out: list[str] = []
        for child in node.children:
            text = self.render(child, preserve)
            if isinstance(child, _Node) and child.tag in _BLOCK:
                text = f"\n{text}\n"
            out.append(text)
        return "".join(out).strip()

    def joined(self, node: _Node, preserve: bool) -> str:
        return "".join(self.render(child, preserve) for child in node.children)

    def render(self, node: _Node | str, preserve: bool) -> str:
        if isinstance(node, str):
            return node if preserve else _SPACES.sub(" ", node.replace("\n", ""))
        tag = node.tag
        if tag in ("b", "strong"):
            return _wrap("*", self.joined(node, preserve))
        if tag in ("i", "em"):
            return _wrap("_", self.joined(node, preserve))
        if tag in ("s", "del", "strike"):
            return _wrap("~", self.joined(node, preserve))
        if tag in ("code", "tt"):
            return _wrap("`", self.joined(node, preserve))
        if tag == "br":
            return "\n"
        if tag in ("mx-reply", "hr", "script", "style", "head"):
            return ""
        if tag == "img":
            return node.attrs.get("alt", "")
        if tag == "a":
            return self.link(node, preserve)
        if tag == "span" and "data-mx-spoiler" in node.attrs:
            reason = node.attrs["data-mx-spoiler"]
            inner = self.tag_aware(node, preserve)
            return f"||{reason}|{inner}||" if reason else f"||{inner}||"
        if tag == "blockquote":
            inner = self.tag_aware(node, preserve)
            return "\n".join("> " + line for line in inner.split("\n"))
        if tag in ("ul", "ol"):
            return self.list(node, preserve)
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            return "#" * int(tag[1]) + " " + self.joined(node, preserve).strip()
        if tag == "pre":
            return self.pre(node)
        return self.tag_aware(node, preserve)

    def pre(self, node: _Node) -> str:
        inner: _Node = node
        first = next(
            (c for c in node.children if not (isinstance(c, str) and not c.strip())), None
        )
        if isinstance(first, _Node) and first.tag == "code":
            inner = first
        code = self.joined(inner, preserve=True).removesuffix("\n")
        return f"```\n{code}\n```"

    def list(self, node: _Node, preserve: bool) -> str:
        ordered = node.tag == "ol"
        items = [c for c in node.children if isinstance(c, _Node) and c.tag == "li"]
        counter = 1
        width = 0
        if ordered:
            try:
                counter = int(node.attrs.get("start", "1"))
            except ValueError:
                counter = 1
            width = len(str(counter - 1 + len(items)))
        indent = " " * (width + 2)
        out: list[str] = []
        for item in items:
            prefix = "* "
            if ordered:
                prefix = f"{counter}. " + " " * max(0, width - len(str(counter)))
            counter += 1
            lines = (prefix + self.tag_aware(item, preserve)).split("\n")
            out.append("\n".join([lines[0], *(indent + line for line in lines[1:])]))
        return "\n".join(out)

    def link(self, node: _Node, preserve: bool) -> str:
        text = self.tag_aware(node, preserve)
        href = node.attrs.get("href", "").strip()
        if not href:
            return text
        target = _parse_matrix_link(href)
        if target is not None:
            return self.pill(text, *target)
        bare = (href.removeprefix("mailto:"), href.removeprefix("http://"))
        if text in (href, *bare, href.removeprefix("https://")):
            return text
        return f"{text} ({href})" if text else href

    def pill(self, text: str, primary: str, event: str) -> str:
        if primary.startswith("@"):
            resolved = self.resolver(primary) or ""
            user_part, _, server = resolved.partition("@")
            # Mentions name the person, not a device: ``1555:3@s.whatsapp.net`` → ``1555@…``.
            user = user_part.split(":", 1)[0]
            if not user or not server:
                return text or primary
            jid = f"{user}@{server}"
            if jid not in self.mentioned:
                self.mentioned.append(jid)
            return "@" + user
        if event:
            return f"https://matrix.to/#/{primary}/{event}"
        if primary.startswith("!") and text == primary:
            return f"https://matrix.to/#/{primary}"
        if primary.startswith("#"):
            return primary
        return f"{text} (https://matrix.to/#/{primary})"
