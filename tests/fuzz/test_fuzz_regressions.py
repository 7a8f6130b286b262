"""Minimized inputs the fuzzer found, each a regression test of its fix."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mautrix_whatsapp.portal.malformed import malformed_reason

from .matrix_world import ALICE, BOB, CONTACT, DM_ROOM, matrix_world
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
        raw = _message({"msgtype": "m.image", "body": {}, "url": "mxc://a/b"})
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


async def test_a_relayed_file_that_only_parses_once_gets_a_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A relayed image whose ``file`` has no ``hashes`` and an object for a URL (the fuzzer's
    find): mautrix parsed it, but not again after the relay formatted it, and the error
    escaped as an unexpected one."""
    async with matrix_world() as world:
        before = asyncio.all_tasks()
        key = {"kty": "oct", "alg": "A256CTR", "ext": True, "k": "a" * 43, "key_ops": []}
        url = {"filename": None, "m.sticker": "mxc://a/b"}
        file = {"url": url, "v": "v2", "key": key, "iv": "A" * 22, "hashes": None}
        raw = _message({"msgtype": "m.image", "body": "x", "file": file, "info": {"size": 10}})
        raw["sender"] = BOB  # not logged in: the relay sends for them
        set_relay = _message({"msgtype": "m.text", "body": "!wa set-relay"})
        set_relay["event_id"] = "$set-relay"
        await world.bridge.az.handle_transaction("t0", events=[set_relay])
        await world.bridge.az.handle_transaction("t1", events=[raw])
        await drain(before)
        bodies = [str(getattr(c, "body", c)) for _, c in world.sent]
        assert any("content is malformed" in body for body in bodies), bodies
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
