"""Media retry: the receipt we send our phone, and the phone's answer turned into a new direct
path (or a typed error). The phone's side here is written from whatsmeow ``mediaretry.go`` with
``cryptography`` directly; the simulator's phone answers it for real in the interop tests."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.media import MediaRetry, MediaRetryError, decrypt_media_retry
from mautrix_whatsapp.whatsapp.message_info import MessageInfo
from mautrix_whatsapp.whatsapp.proto.wa_mms_retry_pb2 import (
    MediaRetryNotification,
    ServerErrorReceipt,
)
from tests.whatsapp.canned_server import CannedServer

OWN = JID.parse("15550001111:3@s.whatsapp.net")
GROUP = JID.parse("120363000000000001@g.us")
ALICE = JID.parse("15550002222:0@s.whatsapp.net")


def phone_key(media_key: bytes) -> bytes:
    hkdf = HKDF(SHA256(), 32, salt=None, info=b"WhatsApp Media Retry Notification")
    return hkdf.derive(media_key)


def info(chat: JID, sender: JID, *, group: bool, from_me: bool = False) -> MessageInfo:
    return MessageInfo(
        chat=chat,
        sender=sender,
        id="3EB0AAAA",
        timestamp=datetime.now(UTC),
        is_from_me=from_me,
        is_group=group,
    )


async def test_retry_receipt_shape_and_payload() -> None:
    canned = CannedServer(own=OWN)
    media_key = os.urandom(32)
    await canned.client.media.send_retry_receipt(info(GROUP, ALICE, group=True), media_key)
    (receipt,) = canned.sent
    assert receipt.tag == "receipt"
    assert receipt.attrs["type"] == "server-error"
    assert receipt.attrs["id"] == "3EB0AAAA"
    assert str(receipt.attrs["to"]) == "15550001111@s.whatsapp.net"
    rmr = receipt.get_child_by_tag("rmr")
    assert str(rmr.attrs["jid"]) == str(GROUP)
    assert rmr.attrs["from_me"] == "false"
    assert str(rmr.attrs["participant"]) == str(ALICE)
    enc_p = receipt.get_child_by_tag("encrypt", "enc_p").content_bytes()
    enc_iv = receipt.get_child_by_tag("encrypt", "enc_iv").content_bytes()
    assert len(enc_iv) == 12
    plain = AESGCM(phone_key(media_key)).decrypt(enc_iv, enc_p, b"3EB0AAAA")
    assert ServerErrorReceipt.FromString(plain).stanzaID == "3EB0AAAA"
    # A DM: no participant.
    await canned.client.media.send_retry_receipt(info(ALICE, ALICE, group=False), media_key)
    assert "participant" not in canned.sent[-1].get_child_by_tag("rmr").attrs


def notification(children: list[Node]) -> Node:
    rmr = Node("rmr", {"jid": ALICE, "from_me": "false"})
    attrs: dict[str, str | JID] = {"id": "3EB0AAAA", "type": "mediaretry", "t": "1700000000"}
    attrs["from"] = OWN.to_non_ad()
    return Node("notification", attrs, [rmr, *children])


def encrypted(media_key: bytes, answer: MediaRetryNotification) -> list[Node]:
    iv = os.urandom(12)
    ciphertext = AESGCM(phone_key(media_key)).encrypt(iv, answer.SerializeToString(), b"3EB0AAAA")
    return [Node("encrypt", {}, [Node("enc_p", {}, ciphertext), Node("enc_iv", {}, iv)])]


async def test_answer_becomes_event_and_new_path() -> None:
    canned = CannedServer(own=OWN)
    media_key = os.urandom(32)
    ok = MediaRetryNotification(
        stanzaID="3EB0AAAA", directPath="/v/t62/new.enc?x=1", result=MediaRetryNotification.SUCCESS
    )
    await canned.feed(notification(encrypted(media_key, ok)))
    event = await canned.log.wait_for(MediaRetry)
    assert (event.message_id, event.chat, event.from_me) == ("3EB0AAAA", ALICE, False)
    assert decrypt_media_retry(event, media_key).directPath == "/v/t62/new.enc?x=1"
    with pytest.raises(MediaRetryError):
        decrypt_media_retry(event, os.urandom(32))
    # The notification was acked.
    assert canned.sent[-1].tag == "ack"

    not_found = MediaRetryNotification(
        stanzaID="3EB0AAAA", result=MediaRetryNotification.NOT_FOUND
    )
    await canned.feed(notification(encrypted(media_key, not_found)))
    event = await canned.log.wait_for(MediaRetry, count=2)
    with pytest.raises(MediaRetryError) as caught:
        decrypt_media_retry(event, media_key)
    assert caught.value.code == MediaRetryNotification.NOT_FOUND

    await canned.feed(notification([Node("error", {"code": "2"})]))
    event = await canned.log.wait_for(MediaRetry, count=3)
    assert event.error_code == 2
    with pytest.raises(MediaRetryError, match="not on the phone") as caught:
        decrypt_media_retry(event, media_key)
    assert caught.value.code == 2


async def test_malformed_answers_are_dropped() -> None:
    canned = CannedServer(own=OWN)
    await canned.feed(Node("notification", {"id": "x", "type": "mediaretry", "from": OWN}))
    await canned.feed(notification([Node("encrypt", {}, [Node("enc_p", {}, b"x")])]))
    assert canned.log.of(MediaRetry) == []
    assert [node.tag for node in canned.sent] == ["ack", "ack"]
    # Garbage that parses but does not decrypt: a typed error, not a crash.
    await canned.feed(
        notification(
            [Node("encrypt", {}, [Node("enc_p", {}, b"x" * 40), Node("enc_iv", {}, b"y" * 12)])]
        )
    )
    event = await canned.log.wait_for(MediaRetry)
    with pytest.raises(MediaRetryError):
        decrypt_media_retry(event, os.urandom(32))
