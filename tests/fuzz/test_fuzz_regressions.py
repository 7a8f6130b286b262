"""Minimized inputs the fuzzer found, each a regression test of its fix."""

from __future__ import annotations

import asyncio
from typing import Any

from mautrix.types import MessageType

from mautrix_whatsapp.portal.malformed import malformed_reason

from .matrix_world import ALICE, CONTACT, DM_ROOM, matrix_world
from .runner import drain


def _message(content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "room_id": DM_ROOM,
        "sender": ALICE,
        "event_id": "$found",
        "origin_server_ts": 1,
        "content": content,
    }


def test_a_non_string_body_with_a_msgtype_is_malformed() -> None:
    """mautrix parsed ``body: NaN`` and crashed stripping the reply fallback."""
    reason = malformed_reason(_message({"msgtype": "m.sticker", "body": float("nan")}))
    assert reason == "its body is not a string"
    reason = malformed_reason(
        _message(
            {
                "msgtype": "m.text",
                "body": "x",
                "format": "org.matrix.custom.html",
                "formatted_body": ["<b>"],
            }
        )
    )
    assert reason == "its formatted_body is not a string"
    assert malformed_reason(_message({"msgtype": "m.text", "body": "fine"})) is None


async def test_a_non_string_body_gets_a_notice_not_a_crash() -> None:
    """The found input through the real handler: the sender is told why."""
    async with matrix_world() as world:
        before = asyncio.all_tasks()
        raw = _message({"msgtype": MessageType.IMAGE, "body": {}, "url": "mxc://a/b"})
        await world.bridge.az.handle_transaction("t1", events=[raw])
        await drain(before)  # the report runs as a background task
        bodies = [str(getattr(c, "body", c)) for _, c in world.sent]
        assert any("body is not a string" in body for body in bodies), bodies


async def test_the_fuzz_world_reaches_whatsapp() -> None:
    """The fuzzed world is live: a good message from the logged-in user is sent."""
    async with matrix_world() as world:
        raw = _message({"msgtype": "m.text", "body": "hi"})
        await world.bridge.az.handle_transaction("t1", events=[raw])
        session = world.bridge.users[ALICE].session
        [(chat, message)] = session.sent
        text = message.conversation or message.extendedTextMessage.text
        assert (chat, text) == (CONTACT, "hi")
