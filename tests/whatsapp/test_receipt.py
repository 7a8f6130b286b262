"""Receipt parsing, message sources and acks (pure functions, through the codec)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.message_source import is_own_user, parse_message_source
from mautrix_whatsapp.whatsapp.receipt import (
    NACK_PARSING_ERROR,
    ReceiptError,
    build_ack,
    parse_receipt,
)

OWN = JID("15550001111", "s.whatsapp.net", device=3)
OWN_LID = JID("987654321", "lid", device=3)
PHONE = JID("15550001111", "s.whatsapp.net")
PHONE_LID = JID("987654321", "lid")
CONTACT = JID("15550002222", "s.whatsapp.net")
GROUP = JID("120363000000000001", "g.us")


def _wire(node: Node) -> Node:
    return unmarshal(marshal(node))


def test_own_user_by_number_or_lid_any_device() -> None:
    assert is_own_user(PHONE, OWN, OWN_LID)
    assert is_own_user(JID(PHONE.user, "s.whatsapp.net", device=7), OWN, OWN_LID)
    assert is_own_user(PHONE_LID, OWN, OWN_LID)
    assert is_own_user(JID(PHONE.user, "hosted", device=99), OWN, OWN_LID)
    assert not is_own_user(CONTACT, OWN, OWN_LID)
    assert not is_own_user(JID(PHONE.user, "lid"), OWN, OWN_LID)  # a LID is not a number
    assert not is_own_user(JID(PHONE.user, "g.us"), OWN, OWN_LID)
    assert not is_own_user(PHONE, None, None)


def test_sources() -> None:
    own_dm = parse_message_source(
        _wire(Node("message", {"from": PHONE, "recipient": CONTACT, "id": "1", "t": "5"})),
        OWN,
        OWN_LID,
    )
    assert (own_dm.chat, own_dm.sender, own_dm.is_from_me) == (CONTACT, PHONE, True)
    assert own_dm.is_from_own_phone
    peer = parse_message_source(_wire(Node("message", {"from": PHONE_LID})), OWN, OWN_LID)
    assert peer.chat == PHONE_LID and peer.is_from_own_phone
    companion = JID(PHONE.user, "s.whatsapp.net", device=5)
    other_device = parse_message_source(_wire(Node("message", {"from": companion})), OWN, OWN_LID)
    assert other_device.is_from_me and not other_device.is_from_own_phone
    contact = parse_message_source(_wire(Node("message", {"from": CONTACT})), OWN, OWN_LID)
    assert contact.chat == CONTACT and not contact.is_from_me
    group = parse_message_source(
        _wire(Node("message", {"from": GROUP, "participant": PHONE})), OWN, OWN_LID
    )
    assert group.is_group and group.chat == GROUP and group.is_from_own_phone


def test_read_self_receipt_from_the_phone() -> None:
    node = _wire(
        Node(
            "receipt",
            {
                "from": PHONE,
                "recipient": CONTACT,
                "id": "A1",
                "t": "1700000000",
                "type": "read-self",
            },
            [Node("list", {}, [Node("item", {"id": "A2"}), Node("item", {"id": "A3"})])],
        )
    )
    [receipt] = parse_receipt(node, OWN, OWN_LID)
    assert receipt.chat == CONTACT and receipt.sender == PHONE
    assert receipt.is_from_me and receipt.is_from_own_phone and not receipt.is_group
    assert receipt.message_ids == ("A1", "A2", "A3")
    assert receipt.timestamp == datetime.fromtimestamp(1700000000, UTC)
    assert receipt.type == "read-self"


def test_contact_and_companion_receipts_are_not_the_phone() -> None:
    read = parse_receipt(
        _wire(Node("receipt", {"from": CONTACT, "id": "B", "t": "9", "type": "read"})),
        OWN,
        OWN_LID,
    )[0]
    assert read.chat == CONTACT and not read.is_from_me and not read.is_from_own_phone
    companion = JID(PHONE.user, "s.whatsapp.net", device=4)
    own_device = parse_receipt(
        _wire(Node("receipt", {"from": companion, "recipient": CONTACT, "id": "C", "t": "9"})),
        OWN,
        OWN_LID,
    )[0]
    assert own_device.is_from_me and not own_device.is_from_own_phone
    assert own_device.type == ""  # delivered


def test_group_receipts() -> None:
    single = parse_receipt(
        _wire(
            Node(
                "receipt",
                {
                    "from": GROUP,
                    "participant": PHONE_LID,
                    "id": "D",
                    "t": "9",
                    "type": "read-self",
                },
            )
        ),
        OWN,
        OWN_LID,
    )[0]
    assert single.is_group and single.chat == GROUP and single.is_from_own_phone
    grouped = _wire(
        Node(
            "receipt",
            {"from": GROUP, "id": "E", "type": "read"},
            [
                Node(
                    "participants",
                    {"key": "M1"},
                    [
                        Node("user", {"jid": CONTACT, "t": "10"}),
                        Node("user", {"jid": PHONE, "t": "11"}),
                    ],
                )
            ],
        )
    )
    first, second = parse_receipt(grouped, OWN, OWN_LID)
    assert first.sender == CONTACT and not first.is_from_me and first.message_ids == ("M1",)
    assert second.is_from_own_phone and second.timestamp == datetime.fromtimestamp(11, UTC)


@pytest.mark.parametrize(
    "node",
    [
        Node("receipt", {"id": "X", "t": "1"}),  # no from
        Node("receipt", {"from": "15550002222@s.whatsapp.net", "id": "X"}),  # text, not a JID
        Node("receipt", {"from": CONTACT, "t": "1"}),  # no id
        Node("receipt", {"from": CONTACT, "id": "X", "t": "soon"}),
        Node("receipt", {"from": GROUP, "id": "X"}),  # grouped without participants
    ],
)
def test_bad_receipts_raise_typed_errors(node: Node) -> None:
    with pytest.raises(ReceiptError):
        parse_receipt(_wire(node), OWN, OWN_LID)


def test_ack_of_a_receipt() -> None:
    node = _wire(
        Node(
            "receipt",
            {
                "from": GROUP,
                "participant": PHONE,
                "recipient": CONTACT,
                "id": "F",
                "t": "1",
                "type": "read-self",
            },
        )
    )
    ack = build_ack(node)
    assert ack.tag == "ack"
    assert ack.attrs == {
        "class": "receipt",
        "id": "F",
        "to": GROUP,
        "participant": PHONE,
        "recipient": CONTACT,
        "type": "read-self",
    }
    delivered = build_ack(_wire(Node("receipt", {"from": CONTACT, "id": "G"})), NACK_PARSING_ERROR)
    assert delivered.attrs == {"class": "receipt", "id": "G", "to": CONTACT, "error": "487"}
    # Messages are acked without their type (whatsmeow's sendAck).
    message_ack = build_ack(Node("message", {"from": CONTACT, "id": "H", "type": "text"}))
    assert "type" not in message_ack.attrs and message_ack.attrs["class"] == "message"
