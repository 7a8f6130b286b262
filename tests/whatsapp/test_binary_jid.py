"""JID text forms, helpers and Signal addresses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.binary import (
    DEFAULT_USER_SERVER,
    JID,
    SERVER_JID,
    STATUS_BROADCAST_JID,
    JIDParseError,
)


@pytest.mark.parametrize(
    ("text", "user", "server", "device", "agent", "integrator"),
    [
        ("15551234567@s.whatsapp.net", "15551234567", "s.whatsapp.net", 0, 0, 0),
        ("15551234567:12@s.whatsapp.net", "15551234567", "s.whatsapp.net", 12, 0, 0),
        ("15551234567.5:2@s.whatsapp.net", "15551234567", "s.whatsapp.net", 2, 5, 0),
        ("98765432109876@lid", "98765432109876", "lid", 0, 0, 0),
        ("98765432109876:7@lid", "98765432109876", "lid", 7, 0, 0),
        ("120363012345678901@g.us", "120363012345678901", "g.us", 0, 0, 0),
        ("15551234567-1600000000@g.us", "15551234567-1600000000", "g.us", 0, 0, 0),
        ("status@broadcast", "status", "broadcast", 0, 0, 0),
        ("1600000000@broadcast", "1600000000", "broadcast", 0, 0, 0),
        ("120363123456789012@newsletter", "120363123456789012", "newsletter", 0, 0, 0),
        ("15551234567:99@hosted", "15551234567", "hosted", 99, 0, 0),
        ("98765432109876:99@hosted.lid", "98765432109876", "hosted.lid", 99, 0, 0),
        ("100012345678901:5@msgr", "100012345678901", "msgr", 5, 0, 0),
        ("7-15551234567:1@interop", "15551234567", "interop", 1, 0, 7),
        ("867051314767696@bot", "867051314767696", "bot", 0, 0, 0),
        ("16505361212@c.us", "16505361212", "c.us", 0, 0, 0),
        ("s.whatsapp.net", "", "s.whatsapp.net", 0, 0, 0),
        ("g.us", "", "g.us", 0, 0, 0),
        ("@newsletter", "", "newsletter", 0, 0, 0),
    ],
)
def test_parse_and_format(
    text: str, user: str, server: str, device: int, agent: int, integrator: int
) -> None:
    jid = JID.parse(text)
    assert (jid.user, jid.server, jid.device, jid.raw_agent, jid.integrator) == (
        user,
        server,
        device,
        agent,
        integrator,
    )
    assert JID.parse(str(jid)) == jid
    if not text.startswith("@"):
        assert str(jid) == text


def test_device_zero_keeps_its_text_form() -> None:
    jid = JID.parse("123:0@s.whatsapp.net")
    assert jid.ad and jid.device == 0
    assert str(jid) == "123:0@s.whatsapp.net"
    assert jid == JID.parse("123@s.whatsapp.net")
    assert hash(jid) == hash(JID.parse("123@s.whatsapp.net"))
    assert str(jid.to_non_ad()) == "123@s.whatsapp.net"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        "@",
        "123@",
        "a@b@c",
        "123:x@s.whatsapp.net",
        "123:70000@s.whatsapp.net",
        "123.300:1@s.whatsapp.net",
        "123.1.2:1@s.whatsapp.net",
        "123:1:2@s.whatsapp.net",
        ":1@s.whatsapp.net",
        "12 3@s.whatsapp.net",
        "123@S.WhatsApp.net",
        "١٢٣@s.whatsapp.net",  # non-ASCII digits
        "123@s..net",
        "99999-1@interop",
        "123\n@s.whatsapp.net",
    ],
)
def test_parse_rejects_garbage(garbage: str) -> None:
    with pytest.raises(JIDParseError):
        JID.parse(garbage)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(JIDParseError):
        JID.parse(b"123@s.whatsapp.net")  # type: ignore[arg-type]


@settings(deadline=None)  # correctness, not speed: a busy CI core must not fail it
@given(st.text(max_size=40))
def test_parse_never_raises_anything_else(text: str) -> None:
    try:
        jid = JID.parse(text)
    except JIDParseError:
        return
    assert JID.parse(str(jid)) == jid


@settings(deadline=None)
@given(
    user=st.from_regex(r"[1-9][0-9]{0,15}", fullmatch=True),
    server=st.sampled_from(["s.whatsapp.net", "lid", "hosted", "hosted.lid", "msgr"]),
    device=st.integers(0, 255),
    agent=st.integers(0, 255),
)
def test_format_parse_round_trip(user: str, server: str, device: int, agent: int) -> None:
    jid = JID(user, server, device, agent if server == "s.whatsapp.net" else 0)
    assert JID.parse(str(jid)) == jid


def test_signal_address() -> None:
    assert JID.parse("15551234567:3@s.whatsapp.net").signal_address == ("15551234567", 3)
    assert JID.parse("98765:2@lid").signal_address == ("98765_1", 2)
    assert JID.parse("98765:99@hosted.lid").signal_address_user == "98765_129"
    assert JID.parse("15551234567:99@hosted").signal_address_user == "15551234567_128"
    assert JID.parse("15551234567@s.whatsapp.net").signal_address == ("15551234567", 0)
    assert JID.parse("1.5:2@s.whatsapp.net").signal_address == ("1_5", 2)


def test_to_non_ad() -> None:
    assert JID.parse("1.5:2@s.whatsapp.net").to_non_ad() == JID("1", DEFAULT_USER_SERVER)
    assert JID.parse("7-1:2@interop").to_non_ad() == JID("1", "interop", integrator=7)
    plain = JID.parse("1@lid")
    assert plain.to_non_ad() is plain


def test_predicates() -> None:
    assert JID.parse("1@g.us").is_group
    assert not JID.parse("1@s.whatsapp.net").is_group
    assert STATUS_BROADCAST_JID.is_status_broadcast and STATUS_BROADCAST_JID.is_broadcast
    assert not STATUS_BROADCAST_JID.is_broadcast_list
    assert JID.parse("123@broadcast").is_broadcast_list
    assert JID.parse("1@newsletter").is_newsletter
    assert JID.parse("1@lid").is_lid and JID.parse("1:99@hosted.lid").is_lid
    assert JID.parse("1:99@hosted").is_hosted and not JID.parse("1@lid").is_hosted
    assert JID.parse("1:2@s.whatsapp.net").is_user and not JID.parse("1@g.us").is_user
    assert JID.parse("1@s.whatsapp.net").is_pn
    assert JID.parse("13135550002@s.whatsapp.net").is_bot
    assert JID.parse("867051314767696@bot").is_bot
    assert not JID.parse("15551234567@s.whatsapp.net").is_bot
    assert SERVER_JID.is_server and not SERVER_JID.is_user
    assert JID("", "").is_empty
    assert JID.parse("15551234567@s.whatsapp.net").user_int == 15551234567
    with pytest.raises(JIDParseError):
        _ = JID.parse("status@broadcast").user_int


def test_jid_is_immutable_and_hashable() -> None:
    jid = JID.parse("1:2@s.whatsapp.net")
    with pytest.raises(AttributeError):
        jid.device = 3  # type: ignore[misc]
    assert {jid: 1}[JID("1", "s.whatsapp.net", 2)] == 1
    assert repr(jid) == "<JID 1:2@s.whatsapp.net>"


def test_user_less_jid_needs_a_known_server() -> None:
    """Found by hypothesis: "@0" parsed into a JID whose text form "0" did not read back."""
    assert str(JID.parse("@s.whatsapp.net")) == "s.whatsapp.net"
    with pytest.raises(JIDParseError):
        JID.parse("@0")
