"""Message builders, the stanza attributes they imply, and poll-vote encryption vectors."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.msgsecret import (
    MessageSecretError,
    decrypt_poll_vote,
    encrypt_poll_vote,
)
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

ME = JID("1000", "s.whatsapp.net", 5)
BOB = JID("2000", "s.whatsapp.net")
GROUP = JID("120363000000000001", "g.us")


def _hkdf(secret: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 spelled out (no salt), independent of the client's helper."""
    prk = hmac.digest(b"\x00" * 32, secret, "sha256")
    out, block = b"", b""
    for counter in range(1, 2 + length // 32):
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        out += block
    return out[:length]


def _reference_vote(
    secret: bytes, poll_id: str, poll_sender: str, voter: str, options: list[str], iv: bytes
) -> bytes:
    """whatsmeow's ``generateMsgSecretKey`` + GCM, as its source describes them."""
    key = _hkdf(secret, f"{poll_id}{poll_sender}{voter}Poll Vote".encode(), 32)
    body = wa_e2e_pb2.PollVoteMessage(
        selectedOptions=[hashlib.sha256(o.encode()).digest() for o in options]
    ).SerializeToString()
    return AESGCM(key).encrypt(iv, body, f"{poll_id}\x00{voter}".encode())


def test_poll_vote_matches_the_reference_algorithm() -> None:
    secret = bytes(range(32))
    iv = bytes(range(12))
    ours = encrypt_poll_vote(
        secret, poll_id="3EB0ABC", poll_sender=ME, voter=BOB, selected=["b", "a"], iv=iv
    )
    # Devices do not count: the JIDs go in as users.
    expected = _reference_vote(
        secret, "3EB0ABC", "1000@s.whatsapp.net", "2000@s.whatsapp.net", ["b", "a"], iv
    )
    assert ours.encPayload == expected and ours.encIV == iv
    back = decrypt_poll_vote(
        secret,
        poll_id="3EB0ABC",
        poll_sender=ME.to_non_ad(),
        voter=JID("2000", BOB.server, 3),
        vote=ours,
    )
    assert list(back.selectedOptions) == [mb.poll_option_hash("b"), mb.poll_option_hash("a")]


@pytest.mark.parametrize("change", ["secret", "voter", "poll", "payload", "iv"])
def test_poll_vote_fails_typed_when_anything_differs(change: str) -> None:
    secret = b"\x07" * 32
    vote = encrypt_poll_vote(secret, poll_id="P", poll_sender=ME, voter=BOB, selected=["x"])
    kwargs = {"poll_id": "P", "poll_sender": ME, "voter": BOB}
    if change == "secret":
        secret = b"\x08" * 32
    elif change == "voter":
        kwargs["voter"] = JID("2001", BOB.server)
    elif change == "poll":
        kwargs["poll_id"] = "Q"
    elif change == "payload":
        vote.encPayload = vote.encPayload[:-1] + bytes([vote.encPayload[-1] ^ 1])
    else:
        vote.encIV = b"short"
    with pytest.raises(MessageSecretError):
        decrypt_poll_vote(secret, vote=vote, **kwargs)  # type: ignore[arg-type]


def test_poll_has_a_fresh_secret_and_distinct_options() -> None:
    first, second = mb.poll("Q", ["a", "b"]), mb.poll("Q", ["a", "b"])
    assert len(first.messageContextInfo.messageSecret) == 32
    assert first.messageContextInfo.messageSecret != second.messageContextInfo.messageSecret
    assert [o.optionName for o in first.pollCreationMessageV3.options] == ["a", "b"]
    with pytest.raises(ValueError):
        mb.poll("Q", ["a", "a"])


def test_message_keys() -> None:
    own = mb.message_key(BOB, "ID1", None)
    assert own.fromMe and own.remoteJID == str(BOB) and not own.HasField("participant")
    theirs_dm = mb.message_key(BOB, "ID2", BOB, own=[ME])
    assert not theirs_dm.fromMe and not theirs_dm.HasField("participant")
    theirs_group = mb.message_key(GROUP, "ID3", JID("2000", BOB.server, 4), own=[ME])
    assert not theirs_group.fromMe and theirs_group.participant == str(BOB)
    ours_by_jid = mb.message_key(GROUP, "ID4", JID("1000", BOB.server, 0), own=[ME])
    assert ours_by_jid.fromMe


def test_edit_attributes() -> None:
    assert mb.edit_attribute(mb.edit(BOB, "X", mb.text("new"))) == "1"
    assert mb.edit_attribute(mb.revoke(BOB, "X")) == "7"
    assert mb.edit_attribute(mb.revoke(GROUP, "X", BOB, own=[ME])) == "8"
    assert mb.edit_attribute(mb.reaction(BOB, "X", None, "")) == "7"
    assert mb.edit_attribute(mb.reaction(BOB, "X", None, "❤")) == ""
    assert mb.edit_attribute(mb.text("plain")) == ""


def test_types_through_wrappers() -> None:
    contact = mb.contact("Ann", mb.vcard("Ann", "+15550100"))
    assert "waid=15550100" in contact.contactMessage.vcard
    assert mb.message_type(mb.view_once(contact)) == "media"
    assert mb.media_type(mb.ephemeral(contact, 86400)) == "vcard"
    assert mb.message_type(mb.ephemeral(mb.text("x"), 60)) == "text"
    assert mb.message_type(mb.reaction(BOB, "X", None, "👍")) == "reaction"
    assert mb.poll_type(mb.poll("Q", ["a", "b"])) == "creation"
    assert mb.poll_type(wa_e2e_pb2.Message(pollUpdateMessage={})) == "vote"
    assert mb.poll_type(mb.text("x")) is None


def test_replies_mentions_and_timers() -> None:
    quoted = mb.text("original")
    reply = mb.reply("answer", "3EB0Q", JID("2000", BOB.server, 2), quoted, mentions=[BOB])
    info = reply.extendedTextMessage.contextInfo
    assert info.stanzaID == "3EB0Q" and info.participant == str(BOB)
    assert info.quotedMessage == quoted and list(info.mentionedJID) == [str(BOB)]
    mention = mb.mention("hi @2000", [BOB])
    assert list(mention.extendedTextMessage.contextInfo.mentionedJID) == [str(BOB)]
    timed = mb.ephemeral(mb.text("vanishing"), 604800)
    inner = timed.ephemeralMessage.message.extendedTextMessage
    assert inner.text == "vanishing" and inner.contextInfo.expiration == 604800
    located = mb.location(1.5, 2.5, name="Here", address="Street 1")
    assert located.locationMessage.degreesLatitude == 1.5
    assert located.locationMessage.address == "Street 1"
