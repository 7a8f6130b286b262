"""WhatsApp → Matrix conversion of text and what every kind shares: mentions, replies, link
previews, forwards, timers, edits, reactions, revokes, unknown kinds."""

from __future__ import annotations

import base64

from mautrix_whatsapp.msgconv import (
    MentionTarget,
    RevokeTarget,
    convert_reaction,
    convert_revoke,
    convert_to_matrix,
    message_kind,
)
from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.bridge.msgconv_fakes import FakeContext, jpeg

ALICE = JID.parse("15550001@s.whatsapp.net")
BOB = JID.parse("15550002@s.whatsapp.net")
GROUP = JID.parse("120363000000000001@g.us")
ALICE_MXID = "@whatsapp_15550001:example.org"


def alice_context() -> FakeContext:
    return FakeContext(mentions={str(ALICE): MentionTarget(ALICE_MXID, "Alice (WA)")})


async def test_plain_conversation_is_m_text_without_html() -> None:
    converted = await convert_to_matrix(FakeContext(), mb.text("hello\nworld"))
    assert len(converted.parts) == 1
    part = converted.parts[0]
    assert part.event_type == "m.room.message"
    assert part.part_id == ""
    assert part.content == {
        "msgtype": "m.text",
        "body": "hello\nworld",
        "com.beeper.linkpreviews": [],
        "m.mentions": {},
    }
    assert converted.reply_to is None and converted.edit_of is None


async def test_html_special_characters_are_escaped() -> None:
    ctx = alice_context()
    message = mb.mention("<b>hi</b> @15550001 & co", [ALICE])
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert "<b>" not in content["formatted_body"]
    assert "&lt;b&gt;hi&lt;/b&gt;" in content["formatted_body"]
    assert "&amp; co" in content["formatted_body"]


async def test_mention_becomes_pill_and_m_mentions() -> None:
    converted = await convert_to_matrix(alice_context(), mb.mention("hi @15550001!", [ALICE]))
    content = converted.parts[0].content
    assert content["body"] == "hi Alice (WA)!"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == (
        f'hi <a href="https://matrix.to/#/{ALICE_MXID}">Alice (WA)</a>!'
    )
    assert content["m.mentions"] == {"user_ids": [ALICE_MXID]}
    assert converted.mentioned_user_ids == [ALICE_MXID]


async def test_unknown_mention_stays_as_number_and_room_mention_sets_room() -> None:
    context = mb.context_info(mentions=[BOB])
    context.nonJIDMentions = 1
    message = mb.text("@15550002 @all", context=context)
    converted = await convert_to_matrix(alice_context(), message)
    content = converted.parts[0].content
    assert content["body"] == "@15550002 @all"
    assert content["m.mentions"] == {"room": True}


async def test_reply_points_at_the_bridged_event() -> None:
    ctx = FakeContext(messages={("", "ORIG1"): "$orig"})
    converted = await convert_to_matrix(ctx, mb.reply("answer", "ORIG1", ALICE))
    assert converted.reply_to == "$orig"
    assert converted.parts[0].content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$orig"}}
    assert converted.parts[0].content["body"] == "answer"


async def test_reply_uses_the_quoted_chat_when_named() -> None:
    ctx = FakeContext(messages={(str(GROUP), "ORIG1"): "$in-group"})
    context = mb.context_info(reply_to="ORIG1", reply_sender=ALICE)
    context.remoteJID = str(GROUP)
    converted = await convert_to_matrix(ctx, mb.text("x", context=context))
    assert converted.reply_to == "$in-group"


async def test_reply_to_unbridged_message_is_plain_message() -> None:
    converted = await convert_to_matrix(FakeContext(), mb.reply("answer", "NOPE", ALICE))
    assert converted.reply_to is None
    assert "m.relates_to" not in converted.parts[0].content
    assert converted.parts[0].content["body"] == "answer"


async def test_link_preview_is_bundled_with_uploaded_thumbnail() -> None:
    thumb = jpeg(64, 48)
    ctx = FakeContext()
    message = wa_e2e_pb2.Message(
        extendedTextMessage=wa_e2e_pb2.ExtendedTextMessage(
            text="look https://example.com/a",
            matchedText="https://example.com/a",
            title="Example",
            description="An example page",
            JPEGThumbnail=thumb,
            previewType=wa_e2e_pb2.ExtendedTextMessage.VIDEO,
        )
    )
    content = (await convert_to_matrix(ctx, message)).parts[0].content
    assert content["com.beeper.linkpreviews"] == [
        {
            "matched_url": "https://example.com/a",
            "og:title": "Example",
            "og:description": "An example page",
            "og:image": "mxc://test/1",
            "og:image:type": "image/jpeg",
            "matrix:image:size": len(thumb),
            "og:image:width": 64,
            "og:image:height": 48,
            "og:type": "video.other",
        }
    ]
    assert ctx.uploads[0].data == thumb


