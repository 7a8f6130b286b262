"""Matrix HTML → WhatsApp text: the Go bridge's ``HTMLParser`` with the WhatsApp converters,
case by case, pills through an injected resolver."""

from __future__ import annotations

import pytest

from mautrix_whatsapp.formatter import WhatsAppText, matrix_to_whatsapp

GHOSTS = {
    "@whatsapp_15551234567:example.org": "15551234567@s.whatsapp.net",
    "@whatsapp_lid-987654:example.org": "987654@lid",
    "@alice:example.org": "15550001111:7@s.whatsapp.net",  # a bridge user's device JID
    "@broken:example.org": "no-server",
}


def resolve(user_id: str) -> str | None:
    return GHOSTS.get(user_id)


CASES: list[tuple[str, str]] = [
    ("plain text", "plain text"),
    ("a &amp; b &lt;c&gt; &quot;d&quot; &#x1F600;", 'a & b <c> "d" 😀'),
    # inline formatting
    ("<b>b</b> <strong>s</strong>", "*b* *s*"),
    ("<i>i</i> <em>e</em>", "_i_ _e_"),
    ("<del>d</del> <s>s</s> <strike>k</strike>", "~d~ ~s~ ~k~"),
    ("<code>x = 1</code> <tt>t</tt>", "`x = 1` `t`"),
    ("<u>under</u> <ins>ins</ins>", "under ins"),
    ("<b><i>both</i></b>", "*_both_*"),
    ("<b>bold <i>and italic</i></b>", "*bold _and italic_*"),
    ("a<b> spaced </b>b", "a *spaced* b"),  # WhatsApp ignores "* spaced *"
    ("a<b></b>b<i> </i>c", "ab c"),
    # whitespace: source newlines vanish, runs of spaces collapse, <br> breaks
    ("one\ntwo   three", "onetwo three"),
    ("line 1<br>line 2<br/>line 3", "line 1\nline 2\nline 3"),
    ("\ttabbed", "tabbed"),
    # paragraphs and other blocks
    ("<p>one</p><p>two</p>", "one\n\ntwo"),
    ("<p>one</p>\n<p>two</p>", "one\n\ntwo"),
    ("<div>a</div>b", "a\nb"),
    ("<p>one<p>two", "one\n\ntwo"),
    ("<h1>Title</h1><h3>Sub <i>it</i></h3>text", "# Title\n\n### Sub _it_\ntext"),
    ("a<hr>b", "a\n\nb"),
    # quotes
    ("<blockquote>quoted</blockquote>reply", "> quoted\nreply"),
    ("<blockquote>a<br>b</blockquote>", "> a\n> b"),
    ("<blockquote><p>a</p><p>b</p></blockquote>", "> a\n> \n> b"),
    ("<blockquote>outer<blockquote>inner</blockquote></blockquote>", "> outer\n> > inner"),
    # lists
    ("<ul><li>one</li><li><b>two</b></li></ul>", "* one\n* *two*"),
    ("<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"),
    ('<ol start="9"><li>nine</li><li>ten</li></ol>', "9.  nine\n10. ten"),
    ('<ol start="x"><li>a</li></ol>', "1. a"),
    (
        "<ul><li>a<ul><li>b<ol><li>c</li></ol></li></ul></li><li>d</li></ul>",
        ("* a\n  * b\n    1. c\n* d"),
    ),
    ("<ul><li>line<br>wrapped</li></ul>", "* line\n  wrapped"),
    ("<ul><li>a<li>b</ul>", "* a\n* b"),
    ("<ul><li><p>loose</p></li><li><p>items</p></li></ul>", "* loose\n* items"),
    ("<ol><li><p>one</p><p>more</p></li></ol>", "1. one\n\n   more"),
    ("<b><p>block in bold</p></b>", "*block in bold*"),
    ("<ul>text outside items<li>a</li></ul>", "* a"),
    ("intro<ul><li>a</li></ul>outro", "intro\n* a\noutro"),
    # code blocks
    ("<pre><code>x = 1\n  y = 2\n</code></pre>", "```\nx = 1\n  y = 2\n```"),
    ('<pre><code class="language-python">print(1)</code></pre>', "```\nprint(1)\n```"),
    ("<pre>raw  <b>pre</b></pre>", "```\nraw  *pre*\n```"),
    ("before<pre><code>c</code></pre>after", "before\n```\nc\n```\nafter"),
    # links
    ('<a href="https://example.com">site</a>', "site (https://example.com)"),
    ('<a href="https://example.com">https://example.com</a>', "https://example.com"),
    ('<a href="https://example.com">example.com</a>', "example.com"),
    ('<a href="mailto:a@b.c">a@b.c</a>', "a@b.c"),
    ('<a href="https://example.com"></a>', "https://example.com"),
    ("<a>no href</a>", "no href"),
    ('<a href="https://example.com/a_b">x</a>', "x (https://example.com/a_b)"),
    # non-user matrix links, as the Go DefaultPillConverter writes them
    ('<a href="https://matrix.to/#/#room:example.org">#room:example.org</a>', "#room:example.org"),
    (
        '<a href="https://matrix.to/#/!abc:example.org">!abc:example.org</a>',
        ("https://matrix.to/#/!abc:example.org"),
    ),
    (
        '<a href="https://matrix.to/#/!abc:example.org">a room</a>',
        ("a room (https://matrix.to/#/!abc:example.org)"),
    ),
    (
        '<a href="https://matrix.to/#/!abc:example.org/$ev?via=x">event</a>',
        ("https://matrix.to/#/!abc:example.org/$ev"),
    ),
    ('<a href="matrix:r/room:example.org">room</a>', "#room:example.org"),
    (
        '<a href="matrix:roomid/abc:example.org/e/ev">x</a>',
        "https://matrix.to/#/!abc:example.org/$ev",
    ),
    ('<a href="https://matrix.to/#/">empty</a>', "empty (https://matrix.to/#/)"),
    ('<a href="matrix:bogus/x">b</a>', "b (matrix:bogus/x)"),
    # replies, spoilers, images, unknown and hidden tags
    (
        "<mx-reply><blockquote><a>In reply to</a> quoted</blockquote></mx-reply>my reply",
        "my reply",
    ),
    ('<span data-mx-spoiler="">secret</span>', "||secret||"),
    ('<span data-mx-spoiler="plot">twist</span>', "||plot|twist||"),
    ('<span data-mx-color="#f00">red</span> <font color="red">r</font>', "red r"),
    ('<img src="mxc://a/b" alt=":cat:" data-mx-emoticon> and <img src="mxc://c/d">', ":cat: and"),
    ("<table><tr><td>cell</td></tr></table>", "cell"),
    ("<custom-tag>kept</custom-tag>", "kept"),
    ("<script>alert(1)</script><style>p{}</style>ok", "ok"),
    # malformed HTML
    ("<b>unclosed <i>tags", "*unclosed _tags_*"),
    ("stray </b></i> ends", "stray  ends"),
    ("<b>cross <i>nested</b> tags</i>", "*cross _nested_* tags"),
    ("<<>>", "<<>>"),
    ("<b", "<b"),  # an unfinished tag at the end is kept as text
    ("", ""),
]


