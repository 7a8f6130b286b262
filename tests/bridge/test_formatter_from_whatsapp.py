"""WhatsApp text → Matrix HTML: the Go bridge's rules (``pkg/msgconv/wa-text.go``) case by case,
plus the places where we deliberately do better (see the module docstring)."""

from __future__ import annotations

import pytest

from mautrix_whatsapp.formatter import FormattedText, MentionTarget, whatsapp_to_matrix

ALICE = MentionTarget("@whatsapp_15551234567:example.org", "Alice <A&B>")
BOB = MentionTarget("@whatsapp_lid-987654:example.org", "bob_the_builder")
MENTIONS = {"15551234567": ALICE, "987654": BOB}

# (WhatsApp text, expected formatted_body or None when the text needs no HTML)
CASES: list[tuple[str, str | None]] = [
    # plain text: no HTML, even with characters HTML must escape
    ("hello world", None),
    ("a < b & c > d \"q\" 'a'", None),
    ("line one\nline two", None),
    ("", None),
    # the four inline markers
    ("*bold*", "<strong>bold</strong>"),
    ("_italic_", "<em>italic</em>"),
    ("~strike~", "<del>strike</del>"),
    ("`code`", "<code>code</code>"),
    ("say *hi* now", "say <strong>hi</strong> now"),
    ("*a* *b*", "<strong>a</strong> <strong>b</strong>"),  # Go bolds only the first
    ("*bold*, then", "<strong>bold</strong>, then"),
    ("(*bold*)", None),  # an opener needs whitespace or a marker before it
    ("*bold* & _it_", "<strong>bold</strong> &amp; <em>it</em>"),
    # nesting, either order
    ("*_both_*", "<strong><em>both</em></strong>"),
    ("_*both*_", "<em><strong>both</strong></em>"),
    ("~*_all_*~", "<del><strong><em>all</em></strong></del>"),
    ("*bold _and italic_*", "<strong>bold <em>and italic</em></strong>"),
    # word boundaries: a closer must not be followed by a letter or digit (any script)
    ("snake_case_name", None),
    ("2*3*4", None),
    ("*not*bold", None),
    ("_nicht_ä", None),  # Go checks ASCII letters only
    ("*yes*_", "<strong>yes</strong>_"),
    ("_word_.", "<em>word</em>."),
    ("https://example.com/a_b_c and https://x.org/_p_", None),
    (
        "visit https://example.com/some_path_here _really_",
        ("visit https://example.com/some_path_here <em>really</em>"),
    ),
    ("**", None),
    ("* *", "<ul><li>*</li></ul>"),  # a bullet whose text is "*"
    ("*a*", "<strong>a</strong>"),
    ("~~", None),
    ("_unclosed", None),
    ("*one *two*", "<strong>one *two</strong>"),
    # tags never cross: a closer counts only inside the element its opener is in
    ("~*~*", "~<strong>~</strong>"),
    ("_a *b_ c*", "<em>a *b</em> c*"),
    ("*a _b* c_", "*a <em>b* c</em>"),  # italic runs first
    # formatting never crosses lines
    ("*start\nend*", None),
    ("_a\nb_ *c*", "_a<br>b_ <strong>c</strong>"),
    # inline code is final: nothing inside it is formatted
    ("`*not bold*` *bold*", "<code>*not bold*</code> <strong>bold</strong>"),
    ("_`code in italic`_", "<em><code>code in italic</code></em>"),
    ("`a < b`", "<code>a &lt; b</code>"),
    # code blocks
    ("```code```", "<code>code</code>"),
    ("```\nline 1\n  *line 2*\n```", "<pre><code>line 1\n  *line 2*</code></pre>"),
    (
        "before\n```x = 1\ny = 2```\nafter",
        "before<pre><code>x = 1\ny = 2</code></pre>after",
    ),
    ("``````", "<code>`</code>```"),  # no empty block; then inline code, as Go
    ("```a``` and ```b```", "<code>a</code> and <code>b</code>"),
    ("```unclosed *bold*", "```unclosed <strong>bold</strong>"),
    ("``````\n```", "<pre><code>```</code></pre>"),
    ("```<b>&```", "<code>&lt;b&gt;&amp;</code>"),
    # quotes: one blockquote for consecutive lines
    ("> quoted", "<blockquote>quoted</blockquote>"),
    ("> one\n> *two*\nreply", "<blockquote>one<br><strong>two</strong></blockquote>reply"),
    ("text\n> quote", "text<br><blockquote>quote</blockquote>"),
    (">no space", None),
    # bulleted lists, with either marker
    ("- one\n- two", "<ul><li>one</li><li>two</li></ul>"),
    ("* one\n* _two_", "<ul><li>one</li><li><em>two</em></li></ul>"),
    ("intro\n- a\n- b\noutro", "intro<br><ul><li>a</li><li>b</li></ul>outro"),
    ("-not a list", None),
    # numbered lists: start, gaps, switching kinds
    ("1. one\n2. two", "<ol><li>one</li><li>two</li></ol>"),
    ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
    ("1. one\n5. five", '<ol><li>one</li><li value="5">five</li></ol>'),
    ("1. a\n- b\n> c", "<ol><li>a</li></ol><ul><li>b</li></ul><blockquote>c</blockquote>"),
    ("100. too long", None),
    ("1.no space", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_whatsapp_formatting(text: str, expected: str | None) -> None:
    result = whatsapp_to_matrix(text, {})
    assert result == FormattedText(body=text, html=expected, mentioned_user_ids=[])


def test_mentions_become_pills_and_displaynames() -> None:
    text = "hi @15551234567, *@987654* and @15551234567 again; not @1555123456 or @155512345678"
    result = whatsapp_to_matrix(text, MENTIONS)
    assert result.body == (
        "hi Alice <A&B>, *bob_the_builder* and Alice <A&B> again; not @1555123456 or @155512345678"
    )
    alice = (
        '<a href="https://matrix.to/#/@whatsapp_15551234567:example.org">Alice &lt;A&amp;B&gt;</a>'
    )
    bob = '<a href="https://matrix.to/#/@whatsapp_lid-987654:example.org">bob_the_builder</a>'
    assert result.html == (
        f"hi {alice}, <strong>{bob}</strong> and {alice} again; not @1555123456 or @155512345678"
    )
    assert result.mentioned_user_ids == [ALICE.user_id, BOB.user_id]


def test_a_mention_alone_still_gets_html() -> None:
    result = whatsapp_to_matrix("@987654", MENTIONS)
    assert result.body == "bob_the_builder"
    assert result.html == (
        '<a href="https://matrix.to/#/@whatsapp_lid-987654:example.org">bob_the_builder</a>'
    )


def test_mentioned_targets_are_listed_even_when_not_in_the_text() -> None:
    """As the Go bridge does: every ``mentionedJID`` is in ``m.mentions``; once each."""
    twice = {"15551234567": ALICE, "15550000000": ALICE}
    result = whatsapp_to_matrix("no at-sign here", twice)
    assert result == FormattedText("no at-sign here", None, [ALICE.user_id])


def test_unknown_mentions_stay_as_text() -> None:
    result = whatsapp_to_matrix("ping @123 *now*", MENTIONS)
    assert result == FormattedText(
        "ping @123 *now*",
        "ping @123 <strong>now</strong>",
        [
            ALICE.user_id,
            BOB.user_id,
        ],
    )


def test_mentions_in_code_and_lists() -> None:
    result = whatsapp_to_matrix("- @987654\n```@987654```", {"987654": BOB})
    pill = '<a href="https://matrix.to/#/@whatsapp_lid-987654:example.org">bob_the_builder</a>'
    assert result.html == f"<ul><li>{pill}</li></ul><code>{pill}</code>"
    assert result.body == "- bob_the_builder\n```bob_the_builder```"


def test_private_use_placeholder_in_input_is_kept() -> None:
    """The scanner's placeholder character in the input comes out as itself, escaped."""
    result = whatsapp_to_matrix("\ue000 `x` \ue000 *b*", {})
    assert result.html == "&#57344; <code>x</code> &#57344; <strong>b</strong>"
    assert whatsapp_to_matrix("\ue000", {}).html is None
