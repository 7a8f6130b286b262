"""WhatsApp → Matrix conversion of locations, contacts, polls and votes, group invites,
disappearing-timer and call notices."""

from __future__ import annotations

import hashlib

from mautrix_whatsapp.msgconv import (
    convert_call_start,
    convert_to_matrix,
    disappearing_notice,
    poll_option_id,
)
from mautrix_whatsapp.msgconv.misc import format_duration
from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.proto import wa_common_pb2, wa_e2e_pb2
from tests.bridge.msgconv_fakes import FakeContext, jpeg


async def test_location_with_name_and_address() -> None:
    message = mb.location(52.37021, 4.89517, name="Dam Square", address="Dam, Amsterdam")
    [part] = (await convert_to_matrix(FakeContext(), message)).parts
    url = "https://maps.google.com/?q=52.37021,4.89517"
    assert part.content == {
        "msgtype": "m.location",
        "body": f"Location: Dam Square\nDam, Amsterdam\n{url}",
        "format": "org.matrix.custom.html",
        "formatted_body": f'Location: <a href="{url}">Dam Square</a><br>Dam, Amsterdam',
        "geo_uri": "geo:52.37021,4.89517",
        "m.mentions": {},
    }


async def test_unnamed_location_is_named_by_its_coordinates_with_thumbnail() -> None:
    thumb = jpeg(16, 16)
    ctx = FakeContext()
    message = mb.location(-33.8688, -151.2093)
    message.locationMessage.JPEGThumbnail = thumb
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["body"].startswith("Location: 33.8688° S 151.2093° W\n")
    assert content["geo_uri"] == "geo:-33.86880,-151.20930"
    assert content["info"]["thumbnail_url"] == "mxc://test/1"
    assert content["info"]["thumbnail_info"] == {
        "mimetype": "image/jpeg",
        "size": len(thumb),
        "w": 16,
        "h": 16,
    }


async def test_live_location_is_a_notice() -> None:
    message = wa_e2e_pb2.Message(
        liveLocationMessage=wa_e2e_pb2.LiveLocationMessage(
            degreesLatitude=1.0, degreesLongitude=2.0, caption="on my way"
        )
    )
    [part] = (await convert_to_matrix(FakeContext(), message)).parts
    assert part.content["msgtype"] == "m.notice"
    assert part.content["body"] == (
        "Started sharing live location: on my way\n\nUse the WhatsApp app to see the location."
    )


async def test_contact_card_is_a_vcf_file() -> None:
    card = mb.vcard("Carol", "+15550003")
    ctx = FakeContext()
    [part] = (await convert_to_matrix(ctx, mb.contact("Carol", card))).parts
    assert part.content == {
        "msgtype": "m.file",
        "body": "Carol.vcf",
        "filename": "Carol.vcf",
        "url": "mxc://test/1",
        "info": {"mimetype": "text/vcard", "size": len(card.encode())},
        "m.mentions": {},
    }
    assert ctx.uploads[0].data == card.encode()
    assert ctx.uploads[0].mimetype == "text/vcard"


async def test_contact_upload_failure_is_a_notice() -> None:
    ctx = FakeContext(upload_error=RuntimeError("down"))
    [part] = (await convert_to_matrix(ctx, mb.contact("Carol", "BEGIN:VCARD"))).parts
    assert part.content["body"] == "Failed to reupload vcard"


async def test_contacts_array_is_a_text_then_one_file_each() -> None:
    contacts = [
        wa_e2e_pb2.ContactMessage(displayName=name, vcard=mb.vcard(name, phone))
        for name, phone in (("Carol", "+1555"), ("Dave", "+1666"))
    ]
    message = wa_e2e_pb2.Message(
        contactsArrayMessage=wa_e2e_pb2.ContactsArrayMessage(displayName="2", contacts=contacts)
    )
    ctx = FakeContext()
    parts = (await convert_to_matrix(ctx, message)).parts
    assert [p.part_id for p in parts] == ["", "1", "2"]
    assert parts[0].content["body"] == "Shared 2 contacts: Carol, Dave"
    assert [p.content["filename"] for p in parts[1:]] == ["Carol.vcf", "Dave.vcf"]
    assert [u.data for u in ctx.uploads] == [c.vcard.encode() for c in contacts]


async def test_poll_creation_is_msc3381_poll_start() -> None:
    message = mb.poll("Lunch?", ["Pizza", "Sushi"], selectable=1)
    [part] = (await convert_to_matrix(FakeContext(), message)).parts
    assert part.event_type == "org.matrix.msc3381.poll.start"
    suffix = "(This message is a poll. Please open WhatsApp to vote.)"
    body = f"Lunch?\n\n1. Pizza\n\n2. Sushi\n\n\n{suffix}"
    assert part.content["body"] == body
    assert part.content["formatted_body"] == (
        "<p>Lunch?</p><ol><li>Pizza</li><li>Sushi</li></ol>"
        "<p>(This message is a poll. Please open WhatsApp to vote.)</p>"
    )
    start = part.content["org.matrix.msc3381.poll.start"]
    assert start["kind"] == "org.matrix.msc3381.poll.disclosed"
    assert start["max_selections"] == 1
    assert start["question"] == {"org.matrix.msc1767.text": "Lunch?"}
    assert start["answers"] == [
        {"id": hashlib.sha256(b"Pizza").hexdigest(), "org.matrix.msc1767.text": "Pizza"},
        {"id": hashlib.sha256(b"Sushi").hexdigest(), "org.matrix.msc1767.text": "Sushi"},
    ]
    assert part.content["fi.mau.whatsapp.poll"]["option_names"] == ["Pizza", "Sushi"]


