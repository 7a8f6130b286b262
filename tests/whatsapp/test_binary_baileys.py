"""Byte-exact interop of our binary node codec with Baileys' encodeBinaryNode/decodeBinaryNode.

One node process (tests/js/binary_codec.mjs) encodes the whole corpus with Baileys and decodes
our encodings. For every case: our bytes equal Baileys' bytes, we decode Baileys' bytes to the
original node (and re-encode them to the same bytes), and Baileys decodes our bytes to the
original node as Baileys represents it (JIDs as text, raw strings as bytes).

Baileys writes any string with '@' as a JID, so the corpus keeps '@' out of non-JID strings.
Baileys cannot *encode* FB_JID or INTEROP_JID (it has no text form that produces them); those
cases only check the decoding directions.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary import JID, Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.token import (
    DOUBLE_BYTE_TOKENS,
    SINGLE_BYTE_TOKENS,
)
from tests.processes import run_node_json

from .test_binary_codec import as_decoded, is_raw

pytestmark = pytest.mark.node

J = JID.parse


@dataclass
class Case:
    name: str
    node: Node
    baileys_encodes: bool = True


def _rand(n: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes (ciphertext-like content)."""
    out = bytearray()
    x = seed * 2654435761 + 1
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def _corpus() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, node: Node, baileys_encodes: bool = True) -> None:
        cases.append(Case(name, node, baileys_encodes))

    server = J("s.whatsapp.net")
    me = J("15551234567:12@s.whatsapp.net")
    msg_id = "3EB0C5A2D9E1F7B8A4C2"

    # --- realistic stanzas ---------------------------------------------------------------
    refs = [Node("ref", content=b"2@" + base64.b64encode(_rand(60, i))) for i in range(6)]
    add(
        "iq_pair_device",
        Node(
            "iq",
            {"from": server, "type": "set", "id": "1679.1234-1", "xmlns": "md"},
            [Node("pair-device", content=refs)],
        ),
    )
    add("iq_result", Node("iq", {"to": server, "type": "result", "id": "1679.1234-1"}))
    add(
        "iq_pair_success",
        Node(
            "iq",
            {"from": server, "type": "set", "id": "1679.1234-2", "xmlns": "md"},
            [
                Node(
                    "pair-success",
                    content=[
                        Node("device-identity", {"key-index": "1"}, _rand(170, 1)),
                        Node("platform", {"name": "android"}),
                        Node("device", {"jid": me, "lid": J("98765432109876:12@lid")}),
                        Node("biz", {"name": "Example Shop"}),
                    ],
                )
            ],
        ),
    )
    add(
        "success",
        Node(
            "success",
            {
                "t": "1700000000",
                "props": "27",
                "abprops": "16",
                "location": "frc",
                "creation": "1699999000",
                "lid": J("98765432109876@lid"),
                "display_name": "",
            },
        ),
    )
    add("stream_error_code", Node("stream:error", {"code": "515"}))
    add(
        "stream_error_conflict",
        Node("stream:error", content=[Node("conflict", {"type": "replaced"})]),
    )
    add("failure", Node("failure", {"reason": "401", "location": "frc"}))
    add(
        "message_direct_enc",
        Node(
            "message",
            {"to": J("15557654321@s.whatsapp.net"), "id": msg_id, "type": "text"},
            [Node("enc", {"v": "2", "type": "msg"}, _rand(120, 2))],
        ),
    )
    participants = [
        Node(
            "to",
            {"jid": J(f"1555000000{i}:{i}@s.whatsapp.net")},
            [Node("enc", {"v": "2", "type": "pkmsg"}, _rand(480, 10 + i))],
        )
        for i in range(1, 5)
    ]
    add(
        "message_group_participants",
        Node(
            "message",
            {"to": J("120363012345678901@g.us"), "id": msg_id, "type": "text", "phash": "2:AbC"},
            [
                Node("participants", content=participants),
                Node("enc", {"v": "2", "type": "skmsg"}, _rand(160, 3)),
                Node("device-identity", content=_rand(150, 4)),
            ],
        ),
    )
    add(
        "message_incoming",
        Node(
            "message",
            {
                "from": J("120363012345678901@g.us"),
                "participant": J("15557654321@s.whatsapp.net"),
                "participant_lid": J("98765432109876@lid"),
                "id": msg_id,
                "type": "media",
                "t": "1700000123",
                "notify": "Alice Example",
                "addressing_mode": "pn",
            },
            [Node("enc", {"v": "2", "type": "skmsg", "mediatype": "image"}, _rand(800, 5))],
        ),
    )
    add(
        "receipt_read",
        Node(
            "receipt",
            {"id": msg_id, "from": J("15557654321:3@s.whatsapp.net"), "type": "read", "t": "17"},
        ),
    )
    add(
        "receipt_list",
        Node(
            "receipt",
            {"id": msg_id, "to": J("15557654321@s.whatsapp.net"), "type": "read-self"},
            [Node("list", content=[Node("item", {"id": f"3EB0{i:016X}"}) for i in range(5)])],
        ),
    )
    add(
        "receipt_retry",
        Node(
            "receipt",
            {"id": msg_id, "to": J("15557654321@s.whatsapp.net"), "type": "retry"},
            [
                Node("retry", {"count": "1", "id": msg_id, "t": "1700000000", "v": "1"}),
                Node("registration", content=(1234567).to_bytes(4, "big")),
            ],
        ),
    )
    add(
        "ack",
        Node(
            "ack",
            {"class": "receipt", "id": msg_id, "from": J("15557654321@s.whatsapp.net")},
        ),
    )
    add(
        "notification_devices",
        Node(
            "notification",
            {"from": J("15557654321@s.whatsapp.net"), "type": "devices", "id": "123456"},
            [
                Node(
                    "add",
                    {"device_hash": "2:xYz0"},
                    [
                        Node("device", {"jid": J("15557654321:4@s.whatsapp.net")}),
                        Node("key-index-list", {"ts": "1700000000"}, _rand(40, 6)),
                    ],
                )
            ],
        ),
    )
    add(
        "notification_encrypt",
        Node(
            "notification",
            {"from": server, "type": "encrypt", "id": "98765", "t": "1700000000"},
            [Node("count", {"value": "4"})],
        ),
    )
    add(
        "notification_w_gp2",
        Node(
            "notification",
            {
                "from": J("120363012345678901@g.us"),
                "type": "w:gp2",
                "id": "2345",
                "participant": J("15557654321@s.whatsapp.net"),
            },
            [
                Node(
                    "add",
                    content=[
                        Node("participant", {"jid": J(f"1555111000{i}@s.whatsapp.net")})
                        for i in range(3)
                    ],
                )
            ],
        ),
    )
    add(
        "presence",
        Node("presence", {"type": "available", "name": "Alice"}),
    )
    add(
        "chatstate",
        Node("chatstate", {"from": J("15557654321@s.whatsapp.net")}, [Node("composing")]),
    )
    add(
        "usync",
        Node(
            "iq",
            {"to": server, "type": "get", "xmlns": "usync", "id": "42"},
            [
                Node(
                    "usync",
                    {"sid": "1700000000-1", "mode": "query", "last": "true", "index": "0"},
                    [
                        Node("query", content=[Node("devices", {"version": "2"})]),
                        Node(
                            "list",
                            content=[Node("user", {"jid": J("15557654321@s.whatsapp.net")})],
                        ),
                    ],
                )
            ],
        ),
    )
    prekeys = [
        Node(
            "key",
            content=[
                Node("id", content=i.to_bytes(3, "big")),
                Node("value", content=_rand(32, 100 + i)),
            ],
        )
        for i in range(1, 31)
    ]
    add(
        "iq_prekey_upload",
        Node(
            "iq",
            {"xmlns": "encrypt", "type": "set", "to": server, "id": "77"},
            [
                Node("registration", content=(4321).to_bytes(4, "big")),
                Node("type", content=b"\x05"),
                Node("identity", content=_rand(32, 7)),
                Node("list", content=prekeys),
                Node(
                    "skey",
                    content=[
                        Node("id", content=b"\x00\x00\x01"),
                        Node("value", content=_rand(32, 8)),
                        Node("signature", content=_rand(64, 9)),
                    ],
                ),
            ],
        ),
    )
    add(
        "ib_edge_routing",
        Node(
            "ib",
            content=[
                Node("edge_routing", content=[Node("routing_info", content=_rand(12, 10))]),
                Node("offline_preview", {"count": "3", "message": "2"}),
                Node("offline", {"count": "0"}),
            ],
        ),
    )
    add(
        "ping",
        Node("iq", {"to": server, "type": "get", "xmlns": "w:p", "id": "9"}, [Node("ping")]),
    )
    add(
        "media_conn",
        Node(
            "iq",
            {"from": server, "type": "result", "id": "10"},
            [
                Node(
                    "media_conn",
                    {"auth": "AbCdEf0123456789xyz", "ttl": "300", "auth_ttl": "21600"},
                    [
                        Node("host", {"hostname": "mmg.whatsapp.net"}),
                        Node("host", {"hostname": "media-fra5-1.cdn.whatsapp.net"}),
                    ],
                )
            ],
        ),
    )
    add(
        "call_offer",
        Node(
            "call",
            {"from": J("15557654321:2@s.whatsapp.net"), "id": "C0FFEE", "t": "1700000000"},
            [
                Node(
                    "offer",
                    {"call-id": "0A1B2C3D4E5F", "call-creator": J("15557654321:2@s.whatsapp.net")},
                    [
                        Node("audio", {"enc": "opus", "rate": "16000"}),
                        Node("net", {"medium": "3"}),
                    ],
                )
            ],
        ),
    )
    add("status_message", Node("message", {"to": J("status@broadcast"), "id": msg_id}))

    # --- JIDs of every kind --------------------------------------------------------------
    jids = {
        "jid_pn": "15551234567@s.whatsapp.net",
        "jid_pn_device": "15551234567:3@s.whatsapp.net",
        "jid_pn_device0_ad": "15551234567:0@s.whatsapp.net",
        "jid_pn_agent": "15551234567.5:2@s.whatsapp.net",
        "jid_lid": "98765432109876@lid",
        "jid_lid_device": "98765432109876:7@lid",
        "jid_lid_device0_ad": "98765432109876:0@lid",
        "jid_group": "120363012345678901@g.us",
        "jid_group_legacy": "15551234567-1600000000@g.us",
        "jid_broadcast_list": "1600000000@broadcast",
        "jid_status": "status@broadcast",
        "jid_newsletter": "120363123456789012@newsletter",
        "jid_hosted": "15551234567:99@hosted",
        "jid_hosted_lid": "98765432109876:99@hosted.lid",
        "jid_bot": "867051314767696@bot",
        "jid_legacy_cus": "16505361212@c.us",
        "jid_server": "s.whatsapp.net",
        "jid_group_server": "g.us",
    }
    for name, text in jids.items():
        add(name, Node("item", {"jid": J(text)}))
    add("jid_as_content", Node("participant", content=J("15551234567:3@s.whatsapp.net")))
    add("jid_msgr", Node("item", {"jid": J("100012345678901:5@msgr")}), baileys_encodes=False)
    add("jid_msgr_device0", Node("item", {"jid": J("100012345678901@msgr")}), False)
    add("jid_interop", Node("item", {"jid": J("7-15551234567:1@interop")}), False)

    # --- tag forms -----------------------------------------------------------------------
    add("list_empty_content", Node("list", content=[]))
    add("no_attrs_no_content", Node("ping"))
    add(
        "list_16_children",
        Node("list", content=[Node("item", {"id": str(i)}) for i in range(300)]),
    )
    add(
        "list_16_attrs",
        Node("props", {f"prop_name_{i}": f"value {i}" for i in range(130)}),
    )
    add("binary_8", Node("value", content=_rand(255, 11)))
    add("binary_20", Node("value", content=_rand(256, 12)))
    add("binary_20_large", Node("value", content=_rand(300_000, 13)))
    add("binary_32", Node("value", content=_rand((1 << 20) + 17, 14)))
    add("binary_empty", Node("value", content=b""))
    add("string_attr_binary_20", Node("item", {"text": "long text " * 40}))
    add("string_attr_utf8", Node("item", {"name": "Zoë 🚀 Ünïcödé", "empty": ""}))
    add("nibble_even", Node("item", {"t": "1700000000", "v": "2.3000.1035194821"}))
    add("nibble_odd", Node("item", {"t": "170000000", "n": "-12.5"}))
    add("nibble_max", Node("item", {"n": "1234567890" * 12 + "1234567"}))
    add("nibble_over_max_raw", Node("item", {"n": "1234567890" * 12 + "12345678"}))
    add("hex_even", Node("item", {"id": msg_id}))
    add("hex_odd", Node("item", {"id": "3EB0C5A2D9E1F7B8A4C"}))
    add("hex_max", Node("item", {"id": "0123456789ABCDEF" * 7 + "0123456789ABCDE"}))
    add("hex_lowercase_raw", Node("item", {"id": "3eb0c5a2d9"}))
    add("nibble_content", Node("count", content="42.5"))
    add("hex_content", Node("hash", content="ABCDEF0123"))
    add("token_content", Node("type", content="available"))
    add(
        "single_byte_tokens",
        Node(SINGLE_BYTE_TOKENS[19], {SINGLE_BYTE_TOKENS[4]: SINGLE_BYTE_TOKENS[235]}),
    )
    for dictionary in range(4):
        tokens = DOUBLE_BYTE_TOKENS[dictionary]

        def word(index: int, tokens: tuple[str, ...] = tokens) -> str:
            # JavaScript objects put integer-like keys first: keep keys non-numeric.
            return next(t for t in tokens[index:] if not t.isdigit())

        add(
            f"dictionary_{dictionary}",
            Node(word(1), {word(0): tokens[255], word(128): tokens[37]}, tokens[200]),
        )
    add(
        "raw_string_content",
        Node("body", content="hello, world: not a token"),
    )
    return cases


