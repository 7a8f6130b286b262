"""Matrix → WhatsApp conversion of text, replies, edits, reactions, redactions, locations and
polls: each test asserts the WhatsApp protobuf produced."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from mautrix_whatsapp.msgconv.from_matrix import (
    EDIT_MAX_AGE,
    MAX_HTML_LENGTH,
    ConversionError,
    convert_from_matrix,
    convert_poll_response,
    convert_poll_start,
    convert_reaction,
    convert_redaction,
)
from mautrix_whatsapp.msgconv.from_matrix_types import EditTarget, PollTarget, ReplyTarget
from mautrix_whatsapp.whatsapp import message_builders
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from .msgconv_from_matrix_fakes import ALICE, CHAT, ME, FakeContext, fake_formatter

NOW = 1_800_000_000.0


async def convert(
    ctx: FakeContext, content: dict[str, Any], event_type: str = "m.room.message"
) -> wa_e2e_pb2.Message:
    return await convert_from_matrix(ctx, event_type, content, formatter=fake_formatter, now=NOW)


async def test_plain_text_is_an_extended_text_message() -> None:
    msg = await convert(FakeContext(), {"msgtype": "m.text", "body": "hello"})
    assert msg.extendedTextMessage.text == "hello"
    assert not msg.extendedTextMessage.contextInfo.mentionedJID
    assert not msg.extendedTextMessage.contextInfo.stanzaID
    assert not msg.HasField("conversation")


async def test_notice_is_sent_as_text_and_emote_as_slash_me() -> None:
    notice = await convert(FakeContext(), {"msgtype": "m.notice", "body": "beep"})
    assert notice.extendedTextMessage.text == "beep"
    emote = await convert(FakeContext(), {"msgtype": "m.emote", "body": "waves"})
    assert emote.extendedTextMessage.text == "/me waves"


async def test_html_goes_through_the_formatter_and_pills_become_mentions() -> None:
    content = {
        "msgtype": "m.text",
        "body": "hi Alice",
        "format": "org.matrix.custom.html",
        "formatted_body": '<b>hi</b> <a href="https://matrix.to/#/@whatsapp_15550000002:'
        'example.org">Alice</a>',
    }
    msg = await convert(FakeContext(), content)
    assert msg.extendedTextMessage.text == "*hi* @15550000002"
    assert list(msg.extendedTextMessage.contextInfo.mentionedJID) == [ALICE]


async def test_formatted_body_without_html_format_is_ignored() -> None:
    content = {"msgtype": "m.text", "body": "plain", "formatted_body": "<b>x</b>"}
    msg = await convert(FakeContext(), content)
    assert msg.extendedTextMessage.text == "plain"


async def test_room_mention_sets_non_jid_mentions() -> None:
    content = {"msgtype": "m.text", "body": "@room look", "m.mentions": {"room": True}}
    msg = await convert(FakeContext(), content)
    assert msg.extendedTextMessage.contextInfo.nonJIDMentions == 1


async def test_reply_quotes_the_target() -> None:
    quoted = wa_e2e_pb2.Message(conversation="original")
    ctx = FakeContext(replies={"$orig": ReplyTarget("MSG1", ALICE, quoted)})
    content = {
        "msgtype": "m.text",
        "body": "answer",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$orig"}},
    }
    msg = await convert(ctx, content)
    info = msg.extendedTextMessage.contextInfo
    assert (info.stanzaID, info.participant) == ("MSG1", ALICE)
    assert info.quotedMessage.conversation == "original"
    assert info.quotedType == wa_e2e_pb2.ContextInfo.EXPLICIT


async def test_reply_to_unknown_event_is_sent_without_quote() -> None:
    content = {
        "msgtype": "m.text",
        "body": "answer",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$unknown"}},
    }
    msg = await convert(FakeContext(), content)
    assert msg.extendedTextMessage.text == "answer"
    assert not msg.extendedTextMessage.contextInfo.HasField("stanzaID")


def edit_content(body: str, target: str = "$orig") -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": f"* {body}",
        "m.new_content": {"msgtype": "m.text", "body": body},
        "m.relates_to": {"rel_type": "m.replace", "event_id": target},
    }


async def test_edit_of_own_recent_message_is_a_protocol_edit() -> None:
    ctx = FakeContext(edits={"$orig": EditTarget("MSG1", NOW - 60)})
    msg = await convert(ctx, edit_content("fixed"))
    protocol = msg.editedMessage.message.protocolMessage
    assert protocol.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
    assert (protocol.key.ID, protocol.key.remoteJID, protocol.key.fromMe) == ("MSG1", CHAT, True)
    assert protocol.editedMessage.extendedTextMessage.text == "fixed"
    assert message_builders.edit_attribute(msg) == message_builders.EDIT_ATTR_MESSAGE_EDIT


async def test_edit_refusals_say_why() -> None:
    old = FakeContext(edits={"$orig": EditTarget("MSG1", NOW - EDIT_MAX_AGE - 1)})
    with pytest.raises(ConversionError, match="within 15 minutes"):
        await convert(old, edit_content("late"))
    theirs = FakeContext(edits={"$orig": EditTarget("MSG1", NOW, from_me=False)})
    with pytest.raises(ConversionError, match="your own messages"):
        await convert(theirs, edit_content("x"))
    with pytest.raises(ConversionError, match="not bridged"):
        await convert(FakeContext(), edit_content("x"))
    media = edit_content("x")
    media["m.new_content"] = {"msgtype": "m.image", "body": "a.png", "url": "mxc://a/b"}
    with pytest.raises(ConversionError, match="only text"):
        await convert(FakeContext(edits={"$orig": EditTarget("MSG1", NOW)}), media)


async def test_reaction_on_someone_elses_message_names_them_in_the_key() -> None:
    ctx = FakeContext()
    msg = convert_reaction(ctx, ReplyTarget("MSG1", ALICE), "\U0001f44d\ufe0f")
    reaction = msg.reactionMessage
    assert reaction.text == "\U0001f44d"
    assert (reaction.key.ID, reaction.key.fromMe, reaction.key.participant) == (
        "MSG1",
        False,
        ALICE,
    )
    own = convert_reaction(ctx, ReplyTarget("MSG2", ME, from_me=True), "❤")
    assert own.reactionMessage.key.fromMe
    with pytest.raises(ConversionError):
        convert_reaction(ctx, ReplyTarget("MSG1", ALICE), "")


async def test_redaction_removes_a_reaction_or_revokes_own_message() -> None:
    ctx = FakeContext(
        reactions={"$react": ReplyTarget("MSG1", ALICE)},
        replies={
            "$mine": ReplyTarget("MSG2", ME, from_me=True),
            "$theirs": ReplyTarget("M3", ALICE),
        },
    )
    removal = convert_redaction(ctx, "$react")
    assert removal.reactionMessage.text == ""
    assert removal.reactionMessage.key.ID == "MSG1"
    revoke = convert_redaction(ctx, "$mine")
    assert revoke.protocolMessage.type == wa_e2e_pb2.ProtocolMessage.REVOKE
    assert (revoke.protocolMessage.key.ID, revoke.protocolMessage.key.fromMe) == ("MSG2", True)
    with pytest.raises(ConversionError, match="your own"):
        convert_redaction(ctx, "$theirs")
    with pytest.raises(ConversionError, match="not bridged"):
        convert_redaction(ctx, "$nothing")


async def test_location_from_geo_uri() -> None:
    content = {"msgtype": "m.location", "body": "Home", "geo_uri": "geo:52.52,13.405;u=35"}
    msg = await convert(FakeContext(), content)
    loc = msg.locationMessage
    assert (loc.degreesLatitude, loc.degreesLongitude, loc.comment) == (52.52, 13.405, "Home")
    for bad in ("52.5,13.4", "geo:52.5", "geo:north,east", "geo:91,0", "geo:nan,0"):
        with pytest.raises(ConversionError):
            await convert(FakeContext(), {"msgtype": "m.location", "body": "x", "geo_uri": bad})


def poll_content(answers: list[str], max_selections: int = 1) -> dict[str, Any]:
    return {
        "org.matrix.msc3381.poll.start": {
            "question": {"org.matrix.msc1767.text": "Lunch?"},
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": max_selections,
            "answers": [
                {"id": f"a{i}", "org.matrix.msc1767.text": name} for i, name in enumerate(answers)
            ],
        }
    }


async def test_poll_start_builds_a_poll_with_a_secret() -> None:
    msg, ids = convert_poll_start(FakeContext(), poll_content(["Pizza", "Sushi", "Tacos"]))
    poll = msg.pollCreationMessageV3
    assert poll.name == "Lunch?"
    assert [o.optionName for o in poll.options] == ["Pizza", "Sushi", "Tacos"]
    assert poll.selectableOptionsCount == 1
    assert len(msg.messageContextInfo.messageSecret) == 32
    assert ids == {"a0": "Pizza", "a1": "Sushi", "a2": "Tacos"}
    multi = await convert(
        FakeContext(), poll_content(["A", "B"], 5), "org.matrix.msc3381.poll.start"
    )
    assert multi.pollCreationMessageV3.selectableOptionsCount == 0


async def test_poll_start_refusals() -> None:
    with pytest.raises(ConversionError, match="same answer"):
        convert_poll_start(FakeContext(), poll_content(["A", "A"]))
    with pytest.raises(ConversionError, match="answer is empty"):
        convert_poll_start(FakeContext(), poll_content(["A", " "]))
    with pytest.raises(ConversionError, match="two answers"):
        convert_poll_start(FakeContext(), poll_content(["A"]))
    with pytest.raises(ConversionError):
        convert_poll_start(FakeContext(), {"org.matrix.msc3381.poll.start": {"question": 3}})


async def test_poll_response_maps_answer_ids_to_option_names() -> None:
    ctx = FakeContext(polls={"$poll": PollTarget("POLL1", ALICE, {"a0": "Pizza", "a1": "Sushi"})})
    content = {
        "org.matrix.msc3381.poll.response": {"answers": ["a1", "zz", "a1"]},
        "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"},
    }
    vote = convert_poll_response(ctx, content)
    assert (vote.message_id, vote.sender_jid, vote.options) == ("POLL1", ALICE, ["Sushi"])
    assert message_builders.poll_option_hash("Sushi") == hashlib.sha256(b"Sushi").digest()
    content["m.relates_to"] = {"rel_type": "m.reference", "event_id": "$other"}
    with pytest.raises(ConversionError, match="not bridged"):
        convert_poll_response(ctx, content)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"msgtype": "m.text"}, "no body"),
        ({"msgtype": "m.text", "body": 5}, "not a string"),
        ({"body": "x"}, "no msgtype"),
        ({"msgtype": "m.text", "body": ""}, "empty"),
        ({"msgtype": "m.text", "body": "x" * 70000}, "too long"),
        ({"msgtype": "m.weird", "body": "x"}, "not supported"),
        ({"msgtype": "m.text", "body": "x", "m.relates_to": "nope"}, "not an object"),
        (
            {
                "msgtype": "m.text",
                "body": "x",
                "format": "org.matrix.custom.html",
                "formatted_body": "<b>" * (MAX_HTML_LENGTH // 3 + 1),
            },
            "too long",
        ),
    ],
)
async def test_malformed_content_is_a_conversion_error(
    content: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ConversionError, match=reason):
        await convert(FakeContext(), content)


async def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ConversionError, match="not bridged"):
        await convert(FakeContext(), {"body": "x"}, "m.room.topic")


PILL = '<a href="https://matrix.to/#/@whatsapp_15550000002:example.org">Alice</a>'


async def test_real_formatter_turns_html_and_pills_into_whatsapp_text() -> None:
    content = {
        "msgtype": "m.text",
        "body": "Alice: hi",
        "format": "org.matrix.custom.html",
        "formatted_body": f"{PILL}: <strong>hi</strong> <em>there</em>",
    }
    msg = await convert_from_matrix(FakeContext(), "m.room.message", content)
    assert msg.extendedTextMessage.text == "@15550000002: *hi* _there_"
    assert list(msg.extendedTextMessage.contextInfo.mentionedJID) == [ALICE]


async def test_m_mentions_limits_which_pills_mention() -> None:
    content = {
        "msgtype": "m.text",
        "body": "Alice",
        "format": "org.matrix.custom.html",
        "formatted_body": PILL,
        "m.mentions": {"user_ids": []},
    }
    msg = await convert_from_matrix(FakeContext(), "m.room.message", content)
    assert msg.extendedTextMessage.text == "Alice"
    assert not msg.extendedTextMessage.contextInfo.mentionedJID
    content["m.mentions"] = {"user_ids": ["@whatsapp_15550000002:example.org"]}
    msg = await convert_from_matrix(FakeContext(), "m.room.message", content)
    assert list(msg.extendedTextMessage.contextInfo.mentionedJID) == [ALICE]


async def test_disappearing_timer_goes_into_the_context_info() -> None:
    text = await convert_from_matrix(
        FakeContext(), "m.room.message", {"msgtype": "m.text", "body": "x"}, expiration=86400
    )
    assert text.extendedTextMessage.contextInfo.expiration == 86400
    location = await convert_from_matrix(
        FakeContext(),
        "m.room.message",
        {"msgtype": "m.location", "body": "x", "geo_uri": "geo:1,2"},
        expiration=3600,
    )
    assert location.locationMessage.contextInfo.expiration == 3600


async def test_plain_reply_fallback_is_stripped() -> None:
    ctx = FakeContext(replies={"$orig": ReplyTarget("MSG1", ALICE)})
    content = {
        "msgtype": "m.text",
        "body": "> <@alice:example.org> original\n> second line\n\nmy answer\n> not a quote",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$orig"}},
    }
    msg = await convert(ctx, content)
    assert msg.extendedTextMessage.text == "my answer\n> not a quote"
    content["body"] = "> only a quote"
    assert (await convert(ctx, content)).extendedTextMessage.text == "> only a quote"
    no_reply = {"msgtype": "m.text", "body": "> a real quote\n\ntext"}
    assert (await convert(ctx, no_reply)).extendedTextMessage.text == "> a real quote\n\ntext"
