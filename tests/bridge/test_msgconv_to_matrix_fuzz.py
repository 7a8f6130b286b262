"""Whatever a sender puts in a message, conversion returns events (or nothing) and never
raises: malformed or unknown content becomes a notice, failed media a failure notice."""

from __future__ import annotations

import asyncio

from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.msgconv import (
    MentionTarget,
    convert_reaction,
    convert_to_matrix,
    message_kind,
)
from mautrix_whatsapp.msgconv.misc import UNKNOWN_TEXT
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.bridge.msgconv_fakes import FakeContext

# Field tags of every content kind, so random payloads land in the converters, not only in
# unknown fields.
_FIELDS = [1, 3, 4, 5, 6, 7, 8, 9, 12, 13, 18, 26, 28, 37, 40, 46, 49, 50, 53, 58, 64, 66]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@st.composite
def messages(draw: st.DrawFn) -> wa_e2e_pb2.Message:
    field = draw(st.sampled_from(_FIELDS))
    payload = draw(st.binary(max_size=200))
    raw = _varint(field << 3 | 2) + _varint(len(payload)) + payload
    try:
        message = wa_e2e_pb2.Message.FromString(raw)
    except DecodeError:
        assume(False)
        raise
    return message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_any_message_converts_without_raising(message: wa_e2e_pb2.Message) -> None:
    ctx = FakeContext(
        mentions={"1@s.whatsapp.net": MentionTarget("@whatsapp_1:example.org", "One")},
        messages={("", ""): "$any"},
        votes=[b"\x00" * 32],
    )
    converted = asyncio.run(convert_to_matrix(ctx, message))
    if message_kind(message) != "unknown":
        # The converters handled it themselves: the catch-all's notice would hide a bug.
        assert all(p.content.get("body") != UNKNOWN_TEXT for p in converted.parts)
    for part in converted.parts:
        assert isinstance(part.event_type, str) and isinstance(part.content, dict)
        if part.event_type == "m.room.message":
            assert isinstance(part.content["body"], str)
    convert_reaction(ctx, message)