CASES = _corpus()


def _jid_form_for_baileys(jid: JID) -> str:
    """The text Baileys' encoder turns into the same wire form as our JID."""
    hosted = jid.server in ("hosted", "hosted.lid")
    ad_servers = ("s.whatsapp.net", "lid", "hosted", "hosted.lid")
    if jid.server in ad_servers and (jid.device or jid.ad or jid.raw_agent or hosted):
        agent = f"_{jid.raw_agent}" if jid.raw_agent else ""
        return f"{jid.user}{agent}:{jid.device}@{jid.server}"
    return f"{jid.user}@{jid.server}"


def _jid_as_baileys_decodes(jid: JID) -> str:
    """The text Baileys' decoder produces for our JID's wire form (it drops raw agents)."""
    if jid.server == "msgr":
        return f"{jid.user}:{jid.device}@msgr"
    if jid.server == "interop":
        return f"{jid.integrator}-{jid.user}:{jid.device}@interop"
    device = f":{jid.device}" if jid.device else ""
    return f"{jid.user}{device}@{jid.server}"


def to_json(node: Node, jid_text: Any, *, decoded: bool) -> dict[str, Any]:
    """Our node as the harness's JSON; ``decoded``: as Baileys would decode it."""
    attrs = {k: jid_text(v) if isinstance(v, JID) else v for k, v in node.attrs.items()}
    content: Any = None
    value = node.content
    if isinstance(value, list):
        content = [to_json(child, jid_text, decoded=decoded) for child in value]
    elif isinstance(value, bytes):
        content = {"bytes": base64.b64encode(value).decode()}
    elif isinstance(value, JID):
        content = {"string": jid_text(value)}
    elif isinstance(value, str):
        if decoded and is_raw(value):
            content = {"bytes": base64.b64encode(value.encode()).decode()}
        else:
            content = {"string": value}
    return {"tag": node.tag, "attrs": attrs, "content": content}


