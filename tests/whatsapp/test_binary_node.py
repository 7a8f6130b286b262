"""Node accessors: children, typed attribute getters, content getters, debug output."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp.binary import (
    JID,
    AttrError,
    ContentTypeError,
    MissingChildError,
    Node,
    NodeError,
)

ALICE = JID.parse("15551234567:3@s.whatsapp.net")


def _stanza() -> Node:
    return Node(
        "iq",
        {"id": "42", "type": "result", "from": ALICE, "t": "1700000000", "ok": "true"},
        [
            Node("pair-device", content=[Node("ref", content=b"r1"), Node("ref", content=b"r2")]),
            Node("count", content="7"),
            Node("count", {"value": "-3"}),
        ],
    )


def test_defaults() -> None:
    node = Node("ping")
    assert node.attrs == {} and node.content is None and node.children == []


def test_attrs_mapping_is_copied_only_when_not_a_dict() -> None:
    attrs = {"id": "1"}
    assert Node("iq", attrs).attrs is attrs
    assert Node("iq", {"id": "1"}.items().mapping).attrs == {"id": "1"}


def test_children() -> None:
    node = _stanza()
    assert [child.tag for child in node.children] == ["pair-device", "count", "count"]
    assert len(node.children_by_tag("count")) == 2
    assert [c.attrs for c in node.iter_children("count")] == [{}, {"value": "-3"}]
    refs = node.get_child_by_tag("pair-device").children_by_tag("ref")
    assert [ref.content for ref in refs] == [b"r1", b"r2"]
    assert node.get_child_by_tag("pair-device", "ref").content == b"r1"
    assert node.get_optional_child_by_tag("pair-device", "nope") is None
    assert node.get_optional_child_by_tag() is node
    with pytest.raises(MissingChildError, match="pair-device/nope"):
        node.get_child_by_tag("pair-device", "nope")
    assert Node("x", content=b"bytes").children == []


def test_attribute_getters() -> None:
    node = _stanza()
    assert node.attr_str("id") == "42"
    assert node.attr_int("id") == 42
    assert node.attr_int("t") == 1700000000
    assert node.attr_jid("from") == ALICE
    assert node.attr_bool("ok") is True
    assert node.attr_unix_time("t") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert node.attr_unix_milli("t") == datetime(1970, 1, 20, 16, 13, 20, tzinfo=UTC)
    assert node.children[2].attr_int("value") == -3
    assert node.attr_str_opt("missing") is None
    assert node.attr_int_opt("missing") is None
    assert node.attr_jid_opt("missing") is None
    assert node.attr_bool_opt("missing") is None
    assert node.attr_unix_time_opt("missing") is None
    assert node.attr_unix_milli_opt("missing") is None
    assert node.attr_jid_opt("from") == ALICE
    assert node.attr_int_opt("id") == 42
    assert Node("x", {"b": "0"}).attr_bool_opt("b") is False


@pytest.mark.parametrize(
    ("getter", "key", "match"),
    [
        ("attr_str", "missing", "no 'missing' attribute"),
        ("attr_int", "missing", "no 'missing' attribute"),
        ("attr_jid", "missing", "no 'missing' attribute"),
        ("attr_bool", "missing", "no 'missing' attribute"),
        ("attr_unix_time", "missing", "no 'missing' attribute"),
        ("attr_str", "from", "not a string"),
        ("attr_str_opt", "from", "not a string"),
        ("attr_int", "type", "not an integer"),
        ("attr_int_opt", "from", "not an integer"),
        ("attr_jid", "id", "not a JID"),
        ("attr_jid_opt", "id", "not a JID"),
        ("attr_bool", "id", "not a boolean"),
        ("attr_bool_opt", "from", "not a boolean"),
        ("attr_unix_time", "big", "not a Unix timestamp"),
        ("attr_int", "unicode_digits", "not an integer"),
    ],
)
def test_attribute_getters_raise_typed_errors(getter: str, key: str, match: str) -> None:
    node = _stanza()
    node.attrs["big"] = "9" * 30
    node.attrs["unicode_digits"] = "١٢"
    with pytest.raises(AttrError, match=match) as info:
        getattr(node, getter)(key)
    assert isinstance(info.value, NodeError)


def test_content_getters() -> None:
    assert Node("x", content=b"abc").content_bytes() == b"abc"
    assert Node("x", content="12").content_bytes() == b"12"
    assert Node("x", content="12").content_str() == "12"
    assert Node("x", content="é".encode()).content_str() == "é"
    with pytest.raises(ContentTypeError, match="not UTF-8"):
        Node("x", content=b"\xff").content_str()
    with pytest.raises(ContentTypeError, match="a list of nodes"):
        Node("x", content=[]).content_bytes()
    with pytest.raises(ContentTypeError, match="empty"):
        Node("x").content_str()


def test_equality() -> None:
    assert _stanza() == _stanza()
    other = _stanza()
    other.children[0].children[1].content = b"r3"
    assert other != _stanza()


def test_repr_is_one_line_xml() -> None:
    text = repr(_stanza())
    assert "\n" not in text
    assert text.startswith('<iq id="42" type="result" from="15551234567:3@s.whatsapp.net"')
    assert "<pair-device><ref>r1</ref><ref>r2</ref></pair-device>" in text
    assert "<count>7</count>" in text and '<count value="-3"/>' in text
    assert repr(Node("v", content=b"\x00\x01")) == "<v>0001</v>"
    assert repr(Node("v", content=bytes(500))) == "<v><!-- 500 bytes --></v>"
    assert repr(Node("l", content=[])) == "<l></l>"
    assert repr(Node("j", content=ALICE)) == "<j>15551234567:3@s.whatsapp.net</j>"


def test_pretty_indents_children() -> None:
    lines = _stanza().pretty().splitlines()
    assert lines[0].startswith("<iq ")
    assert lines[1] == "  <pair-device>"
    assert lines[2] == "    <ref>r1</ref>"
    assert lines[-1] == "</iq>"
