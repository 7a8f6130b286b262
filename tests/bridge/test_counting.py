"""The bridged-message counter's kinds, from the Matrix side's shape."""

from __future__ import annotations

import pytest
from mautrix.types import MessageType, TextMessageEventContent

from mautrix_whatsapp.portal.counting import kind_of


@pytest.mark.parametrize(
    ("event_type", "content", "kind"),
    [
        ("m.room.message", {"msgtype": "m.text", "body": "hi"}, "text"),
        ("m.room.message", {"msgtype": "m.emote", "body": "waves"}, "text"),
        ("m.room.message", {"msgtype": "m.image", "body": "a.jpg"}, "image"),
        ("m.room.message", {"msgtype": "m.file", "body": "a.pdf"}, "document"),
        (
            "m.room.message",
            {"msgtype": "m.file", "body": "c.vcf", "info": {"mimetype": "text/vcard"}},
            "contact",
        ),
        ("m.room.message", {"msgtype": "m.location", "body": "here"}, "location"),
        ("m.sticker", {"body": "s", "url": "mxc://x/y"}, "sticker"),
        ("org.matrix.msc3381.poll.start", {}, "poll"),
        ("m.reaction", {"m.relates_to": {"rel_type": "m.annotation"}}, "reaction"),
        (
            "m.room.message",
            {"msgtype": "m.text", "body": "* x", "m.relates_to": {"rel_type": "m.replace"}},
            "edit",
        ),
        ("m.room.message", {"msgtype": "fi.mau.unknown", "body": "?"}, "other"),
    ],
)
def test_kinds(event_type: str, content: dict[str, object], kind: str) -> None:
    assert kind_of(event_type, content) == kind


def test_content_objects_are_read_like_json() -> None:
    content = TextMessageEventContent(msgtype=MessageType.NOTICE, body="n")
    assert kind_of("m.room.message", content) == "text"
