"""Any content a Matrix client can send — wrong types, missing keys, odd relations — converts
to a WhatsApp message or raises ConversionError; nothing else escapes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.msgconv.from_matrix import (
    ConversionError,
    convert_from_matrix,
    convert_poll_response,
    convert_redaction,
)
from mautrix_whatsapp.msgconv.from_matrix_types import EditTarget, PollTarget, ReplyTarget

from .msgconv_from_matrix_fakes import ALICE, FakeContext

MXC = "mxc://example.org/m"
KEYS = [
    "msgtype",
    "body",
    "format",
    "formatted_body",
    "url",
    "file",
    "info",
    "filename",
    "geo_uri",
    "m.relates_to",
    "m.new_content",
    "m.mentions",
    "org.matrix.msc3245.voice",
    "org.matrix.msc1767.audio",
    "org.matrix.msc3381.poll.start",
    "org.matrix.msc3381.poll.response",
]
MSGTYPES = ["m.text", "m.notice", "m.emote", "m.image", "m.video", "m.audio", "m.file"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from([*MSGTYPES, "m.location", MXC, "$orig", "geo:1,2", "m.replace"]),
    st.sampled_from(["org.matrix.custom.html", "<b>x</b>", "image/png", "audio/ogg"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from([*KEYS, "event_id", "rel_type", "w", "h"]), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
contents = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


def context() -> FakeContext:
    target = ReplyTarget("MSG1", ALICE)
    return FakeContext(
        media={MXC: b"\x89PNG not really"},
        replies={"$orig": target},
        edits={"$orig": EditTarget("MSG1", 0.0)},
        reactions={"$orig": target},
        polls={"$orig": PollTarget("MSG1", ALICE, {"a": "A"})},
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_type=st.sampled_from(["m.room.message", "m.sticker", "org.matrix.msc3381.poll.start"]),
    content=contents,
)
async def test_any_content_converts_or_raises_conversion_error(
    event_type: str, content: dict[str, Any]
) -> None:
    try:
        message = await convert_from_matrix(context(), event_type, content, now=1.0)
    except ConversionError as error:
        assert str(error)
    else:
        assert message.ByteSize() > 0


@settings(max_examples=200, deadline=None)
@given(content=contents, redacts=st.one_of(st.text(max_size=8), st.just("$orig")))
def test_poll_responses_and_redactions_never_crash(content: dict[str, Any], redacts: str) -> None:
    for action in (
        lambda: convert_poll_response(context(), content),
        lambda: convert_redaction(context(), redacts),
    ):
        try:
            action()
        except ConversionError as error:
            assert str(error)


numbers = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(
    msgtype=st.sampled_from(["m.image", "m.video", "m.audio", "m.file"]),
    mimetype=st.sampled_from(["image/png", "video/mp4", "audio/ogg", "audio/mp4", None, 5]),
    info=st.dictionaries(st.sampled_from(["w", "h", "duration", "size", "fi.mau.gif"]), numbers),
    waveform=st.lists(numbers, max_size=5),
    voice=st.booleans(),
)
async def test_media_info_of_any_shape_converts_or_raises_conversion_error(
    msgtype: str, mimetype: Any, info: dict[str, Any], waveform: list[Any], voice: bool
) -> None:
    content: dict[str, Any] = {
        "msgtype": msgtype,
        "body": "f",
        "url": MXC,
        "info": {**info, "mimetype": mimetype},
        "org.matrix.msc1767.audio": {"duration": info.get("duration"), "waveform": waveform},
    }
    if voice:
        content["org.matrix.msc3245.voice"] = {}
    try:
        message = await convert_from_matrix(context(), "m.room.message", content)
    except ConversionError as error:
        assert str(error)
    else:
        assert message.ByteSize() > 0
