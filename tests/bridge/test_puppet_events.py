"""Which client events reach the ghosts, and as what (``wa_session.translate_contact_event``)."""

from __future__ import annotations

from datetime import UTC, datetime

from mautrix_whatsapp.session import BusinessName, ContactNames, PushNames, UserPictureChanged
from mautrix_whatsapp.wa_session import translate_contact_event
from mautrix_whatsapp.whatsapp import events as ev
from mautrix_whatsapp.whatsapp.appstate import events as app_events
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.message_info import MessageInfo, parse_verified_name
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2, wa_vname_cert_pb2
from mautrix_whatsapp.whatsapp.proto import wa_sync_action_pb2 as sa

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOB = JID("15550002222", "s.whatsapp.net")
BOB_LID = JID("8800112233", "lid")


def _message(
    sender: JID, push_name: str, *, from_me: bool = False, verified_name: str = ""
) -> ev.Message:
    info = MessageInfo(
        chat=BOB,
        sender=sender,
        id="3EB0AA",
        timestamp=NOW,
        is_from_me=from_me,
        is_group=False,
        push_name=push_name,
        verified_name=verified_name,
    )
    return ev.Message(info=info, message=wa_e2e_pb2.Message(), raw=wa_e2e_pb2.Message())


def test_address_book_entries_become_contact_names() -> None:
    contact = app_events.Contact(BOB, "Bob Smith", "Bob", NOW, True, sa.ContactAction())
    assert translate_contact_event(contact) == ContactNames(str(BOB), "Bob Smith", "Bob")
    lid_contact = app_events.LIDContact(
        BOB_LID, "Bob", "", "bob", NOW, False, sa.LidContactAction()
    )
    assert translate_contact_event(lid_contact) == ContactNames(str(BOB_LID), "Bob", "")


def test_push_names_of_messages_from_others_only_and_without_device() -> None:
    named = translate_contact_event(_message(JID("15550002222", "s.whatsapp.net", 3), "bobby"))
    assert named == PushNames(((str(BOB), "bobby"),))
    assert translate_contact_event(_message(BOB, "")) is None
    assert translate_contact_event(_message(BOB, "me", from_me=True)) is None


def test_user_pictures_but_not_group_pictures() -> None:
    set_ = ev.PictureChanged(jid=BOB, author=BOB, timestamp=NOW, removed=False, picture_id="17")
    assert translate_contact_event(set_) == UserPictureChanged(str(BOB), "17")
    removed = ev.PictureChanged(jid=BOB_LID, author=None, timestamp=None, removed=True)
    assert translate_contact_event(removed) == UserPictureChanged(str(BOB_LID), "")
    group = ev.PictureChanged(
        jid=JID("1203630000-1", "g.us"), author=BOB, timestamp=NOW, removed=False, picture_id="9"
    )
    assert translate_contact_event(group) is None
    assert translate_contact_event(ev.Connected()) is None


def test_history_sync_push_names_without_the_empty_ones() -> None:
    chunk = ev.HistorySyncChunk(
        sync_type=ev.HistorySyncType.PUSH_NAME,
        chunk_order=1,
        progress=None,
        conversations=(),
        push_names=((BOB, "bobby"), (BOB_LID, "")),
        lid_mappings=(),
        global_settings=None,
        message_id="m",
        request_id=None,
        original_message_id="",
        raw=wa_history_sync_pb2.HistorySync(),
    )
    assert translate_contact_event(chunk) == PushNames(((str(BOB), "bobby"),))


def test_business_senders_bring_their_verified_name() -> None:
    event = translate_contact_event(_message(BOB, "bobby", verified_name="Bob's Bikes"))
    assert event == BusinessName(str(BOB), "Bob's Bikes", "bobby")


def test_verified_name_certificate_is_read_and_bad_ones_are_ignored() -> None:
    cert = wa_vname_cert_pb2.VerifiedNameCertificate
    details = cert.Details(serial=7, issuer="smb:wa", verifiedName="Bob's Bikes")
    good = cert(details=details.SerializeToString(), signature=b"sig").SerializeToString()
    assert parse_verified_name(Node("verified_name", {"v": "1"}, good)) == "Bob's Bikes"
    assert parse_verified_name(None) == ""
    assert parse_verified_name(Node("verified_name", {}, b"\xff\xff not protobuf")) == ""
    assert parse_verified_name(Node("verified_name", {}, "text")) == ""