@pytest.mark.parametrize(("html", "expected"), CASES)
def test_matrix_formatting(html: str, expected: str) -> None:
    assert matrix_to_whatsapp(html, resolve) == WhatsAppText(expected, [])


def test_pills_become_mentions() -> None:
    html = (
        'Hi <a href="https://matrix.to/#/@whatsapp_15551234567:example.org">Alice</a>, '
        '<b><a href="https://matrix.to/#/%40whatsapp_lid-987654%3Aexample.org">Bob</a></b> and '
        '<a href="matrix:u/alice:example.org?action=chat">me</a>; again '
        '<a href="https://matrix.to/#/@whatsapp_15551234567:example.org">Alice</a>'
    )
    result = matrix_to_whatsapp(html, resolve)
    assert result.text == "Hi @15551234567, *@987654* and @15550001111; again @15551234567"
    assert result.mentioned_jids == [
        "15551234567@s.whatsapp.net",
        "987654@lid",
        "15550001111@s.whatsapp.net",  # the person, not the device
    ]


def test_unresolved_pills_become_their_text() -> None:
    html = (
        '<a href="https://matrix.to/#/@stranger:example.org">Stranger</a> '
        '<a href="https://matrix.to/#/@broken:example.org">Broken</a> '
        '<a href="https://matrix.to/#/@stranger:example.org"></a>'
    )
    assert matrix_to_whatsapp(html, resolve) == WhatsAppText(
        "Stranger Broken @stranger:example.org", []
    )


def test_resolver_is_asked_only_about_users() -> None:
    asked: list[str] = []

    def recording(user_id: str) -> str | None:
        asked.append(user_id)
        return None

    html = (
        '<a href="https://matrix.to/#/#room:x">r</a> <a href="https://example.com">e</a> '
        '<a href="https://matrix.to/#/@u:x">u</a>'
    )
    matrix_to_whatsapp(html, recording)
    assert asked == ["@u:x"]


def test_nested_document() -> None:
    """mautrix-python's own nested case (its ``parser_test.py``), in WhatsApp's dialect."""
    html = """
<h1>Hello, World!</h1>
<blockquote>
  <ol>
    <li><a href='https://example.com'>example</a></li>
    <li>
      <ul>
        <li>item 1</li>
        <li>item 2</li>
      </ul>
    </li>
    <li>
      <pre><code class="language-python">def random() -> int:
    if 4 is 1:
        return 5
    return 4</code></pre>
    </li>
    <li><strong>Just some text</strong></li>
  </ol>
</blockquote>
""".strip()
    expected = """
# Hello, World!

> 1. example (https://example.com)
> 2. * item 1
>    * item 2
> 3. ```
>    def random() -> int:
>        if 4 is 1:
>            return 5
>        return 4
>    ```
> 4. *Just some text*
""".strip()
    assert matrix_to_whatsapp(html, resolve) == WhatsAppText(expected, [])