async def test_forwarded_text_gets_the_forwarded_lead() -> None:
    context = wa_e2e_pb2.ContextInfo(isForwarded=True, forwardingScore=1)
    content = (
        (await convert_to_matrix(FakeContext(), mb.text("fwd", context=context))).parts[0].content
    )
    assert content["body"] == "↷ Forwarded\n\nfwd"
    assert content["formatted_body"] == ("<p data-mx-forwarded-notice><em>↷ Forwarded</em></p>fwd")


async def test_disappearing_message_carries_its_timer() -> None:
    converted = await convert_to_matrix(FakeContext(), mb.ephemeral(mb.text("poof"), 86400))
    assert converted.disappear_seconds == 86400
    assert converted.parts[0].content["body"] == "poof"
    context = mb.context_info(expiration=3600)
    context.ephemeralSettingTimestamp = 1764979200
    timed = await convert_to_matrix(FakeContext(), mb.text("t", context=context))
    assert (timed.disappear_seconds, timed.timer_set_at) == (3600, 1764979200)
    plain = await convert_to_matrix(FakeContext(), mb.text("x"), ephemeral_seconds=604800)
    assert plain.disappear_seconds == 604800


async def test_timer_change_is_a_notice_and_reported() -> None:
    message = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.EPHEMERAL_SETTING,
            ephemeralExpiration=604800,
            ephemeralSettingTimestamp=1764979200,
        )
    )
    converted = await convert_to_matrix(FakeContext(), message)
    assert converted.timer_change == 604800
    assert converted.timer_set_at == 1764979200
    content = converted.parts[0].content
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Set the disappearing message timer to 7 days"
    assert content["com.beeper.action_message"]["timer"] == 604800 * 1000
    off = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.EPHEMERAL_SETTING
        )
    )
    converted = await convert_to_matrix(FakeContext(), off)
    assert converted.timer_change == 0
    assert converted.parts[0].content["body"] == "Turned off disappearing messages"


async def test_edit_replaces_the_bridged_event() -> None:
    ctx = FakeContext(messages={(str(ALICE), "M1"): "$m1"})
    converted = await convert_to_matrix(ctx, mb.edit(ALICE, "M1", mb.text("fixed text")))
    assert converted.edit_of == "$m1"
    assert not converted.edit_target_missing
    [part] = converted.parts
    assert part.content["body"] == "* fixed text"
    assert part.content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$m1"}
    assert part.content["m.new_content"] == {
        "msgtype": "m.text",
        "body": "fixed text",
        "com.beeper.linkpreviews": [],
        "m.mentions": {},
    }


async def test_edit_with_mention_keeps_mentions_in_new_content_only() -> None:
    ctx = alice_context()
    ctx.messages[(str(ALICE), "M1")] = "$m1"
    converted = await convert_to_matrix(
        ctx, mb.edit(ALICE, "M1", mb.mention("cc @15550001", [ALICE]))
    )
    content = converted.parts[0].content
    assert content["m.mentions"] == {}
    assert content["m.new_content"]["m.mentions"] == {"user_ids": [ALICE_MXID]}
    assert content["formatted_body"].startswith("* cc <a href=")


async def test_edit_of_unknown_message_is_shown_as_new_message() -> None:
    converted = await convert_to_matrix(FakeContext(), mb.edit(ALICE, "GONE", mb.text("new")))
    assert converted.edit_of is None
    assert converted.edit_target_missing
    assert converted.parts[0].content["body"] == "new"
    assert "m.new_content" not in converted.parts[0].content


async def test_reaction_is_an_annotation_on_the_target() -> None:
    ctx = FakeContext(messages={(str(GROUP), "M1"): "$m1"})
    message = mb.reaction(GROUP, "M1", ALICE, "❤")
    assert (await convert_to_matrix(ctx, message)).parts == []
    reaction = convert_reaction(ctx, message)
    assert reaction is not None
    # WhatsApp's bare heart gets its emoji-style selector, as bridgev2 sends it.
    assert reaction.content == {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": "$m1", "key": "❤\ufe0f"}
    }
    assert reaction.emoji == "❤"
    assert reaction.target_message_id == "M1"
    assert reaction.target_sender == str(ALICE)
    assert not reaction.target_from_me


