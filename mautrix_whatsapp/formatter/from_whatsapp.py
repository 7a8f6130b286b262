"""WhatsApp text → Matrix HTML, the way the Go bridge's ``pkg/msgconv/wa-text.go`` reads it.

WhatsApp formatting is line-based: ``*bold*``, ``_italic_``, ``~strike~`` and `` `code` ``
never span lines; a marker opens only at the start of a line or after whitespace (or after
another marker, for nesting) and closes only before a non-alphanumeric character or the end of
the line, so ``snake_case_name`` and ``https://x/a_b_c`` stay as they are. Blocks between
triple backticks are monospace (``<pre>`` when they span lines). Lines starting ``> ``,
``- ``/``* `` and ``1. `` are quotes, bulleted and numbered list items.

Where we differ from the Go bridge, on purpose:

- markers are matched with a linear scan instead of regexes whose trailing character is
  consumed, so ``*a* *b*`` bolds both words (Go only the first) and hostile input such as
  ``" _a" * 20000`` stays linear;
- the passes run in a fixed order (code, italic, bold, strike; Go iterates a map), and text
  inside inline code is never formatted further, as on WhatsApp;
- consecutive ``> `` lines form one ``<blockquote>`` (Go emits one per line), and the newline
  just inside each fence of a multi-line code block is dropped;
- a mention ``@123`` is replaced only as a whole number (Go's plain string replace turns the
  start of ``@1234`` into a pill for ``@123`` too).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["FormattedText", "MentionTarget", "whatsapp_to_matrix"]


@dataclass(frozen=True)
class MentionTarget:
    """Who a WhatsApp mention ``@<user part>`` points at on Matrix."""

    user_id: str
    displayname: str


@dataclass(frozen=True)
class FormattedText:
    """A Matrix text body: ``html`` is None when the text has nothing worth HTML."""

    body: str
    html: str | None
    mentioned_user_ids: list[str] = field(default_factory=list)


# Stands for one already-rendered inline code span while the other markers are scanned, so its
# content is never touched; the input's own such characters are escaped as entities first.
_PLACEHOLDER = "\ue000"
_ORDERED_ITEM = re.compile(r"^(\d{1,2})\. ")
_MENTION = re.compile(r"@([0-9]+)(?![0-9])")

# (marker, tag, characters allowed right before an opening marker besides whitespace).
# ``>`` is the end of a tag this parser inserted (text ``>`` is escaped by then), so markers
# nest: ``*_a_*`` → ``<strong><em>a</em></strong>``.
_CODE = ("`", "code", ">_*~" + _PLACEHOLDER)
_SPANS = (
    ("_", "em", ">~*" + _PLACEHOLDER),
    ("*", "strong", ">_~" + _PLACEHOLDER),
    ("~", "del", ">_*" + _PLACEHOLDER),
)


def whatsapp_to_matrix(text: str, mentions: Mapping[str, MentionTarget]) -> FormattedText:
    """Render a WhatsApp message text for Matrix.

    ``mentions`` maps the user part of each JID in the message's ``mentionedJID`` to its Matrix
    user; ``@<user part>`` in the text becomes a pill in ``html`` and the displayname in
    ``body``. Every target is listed in ``mentioned_user_ids`` (for ``m.mentions``), as the Go
    bridge does, even one the text does not show.
    """
    rendered = _render(text)
    mentioned: list[str] = []
    for target in mentions.values():
        if target.user_id not in mentioned:
            mentioned.append(target.user_id)
    body = _replace_mentions(text, mentions, lambda t: t.displayname)
    with_pills = _replace_mentions(rendered, mentions, _pill)
    plain = _escape(text).replace("\n", "<br>")
    if with_pills == plain:
        return FormattedText(body=body, html=None, mentioned_user_ids=mentioned)
    return FormattedText(body=body, html=with_pills, mentioned_user_ids=mentioned)


def _pill(target: MentionTarget) -> str:
    href = "https://matrix.to/#/" + target.user_id
    return f'<a href="{_escape(href)}">{_escape(target.displayname)}</a>'


def _replace_mentions(
    text: str, mentions: Mapping[str, MentionTarget], render: Callable[[MentionTarget], str]
) -> str:
    if not mentions:
        return text

    def sub(match: re.Match[str]) -> str:
        target = mentions.get(match.group(1))
        return match.group(0) if target is None else render(target)

    return _MENTION.sub(sub, text)


def _escape(text: str) -> str:
    """HTML-escape; the placeholder character becomes an entity, so none is left as text."""
    return html.escape(text, quote=True).replace(_PLACEHOLDER, "&#57344;")


def _render(text: str) -> str:
    """Split out the triple-backtick blocks (Go's rules, empty blocks included) and render."""
    out: list[str] = []
    pointer = 0
    while True:
        start = text.find("```", pointer)
        if start < 0:
            break
        end_rel = text.find("```", start + 3)
        if end_rel < 0:
            break
        end = end_rel + 3
        # An empty block is not one; look once more, for a block whose content is ```.
        if text[start + 3 : end - 3].strip() == "":
            again = text.find("```", end)
            if again < 0:
                break
            end = again + 3
        prefix = text[pointer:start]
        content = text[start + 3 : end - 3]
        pointer = end
        if prefix:
            _render_lines(prefix, out)
        if "\n" in content:
            # The newlines just inside the fences are the fences' own, not the code's.
            content = content.removeprefix("\n").removesuffix("\n")
            out.append(f"<pre><code>{_escape(content)}</code></pre>")
        else:
            out.append(f"<code>{_escape(content)}</code>")
    if pointer < len(text):
        _render_lines(text[pointer:], out)
    return "".join(out)


def _render_lines(text: str, out: list[str]) -> None:
    """Lines with their block syntax: lists, quotes, and ``<br>`` between plain lines."""
    ordered_idx = -1  # last number of the open <ol>, or -1
    in_bullets = False
    in_quote = False
    for i, line in enumerate(text.split("\n")):
        item = _ORDERED_ITEM.match(line)
        bullet = line.startswith(("* ", "- "))
        quote = line.startswith("> ")
        if i != 0 and ordered_idx < 0 and not in_bullets and not in_quote:
            out.append("<br>")
        if in_quote and not quote:
            out.append("</blockquote>")
            in_quote = False
        if ordered_idx >= 0 and (bullet or not item):
            out.append("</ol>")
            ordered_idx = -1
        if in_bullets and not bullet:
            out.append("</ul>")
            in_bullets = False
        if bullet:
            if not in_bullets:
                out.append("<ul>")
                in_bullets = True
            out.append(f"<li>{_render_inline(line[2:])}</li>")
        elif item:
            number = int(item.group(1))
            if ordered_idx < 0:
                out.append("<ol>" if number == 1 else f'<ol start="{number}">')
                ordered_idx = number - 1
            content = _render_inline(line[item.end() :])
            if ordered_idx + 1 != number:
                out.append(f'<li value="{number}">{content}</li>')
            else:
                out.append(f"<li>{content}</li>")
            ordered_idx = number
        elif quote:
            if in_quote:
                out.append("<br>")
            else:
                out.append("<blockquote>")
                in_quote = True
            out.append(_render_inline(line[2:]))
        else:
            out.append(_render_inline(line))
    if ordered_idx >= 0:
        out.append("</ol>")
    if in_bullets:
        out.append("</ul>")
    if in_quote:
        out.append("</blockquote>")


def _render_inline(line: str) -> str:
    """One line's inline markers, on the escaped text (which holds no placeholder)."""
    codes: list[str] = []

    def code(content: str) -> str:
        codes.append(f"<code>{content}</code>")
        return _PLACEHOLDER

    # Inline code first, so its content is final and no later pass looks into it.
    working = _apply_marker(_escape(line), *_CODE, code)
    for marker, tag, before in _SPANS:
        working = _apply_marker(working, marker, tag, before, None)
    if not codes:
        return working
    pieces = iter(codes)
    return re.sub(_PLACEHOLDER, lambda _: next(pieces), working)


def _apply_marker(
    line: str, marker: str, tag: str, before: str, wrap: Callable[[str], str] | None
) -> str:
    """Wrap every ``marker…marker`` span in ``<tag>`` (or ``wrap``), scanning once from the
    left: an opener takes the nearest closer at least one character on, like Go's ``(.+?)``.
    """
    if marker not in line:
        return line
    closers = [
        j
        for j, ch in enumerate(line)
        if ch == marker and (j + 1 == len(line) or not _is_word(line[j + 1]))
    ]
    out: list[str] = []
    last = 0
    ci = 0
    i = line.find(marker)
    while i >= 0:
        if i == 0 or line[i - 1].isspace() or line[i - 1] in before:
            while ci < len(closers) and closers[ci] < i + 2:
                ci += 1
            if ci == len(closers):
                break
            j = closers[ci]
            content = line[i + 1 : j]
            out.append(line[last:i])
            out.append(wrap(content) if wrap else f"<{tag}>{content}</{tag}>")
            last = j + 1
            i = line.find(marker, last)
        else:
            i = line.find(marker, i + 1)
    out.append(line[last:])
    return "".join(out)


def _is_word(ch: str) -> bool:
    """Letters and digits (any script) continue a word; ``_`` and punctuation do not."""
    return ch.isalnum()