@dataclass
class Exchange:
    ours: dict[str, bytes]
    theirs: dict[str, bytes | str]
    baileys_decoded: dict[str, Any]
    tokens: dict[str, Any]


@pytest.fixture(scope="module")
def exchange(node_harness_dir: Path) -> Exchange:
    ours = {case.name: marshal(case.node) for case in CASES}
    encodable = [case for case in CASES if case.baileys_encodes]
    request = {
        "encode": [to_json(c.node, _jid_form_for_baileys, decoded=False) for c in encodable],
        "decode": [ours[case.name].hex() for case in CASES],
    }
    reply = run_node_json(node_harness_dir, "binary_codec.mjs", request, timeout=120)
    theirs: dict[str, bytes | str] = {}
    for case, encoded in zip(encodable, reply["encoded"], strict=True):
        theirs[case.name] = bytes.fromhex(encoded) if isinstance(encoded, str) else str(encoded)
    decoded = dict(zip((case.name for case in CASES), reply["decoded"], strict=True))
    return Exchange(ours, theirs, decoded, reply["tokens"])


# Each tag form, and a case with no random binary content whose encoding must contain it.
TAG_FORM_CASES = {
    0: "list_empty_content",  # LIST_EMPTY
    236: "dictionary_0",
    237: "dictionary_1",
    238: "dictionary_2",
    239: "dictionary_3",
    245: "jid_interop",  # INTEROP_JID
    246: "jid_msgr",  # FB_JID
    247: "jid_pn_device",  # AD_JID
    248: "ping",  # LIST_8
    249: "list_16_children",  # LIST_16
    250: "jid_pn",  # JID_PAIR
    251: "hex_even",  # HEX_8
    252: "string_attr_utf8",  # BINARY_8
    253: "string_attr_binary_20",  # BINARY_20
    255: "nibble_even",  # NIBBLE_8
}