async def test_reaction_removal_and_unknown_target() -> None:
    ctx = FakeContext(messages={(str(GROUP), "M1"): "$m1"})
    removal = convert_reaction(ctx, mb.reaction(GROUP, "M1", ALICE, ""))
    assert removal is not None and removal.content is None and removal.emoji == ""
    assert removal.target_event_id == "$m1"
    unknown = convert_reaction(ctx, mb.reaction(GROUP, "M2", ALICE, "❤️"))
    assert unknown is not None and unknown.content is None and unknown.target_event_id is None
    assert convert_reaction(ctx, mb.text("no")) is None


async def test_revoke_names_the_message_to_redact() -> None:
    message = mb.revoke(GROUP, "M1", ALICE)
    assert convert_revoke(message) == RevokeTarget(str(GROUP), "M1", str(ALICE), False)
    assert (await convert_to_matrix(FakeContext(), message)).parts == []
    assert convert_revoke(mb.text("no")) is None


async def test_unknown_kind_is_a_notice_with_the_raw_message() -> None:
    # Field 42 (buttonsMessage on WhatsApp) is not in our schema: content we cannot show.
    raw = bytes([0xD2, 0x02, 0x03, 0x0A, 0x01, 0x78])
    message = wa_e2e_pb2.Message.FromString(raw)
    assert message_kind(message) == "unknown"
    [part] = (await convert_to_matrix(FakeContext(), message)).parts
    assert part.content["msgtype"] == "m.notice"
    assert part.content["body"] == "Unknown message type, please view it on the WhatsApp app"
    data = part.content["fi.mau.whatsapp.unsupported_message_data"]
    assert base64.b64decode(data) == raw


async def test_housekeeping_is_ignored() -> None:
    skdm = wa_e2e_pb2.Message(
        senderKeyDistributionMessage=wa_e2e_pb2.SenderKeyDistributionMessage(groupID="g"),
        messageContextInfo=wa_e2e_pb2.MessageContextInfo(messageSecret=b"s" * 32),
    )
    keys = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE
        )
    )
    for message in (skdm, keys):
        assert message_kind(message) == "ignore"
        assert (await convert_to_matrix(FakeContext(), message)).parts == []


def test_message_kinds_route_the_portal() -> None:
    assert message_kind(mb.text("x")) == "text"
    assert message_kind(mb.ephemeral(mb.text("x"), 60)) == "text"
    assert message_kind(mb.view_once(mb.location(1, 2))) == "location"
    assert message_kind(mb.edit(ALICE, "M1", mb.text("y"))) == "edit"
    assert message_kind(mb.revoke(ALICE, "M1")) == "revoke"
    assert message_kind(mb.reaction(ALICE, "M1", None, "👍")) == "reaction"
    assert message_kind(mb.poll("q", ["a", "b"])) == "poll_create"
    assert message_kind(wa_e2e_pb2.Message()) == "unknown"


async def test_empty_message_is_a_notice_not_a_crash() -> None:
    [part] = (await convert_to_matrix(FakeContext(), wa_e2e_pb2.Message())).parts
    assert part.content["msgtype"] == "m.notice"


async def test_whatsapp_formatting_is_rendered_as_html() -> None:
    message = mb.text("*bold* and _italic_\n> quoted")
    content = (await convert_to_matrix(FakeContext(), message)).parts[0].content
    assert content["body"] == "*bold* and _italic_\n> quoted"
    assert content["format"] == "org.matrix.custom.html"
    assert "<strong>bold</strong>" in content["formatted_body"]
    assert "<em>italic</em>" in content["formatted_body"]
    assert "<blockquote>quoted</blockquote>" in content["formatted_body"]


async def test_invalid_utf8_text_is_shown_with_replacement_characters() -> None:
    # conversation (field 1) = b"hi \x80": proto2 hands such a string back as bytes.
    message = wa_e2e_pb2.Message.FromString(b"\x0a\x04hi \x80")
    [part] = (await convert_to_matrix(FakeContext(), message)).parts
    assert part.content["body"] == "hi \ufffd"
    assert part.content["msgtype"] == "m.text"
