"""A Matrix message whose send the connection refused as it dropped (nothing of it left) is
sent once the connection is back; one that left without an ack is reported as uncertain."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from mautrix_whatsapp.portal.connection_wait import send_through_drops
from mautrix_whatsapp.portal.status import failure_notice
from mautrix_whatsapp.session import SendNotStarted, SendUnconfirmed, SentMessage
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

CHAT = "15550001111@s.whatsapp.net"


class DroppingSession:
    """Refuses sends while down; ``reconnect`` brings it back."""

    def __init__(self) -> None:
        self.is_connected = True
        self.refusals = 0
        self.sent: list[str] = []

    def drop(self) -> None:
        self.is_connected = False

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> SentMessage:
        if not self.is_connected:
            self.refusals += 1
            raise SendNotStarted("not connected: 3EB0AA was not sent")
        self.sent.append(message.conversation)
        return SentMessage(id="3EB0BB", timestamp=1_700_000_000.0)


class User:
    def __init__(self, session: DroppingSession) -> None:
        self.session = session
        self.wa_jid = "15559990000:4@s.whatsapp.net"


def _text(body: str) -> wa_e2e_pb2.Message:
    return wa_e2e_pb2.Message(conversation=body)


async def test_a_refused_send_goes_out_once_the_connection_is_back() -> None:
    session = DroppingSession()
    session.drop()
    sending = asyncio.create_task(
        send_through_drops(cast(Any, User(session)), CHAT, _text("hi"), timeout=10)
    )
    while session.refusals == 0:
        await asyncio.sleep(0.01)
    session.is_connected = True  # reconnected
    sent = await sending
    assert sent.id == "3EB0BB"
    assert session.sent == ["hi"]  # once


async def test_a_connection_that_stays_down_fails_the_send() -> None:
    session = DroppingSession()
    session.drop()
    with pytest.raises(SendNotStarted):
        await send_through_drops(cast(Any, User(session)), CHAT, _text("hi"), timeout=0.3)
    assert session.sent == []


def test_a_send_without_an_ack_may_have_arrived() -> None:
    error = SendUnconfirmed("connection lost before the ack of 3EB0AA")
    assert failure_notice(error).startswith("Your message may not have been bridged: ")
    assert failure_notice(SendNotStarted("not connected")).startswith("Your message was not")