def test_corpus_is_large_and_covers_every_tag_form() -> None:
    assert len(CASES) >= 50
    by_name = {case.name: case for case in CASES}
    assert len(by_name) == len(CASES)
    for tag, name in TAG_FORM_CASES.items():
        # [1:]: past the flags byte, which is 0 like LIST_EMPTY.
        assert bytes((tag,)) in marshal(by_name[name].node)[1:], (tag, name)
    big = by_name["binary_32"].node.content
    assert isinstance(big, bytes)
    assert b"\xfe" + len(big).to_bytes(4, "big") in marshal(by_name["binary_32"].node)


def test_token_tables_match_baileys(exchange: Exchange) -> None:
    assert exchange.tokens["single"] == list(SINGLE_BYTE_TOKENS)
    assert exchange.tokens["double"] == [list(tokens) for tokens in DOUBLE_BYTE_TOKENS]


@pytest.mark.parametrize("case", [c for c in CASES if c.baileys_encodes], ids=lambda c: c.name)
def test_our_bytes_equal_baileys_bytes(exchange: Exchange, case: Case) -> None:
    theirs = exchange.theirs[case.name]
    assert isinstance(theirs, bytes), f"Baileys failed to encode: {theirs}"
    assert exchange.ours[case.name] == theirs


@pytest.mark.parametrize("case", [c for c in CASES if c.baileys_encodes], ids=lambda c: c.name)
def test_we_decode_baileys_bytes(exchange: Exchange, case: Case) -> None:
    theirs = exchange.theirs[case.name]
    assert isinstance(theirs, bytes), f"Baileys failed to encode: {theirs}"
    decoded = unmarshal(theirs)
    assert decoded == as_decoded(case.node)
    assert marshal(decoded) == theirs


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_baileys_decodes_our_bytes(exchange: Exchange, case: Case) -> None:
    expected = to_json(case.node, _jid_as_baileys_decodes, decoded=True)
    assert exchange.baileys_decoded[case.name] == expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_we_decode_our_bytes(exchange: Exchange, case: Case) -> None:
    decoded = unmarshal(exchange.ours[case.name])
    assert decoded == as_decoded(case.node)
    assert marshal(decoded) == exchange.ours[case.name]
