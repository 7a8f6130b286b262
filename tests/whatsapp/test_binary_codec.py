"""The binary node codec on its own: round-trip properties, compression, and every refusal."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.binary import (
    JID,
    BinaryDecodeError,
    BinaryEncodeError,
    BinaryError,
    Node,
    decode_node,
    marshal,
    unmarshal,
)
from mautrix_whatsapp.whatsapp.binary.token import (
    DOUBLE_BYTE_TOKENS,
    SINGLE_BYTE_TOKENS,
    TOKEN_BYTES,
)

# --- strategies (also used by the fuzz tests) ------------------------------------------------

ALL_TOKENS = [t for t in SINGLE_BYTE_TOKENS if t] + [t for d in DOUBLE_BYTE_TOKENS for t in d]


def _token(index: int) -> str:
    return ALL_TOKENS[index]


tokens = st.integers(0, len(ALL_TOKENS) - 1).map(_token)  # (sampled_from: a 100 kB repr)
nibbles = st.from_regex(r"[0-9.\-]{1,127}", fullmatch=True)
hexes = st.from_regex(r"[0-9A-F]{1,127}", fullmatch=True)
raw_texts = st.text(st.characters(codec="utf-8"), max_size=100)
strings = st.one_of(tokens, nibbles, hexes, raw_texts)
names = st.one_of(tokens, st.text(st.characters(codec="utf-8"), min_size=1, max_size=20))
numbers = st.from_regex(r"[1-9][0-9]{0,19}", fullmatch=True)
users = st.one_of(numbers, tokens, st.text(st.characters(codec="utf-8"), min_size=1, max_size=20))
bytes_ = st.integers(0, 0xFF)
shorts = st.integers(0, 0xFFFF)

jids = st.one_of(
    st.builds(
        lambda user, device, agent, ad: JID(user, "s.whatsapp.net", device, agent, 0, ad),
        users,
        bytes_,
        bytes_.filter(lambda a: a not in (1, 128, 129)),
        st.booleans(),
    ),
    st.builds(
        lambda user, server, device, ad: JID(user, server, device, 0, 0, ad),
        users,
        st.sampled_from(["lid", "hosted", "hosted.lid"]),
        bytes_,
        st.booleans(),
    ),
    st.builds(
        JID,
        st.one_of(users, st.just("")),
        st.sampled_from(["s.whatsapp.net", "g.us", "broadcast", "newsletter", "bot", "c.us"]),
    ),
    st.builds(lambda user, device: JID(user, "msgr", device), users, shorts),
    st.builds(lambda u, d, i: JID(u, "interop", d, 0, i), users, shorts, shorts),
)
attr_values = st.one_of(strings, jids)
attrs = st.dictionaries(names, attr_values, max_size=6)
leaf_content = st.one_of(st.none(), st.binary(max_size=300), strings, jids)
nodes = st.recursive(
    st.builds(Node, names, attrs, leaf_content),
    lambda children: st.builds(Node, names, attrs, st.lists(children, max_size=5)),
    max_leaves=12,
)


def is_raw(text: str) -> bool:
    """Whether a string travels as raw bytes rather than a token or a packed string."""
    if text in TOKEN_BYTES:
        return False
    return re.fullmatch(r"[0-9.-]{1,127}|[0-9A-F]{1,127}", text) is None


def as_decoded(node: Node) -> Node:
    """What unmarshal gives back: a raw string *content* returns as bytes, as on every peer."""
    content = node.content
    if isinstance(content, list):
        content = [as_decoded(child) for child in content]
    elif isinstance(content, str) and is_raw(content):
        content = content.encode()
    return Node(node.tag, dict(node.attrs), content)


# --- round trips -----------------------------------------------------------------------------


# deadline=None: correctness, not speed (a busy shared CI core must not fail these).
@settings(max_examples=200, deadline=None)
@given(node=nodes)
def test_round_trip(node: Node) -> None:
    wire = marshal(node)
    assert wire[0] == 0
    decoded = unmarshal(wire)
    assert decoded == as_decoded(node)
    # Re-encoding is byte-stable: nothing (JID forms included) is lost on the way.
    assert marshal(decoded) == wire


@settings(max_examples=50, deadline=None)
@given(node=nodes)
def test_round_trip_compressed(node: Node) -> None:
    wire = marshal(node)
    compressed = b"\x02" + zlib.compress(wire[1:])
    assert unmarshal(compressed) == as_decoded(node)
    assert decode_node(wire[1:]) == as_decoded(node)


def test_decodes_bytes_likes() -> None:
    wire = marshal(Node("iq", {"id": "1"}))
    assert unmarshal(bytearray(wire)) == unmarshal(memoryview(wire)) == Node("iq", {"id": "1"})


def test_raw_string_content_returns_as_bytes() -> None:
    assert unmarshal(marshal(Node("body", content="hi there"))).content == b"hi there"
    assert unmarshal(marshal(Node("body", content=""))).content == b""
    assert unmarshal(marshal(Node("count", content="12"))).content == "12"


def test_empty_attribute_value_is_written_like_baileys() -> None:
    wire = marshal(Node("iq", {"id": ""}))
    assert wire.endswith(bytes((0xFC, 0)))
    assert unmarshal(wire).attrs == {"id": ""}


def test_empty_list_content_differs_from_no_content() -> None:
    assert unmarshal(marshal(Node("list", content=[]))).content == []
    assert unmarshal(marshal(Node("list"))).content is None


def test_ad_jid_device_zero_keeps_its_form() -> None:
    ad = JID.parse("123:0@s.whatsapp.net")
    plain = JID.parse("123@s.whatsapp.net")
    assert ad == plain
    ad_wire, plain_wire = marshal(Node("x", {"jid": ad})), marshal(Node("x", {"jid": plain}))
    assert ad_wire != plain_wire
    decoded = unmarshal(ad_wire).attrs["jid"]
    assert isinstance(decoded, JID) and decoded.ad and str(decoded) == "123:0@s.whatsapp.net"
    assert marshal(unmarshal(ad_wire)) == ad_wire


@pytest.mark.parametrize(
    "text", ["15551234567:3@s.whatsapp.net", "98765432109876:0@lid", "1555123.7:2@s.whatsapp.net"]
)
def test_repeated_device_jids_decode_alike(text: str) -> None:
    """Device JIDs are shared between decodes (a cache keyed by their bytes): same value, ad form,
    server and agent every time, for each domain byte."""
    jid = JID.parse(text)
    wire = marshal(Node("to", {"jid": jid}))
    first, second = (unmarshal(wire).attrs["jid"] for _ in range(2))
    for decoded in (first, second):
        assert isinstance(decoded, JID)
        assert decoded == jid and decoded.ad and str(decoded) == text
        assert decoded.raw_agent == jid.raw_agent and decoded.server == jid.server


def test_bad_device_jid_is_refused_every_time() -> None:
    """A malformed packed user in an AD_JID raises on every decode: errors are never cached."""
    wire = bytearray(marshal(Node("to", {"jid": JID.parse("15551234567:3@s.whatsapp.net")})))
    user = wire.index(bytes((247, 0, 3, 255))) + 5  # AD_JID, domain, device, NIBBLE_8, length
    wire[user] = 0xC1  # nibble 12 is not a character
    for _ in range(2):
        _decode_error(bytes(wire), "invalid nibble")
    wire[user] = 0x15
    assert str(unmarshal(bytes(wire)).attrs["jid"]) == "15551234567:3@s.whatsapp.net"


# --- decoder refusals ------------------------------------------------------------------------


def _decode_error(data: bytes, match: str | None = None) -> None:
    with pytest.raises(BinaryDecodeError, match=match):
        unmarshal(data)


def test_rejects_empty_and_flag_only() -> None:
    _decode_error(b"", "empty")
    _decode_error(b"\x00", "end of data")
    _decode_error(b"\x02", "zlib")


def test_rejects_leftover_bytes() -> None:
    _decode_error(marshal(Node("iq")) + b"\x00", "leftover")


def test_rejects_truncation_everywhere() -> None:
    wire = marshal(
        Node("message", {"to": JID.parse("1:2@s.whatsapp.net")}, [Node("enc", {}, b"x" * 300)])
    )
    for end in range(len(wire)):
        _decode_error(wire[:end])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (bytes((0xF8, 0)), "empty node"),
        (bytes((0xFC, 1, 0x41)), "expected a node"),
        (bytes((0xF8, 1, 0xF0)), "invalid string tag 240"),
        (bytes((0xF8, 1, 0xF4)), "invalid string tag 244"),
        (bytes((0xF8, 1, 0)), "non-empty string"),
        (bytes((0xF8, 1, 0xFA, 0, 0x03)), "non-empty string"),  # a JID as the tag
        (bytes((0xF8, 3, 0x13, 0xFA, 0, 0x03, 0x04)), "attribute name that is a JID"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xFC, 2, 0xC3, 0x28)), "UTF-8"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xFF, 0x01, 0xCC)), "invalid nibble"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xFF, 0x81, 0x12)), "padding"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xFF, 0x80)), "padding"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xFA, 0x00, 0x00)), "without a server"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xF6, 0x05, 0, 1, 0x03)), "FB_JID with server"),
        (bytes((0xF8, 3, 0x13, 0x04, 0xF5, 0x05, 0, 1, 0, 1, 0x03)), "INTEROP_JID with server"),
        (bytes((0xF8, 2, 0x13, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF)), "past the end"),
        (bytes((0xF8, 2, 0x13, 0xFD, 0x0F, 0xFF, 0xFF)), "past the end"),
        (bytes((0xF8, 2, 0x13, 0xF9, 0xFF, 0xFF, 0xF8)), "more than the data holds"),
    ],
)
def test_rejects_malformed(body: bytes, match: str) -> None:
    _decode_error(b"\x00" + body, match)


def test_rejects_jids_nested_in_jids_without_recursing() -> None:
    # Each JID_PAIR would start another JID: refused at the first level, no RecursionError.
    _decode_error(b"\x00" + bytes((0xF8, 3, 0x13, 0x04)) + b"\xfa" * 5000, "JID inside a JID")
    _decode_error(b"\x00" + bytes((0xF8, 3, 0x13, 0x04)) + b"\xf7\x00\x00" * 5000, "JID inside")


def test_rejects_deep_nesting() -> None:
    deep = Node("leaf")
    for _ in range(200):
        deep = Node("x", content=[deep])
    with pytest.raises(BinaryEncodeError, match="deeper"):
        marshal(deep)
    wire = b"\x00" + bytes((0xF8, 2, 0x13, 0xF8, 1)) * 5000 + bytes((0xF8, 1, 0x13))
    _decode_error(wire, "deeper")


def test_rejects_decompression_bomb() -> None:
    bomb = b"\x02" + zlib.compress(b"\x00" * ((32 << 20) + 1), 9)
    assert len(bomb) < 100_000
    _decode_error(bomb, "inflates to over")
    small = b"\x02" + zlib.compress(marshal(Node("v", content=b"a" * 5000))[1:])
    with pytest.raises(BinaryDecodeError, match="inflates to over 1000"):
        unmarshal(small, max_decompressed_size=1000)
    assert unmarshal(small, max_decompressed_size=6000).content == b"a" * 5000


def test_rejects_bad_zlib() -> None:
    good = zlib.compress(marshal(Node("iq"))[1:])
    _decode_error(b"\x02" + good[:-3], "truncated")
    _decode_error(b"\x02" + good + b"junk", "garbage after")
    _decode_error(b"\x02not zlib at all", "bad zlib")


# --- encoder refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "match"),
    [
        (Node(""), "tag"),
        (Node("iq", {"id": 5}), "int, not str or JID"),  # type: ignore[dict-item]
        (Node("iq", {"id": None}), "NoneType"),  # type: ignore[dict-item]
        (Node("iq", content={"a": 1}), "content is a dict"),  # type: ignore[arg-type]
        (Node("iq", content=["x"]), "not a Node"),  # type: ignore[list-item]
        (Node("iq", {"id": "\ud800"}), "cannot encode"),
        (Node("iq", {"to": JID("1", "g.us", device=2)}), "device on g.us"),
        (Node("iq", {"to": JID("1", "lid", raw_agent=3)}), "agent 3 on lid"),
        (Node("iq", {"to": JID("1", "s.whatsapp.net", raw_agent=1)}), "agent 1"),
        (Node("iq", {"to": JID("1", "s.whatsapp.net", device=256)}), "does not fit"),
        (Node("iq", {"to": JID("1", "s.whatsapp.net", integrator=2)}), "integrator"),
        (Node("iq", {"to": JID("1", "msgr", device=70000)}), "cannot encode"),
        (Node("iq", {"to": JID("1", "")}), "without a server"),
        (Node("list", content=[Node("i")] * 70000), "too long"),
    ],
)
def test_encoder_refuses(node: Node, match: str) -> None:
    with pytest.raises(BinaryEncodeError, match=match):
        marshal(node)


def test_errors_share_one_base() -> None:
    assert issubclass(BinaryDecodeError, BinaryError)
    assert issubclass(BinaryEncodeError, BinaryError)