async def test_poll_with_unlimited_choices_allows_every_option() -> None:
    message = mb.poll("Pick", ["a", "b", "c"], selectable=0)
    start = (
        (await convert_to_matrix(FakeContext(), message))
        .parts[0]
        .content["org.matrix.msc3381.poll.start"]
    )
    assert start["max_selections"] == 3


def vote(poll_id: str) -> wa_e2e_pb2.Message:
    key = wa_common_pb2.MessageKey(remoteJID="", ID=poll_id, fromMe=True)
    return wa_e2e_pb2.Message(
        pollUpdateMessage=wa_e2e_pb2.PollUpdateMessage(pollCreationMessageKey=key)
    )


async def test_poll_vote_is_a_response_to_the_poll() -> None:
    ctx = FakeContext(messages={("", "POLL1"): "$poll"}, votes=[mb.poll_option_hash("Sushi")])
    [part] = (await convert_to_matrix(ctx, vote("POLL1"))).parts
    assert part.event_type == "org.matrix.msc3381.poll.response"
    assert part.content == {
        "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"},
        "org.matrix.msc3381.poll.response": {"answers": [poll_option_id("Sushi")]},
    }


async def test_vote_on_unknown_or_undecryptable_poll_is_left_out() -> None:
    assert (await convert_to_matrix(FakeContext(votes=[]), vote("NOPE"))).parts == []
    ctx = FakeContext(messages={("", "POLL1"): "$poll"}, votes=None)
    assert (await convert_to_matrix(ctx, vote("POLL1"))).parts == []


async def test_group_invite_explains_how_to_accept() -> None:
    message = wa_e2e_pb2.Message(
        groupInviteMessage=wa_e2e_pb2.GroupInviteMessage(
            groupJID="120363000000000001@g.us",
            inviteCode="AbCd",
            inviteExpiration=1767225600,
            groupName="Book <club>",
            caption="Join us",
        )
    )
    converted = await convert_to_matrix(
        FakeContext(), message, sender="15550001@s.whatsapp.net", command_prefix="!wa"
    )
    content = converted.parts[0].content
    lead = 'This invitation to join "Book <club>" expires at 2026-01-01 00:00:00 +0000 UTC. '
    assert content["body"] == (
        f"Join us\n\n---\n\n{lead}Reply to this message with `!wa accept` to accept the invite."
    )
    assert content["formatted_body"] == (
        "Join us<hr/>This invitation to join &quot;Book &lt;club&gt;&quot; expires at "
        "2026-01-01 00:00:00 +0000 UTC. Reply to this message with <code>!wa accept</code> "
        "to accept the invite."
    )
    assert content["fi.mau.whatsapp.invite"] == {
        "jid": "120363000000000001@g.us",
        "code": "AbCd",
        "expiration": 1767225600,
        "inviter": "15550001@s.whatsapp.net",
        "group_name": "Book <club>",
        "is_parent_group": False,
    }


async def test_broken_group_invite_cannot_be_accepted() -> None:
    message = wa_e2e_pb2.Message(
        groupInviteMessage=wa_e2e_pb2.GroupInviteMessage(groupJID="garbage", groupName="G")
    )
    content = (await convert_to_matrix(FakeContext(), message)).parts[0].content
    assert "cannot be accepted" in content["body"]
    assert "fi.mau.whatsapp.invite" not in content


def test_durations_are_worded_like_the_go_bridge() -> None:
    assert format_duration(86400) == "1 day"
    assert format_duration(7 * 86400) == "7 days"
    assert format_duration(90 * 86400) == "90 days"
    assert format_duration(3600 + 1800) == "1 hour and 30 minutes"
    assert format_duration(86400 + 3600 + 61) == "1 day, 1 hour, 1 minute and 1 second"


def test_implicit_timer_notices() -> None:
    on = disappearing_notice(86400, implicit=True).content
    assert on["body"] == (
        "Automatically enabled disappearing message timer (1 day) because incoming message is "
        "disappearing"
    )
    assert on["com.beeper.action_message"] == {
        "type": "disappearing_timer",
        "timer": 86400000,
        "timer_type": "after_send",
        "implicit": True,
        "backfill": False,
    }
    off = disappearing_notice(0, implicit=True).content
    assert off["body"] == (
        "Automatically turned off disappearing messages because incoming message is not "
        "disappearing"
    )


def test_call_notices() -> None:
    plain = convert_call_start().content
    assert plain["body"] == "Incoming call. Use the WhatsApp app to answer."
    assert plain["com.beeper.action_message"] == {"type": "call"}
    video = convert_call_start("video").content
    assert video["body"] == "Incoming video call. Use the WhatsApp app to answer."
    assert video["com.beeper.action_message"] == {"type": "call", "call_type": "video"}
    assert video["msgtype"] == "m.text"


async def test_invite_with_absurd_expiry_still_converts() -> None:
    message = wa_e2e_pb2.Message(
        groupInviteMessage=wa_e2e_pb2.GroupInviteMessage(
            groupJID="120363000000000001@g.us", inviteCode="x", inviteExpiration=2**62
        )
    )
    content = (await convert_to_matrix(FakeContext(), message)).parts[0].content
    assert f"expires at {2**62}." in content["body"]
    assert content["msgtype"] == "m.text"
