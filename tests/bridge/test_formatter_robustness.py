"""Both directions together: round trips, and hostile input (huge, deeply nested, malformed,
unbalanced) that must come back in bounded time, without an exception, with the text kept."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.formatter import (
    MentionTarget,
    WhatsAppText,
    matrix_to_whatsapp,
    whatsapp_to_matrix,
)
from mautrix_whatsapp.formatter.from_matrix import MAX_DEPTH

T = TypeVar("T")

# Generous: the machine is shared; the point is linear, not quadratic, time.
TIME_LIMIT = 10.0


def no_pills(user_id: str) -> str | None:
    return None


class _Balance(HTMLParser):
    """Checks that every element we emit is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "br":
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


def assert_balanced(html: str) -> None:
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert checker.ok and not checker.stack, html


ROUND_TRIPS = [
    "*bold* and _italic_",
    "~strike~ `code`",
    "*_nested_*",
    "> quoted\nreply",
    "* one\n* two",
    "1. one\n2. two",
    "3. three\n4. four",
    "```\nx = 1\n  y\n```",
    "before\n```\nblock\n```\nafter",
    "a & b <c> *d*",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_whatsapp_round_trip(text: str) -> None:
    html = whatsapp_to_matrix(text, {}).html
    assert html is not None
    assert matrix_to_whatsapp(html, no_pills).text == text


def test_mention_round_trip() -> None:
    target = MentionTarget("@whatsapp_15551234567:example.org", "Alice")
    there = whatsapp_to_matrix("hey @15551234567, *look*", {"15551234567": target})
    assert there.body == "hey Alice, *look*"
    assert there.html is not None
    back = matrix_to_whatsapp(
        there.html,
        lambda uid: "15551234567@s.whatsapp.net" if uid == target.user_id else None,
    )
    assert back.text == "hey @15551234567, *look*"
    assert back.mentioned_jids == ["15551234567@s.whatsapp.net"]


def _timed(fn: Callable[[], T]) -> T:
    start = time.monotonic()
    result = fn()
    assert time.monotonic() - start < TIME_LIMIT
    return result


HOSTILE_WHATSAPP = [
    " _a" * 30000,  # every marker opens, none closes: quadratic for a naive lazy regex
    " *a" * 30000 + "*",
    "*" * 100000,
    "`" * 100000,
    "```" * 30000,
    "```\n" * 30000,
    "> " * 50000,
    "\n".join(["- item *b*", "1. x", "> q"] * 20000),
    "_*~`" * 25000,
    "@1" * 50000,
]


@pytest.mark.parametrize("text", HOSTILE_WHATSAPP, ids=range(len(HOSTILE_WHATSAPP)))
def test_hostile_whatsapp_text(text: str) -> None:
    result = _timed(lambda: whatsapp_to_matrix(text, {"1": MentionTarget("@g_1:x", "G")}))
    assert result.body.count("G") == text.count("@1")
    if result.html is not None:
        assert_balanced(result.html)


def test_deep_html_nesting_is_flattened_not_fatal() -> None:
    depth = 100000
    html = "<b>" * depth + "core" + "</b>" * depth
    text = _timed(lambda: matrix_to_whatsapp(html, no_pills).text)
    assert isinstance(text, str)
    # Only the first MAX_DEPTH levels (the root counts as one) keep their meaning.
    assert text == "*" * MAX_DEPTH + "core" + "*" * MAX_DEPTH


def test_deep_lists_and_quotes() -> None:
    html = "<ul><li>x" * 5000 + "</li></ul>" * 5000 + "<blockquote>" * 5000 + "q"
    text = _timed(lambda: matrix_to_whatsapp(html, no_pills).text)
    assert isinstance(text, str)
    assert text.startswith("* x\n  * x")
    assert text.count("x") == 5000  # every item's text kept, even below the depth cap
    assert text.endswith("q")


HOSTILE_HTML = [
    "<" * 200000,
    "</b>" * 100000 + "end",
    "<b><i><s>" * 30000,
    '<a href="https://matrix.to/#/@x:y">' * 20000,
    "<p>" + "word " * 200000 + "</p>",
    "<pre>" + "<code>" * 1000 + "x\n" * 50000,
    '<ol start="99999999999999999999999"><li>a</li></ol>',
    "<mx-reply>" * 1000 + "hidden",
    "&#xFFFFFFFF; &#0; &bogus; &amp",
    "\x00<b>\x00</b>",
]


@pytest.mark.parametrize("html", HOSTILE_HTML, ids=range(len(HOSTILE_HTML)))
def test_hostile_html(html: str) -> None:
    result = _timed(lambda: matrix_to_whatsapp(html, lambda uid: "1@s.whatsapp.net"))
    assert result.text == result.text.strip()


def test_huge_ordered_start_keeps_its_number() -> None:
    html = '<ol start="99999999999999999999999"><li>a</li></ol>'
    assert matrix_to_whatsapp(html, no_pills).text == "99999999999999999999999. a"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("*_~`> -1.\n@12ab é\ue000<&"), max_size=80))
def test_any_whatsapp_text_gives_balanced_html(text: str) -> None:
    result = whatsapp_to_matrix(text, {"12": MentionTarget("@u:x", "U")})
    if result.html is not None:
        assert_balanced(result.html)
    assert result.body == re.sub(r"@12(?![0-9])", "U", text)


HTML_PIECES = ["<b>", "</b>", "<i>", "<li>", "<ul>", "</ul>", "<ol>", "<p>", "<br>", "<pre>"]
HTML_PIECES += ["</pre>", "<a href='matrix:u/a:b'>", "</a>", "x", " ", "\n", "&amp;", "<code>"]
HTML_PIECES += ["<blockquote>", "</blockquote>", "<mx-reply>", "</mx-reply>", "*", "_"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=40).map("".join))
def test_any_html_converts(html: str) -> None:
    result = matrix_to_whatsapp(html, lambda uid: "1@s.whatsapp.net")
    assert result.text == result.text.strip()
    assert result.mentioned_jids in ([], ["1@s.whatsapp.net"])


def test_odd_user_ids_survive_the_pill_round_trip() -> None:
    odd = MentionTarget("@wa/odd?=x+y:example.org", 'Q "uote"')
    there = whatsapp_to_matrix("@42", {"42": odd})
    assert there.html == (
        '<a href="https://matrix.to/#/@wa%2Fodd%3F%3Dx%2By:example.org">Q &quot;uote&quot;</a>'
    )
    back = matrix_to_whatsapp(there.html, lambda uid: "42@lid" if uid == odd.user_id else None)
    assert back == WhatsAppText("@42", ["42@lid"])
