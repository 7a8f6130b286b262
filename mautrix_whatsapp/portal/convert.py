"""The conversion interface: what the portal asks of the message converters.

The portal handles rooms, ordering, the message table and errors; converters only turn one
side's message into the other's. The plain-text converters here are the minimal ones; the
full converters (formatting, media, replies, mentions…) plug in behind the same protocols.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mautrix.types import (
    EventType,
    MessageEventContent,
    MessageType,
    TextMessageEventContent,
)

from ..whatsapp.proto import wa_e2e_pb2

if TYPE_CHECKING:
    from ..session import MessageReceived
    from .portal import Portal

UNKNOWN_TYPE_NOTICE = "Unknown message type, please view it on the WhatsApp app"


class ConversionError(ValueError):
    """The message can't be converted; the text is the reason, fit to show the user."""


@dataclass(frozen=True)
class ConvertedPart:
    """One Matrix event a WhatsApp message becomes (media and its caption are two)."""

    content: MessageEventContent
    event_type: EventType = field(default=EventType.ROOM_MESSAGE)


class ToMatrixConverter(Protocol):
    async def to_matrix(self, portal: Portal, message: MessageReceived) -> list[ConvertedPart]:
        """The Matrix events for ``message``, in order; an empty list means "nothing to
        show" (protocol messages: key shares, …). Unknown kinds become a notice, not []."""


class FromMatrixConverter(Protocol):
    async def to_whatsapp(
        self, portal: Portal, content: MessageEventContent
    ) -> wa_e2e_pb2.Message:
        """The WhatsApp message for a Matrix message; :class:`ConversionError` if there is
        none."""


_SILENT_FIELDS = ("protocolMessage", "senderKeyDistributionMessage", "messageContextInfo")


class PlainTextToMatrix:
    """WhatsApp text (``conversation``, ``extendedTextMessage``) as ``m.text``, unformatted."""

    async def to_matrix(self, portal: Portal, message: MessageReceived) -> list[ConvertedPart]:
        msg = message.message
        if msg.HasField("extendedTextMessage"):
            body = msg.extendedTextMessage.text
        elif msg.conversation:
            body = msg.conversation
        elif {f.name for f, _ in msg.ListFields()} <= set(_SILENT_FIELDS):
            return []
        else:
            notice = TextMessageEventContent(msgtype=MessageType.NOTICE, body=UNKNOWN_TYPE_NOTICE)
            return [ConvertedPart(notice)]
        return [ConvertedPart(TextMessageEventContent(msgtype=MessageType.TEXT, body=body))]


_TEXT_TYPES = (MessageType.TEXT, MessageType.NOTICE, MessageType.EMOTE)


class PlainTextToWhatsApp:
    """``m.text`` / ``m.notice`` / ``m.emote`` bodies as a WhatsApp ``conversation``."""

    async def to_whatsapp(
        self, portal: Portal, content: MessageEventContent
    ) -> wa_e2e_pb2.Message:
        msgtype = getattr(content, "msgtype", None)
        body = getattr(content, "body", None)
        if msgtype not in _TEXT_TYPES:
            kind = f"messages of type {msgtype}" if msgtype else "messages without a msgtype"
            raise ConversionError(f"{kind} can't be sent to WhatsApp yet")
        if not isinstance(body, str) or not body:
            raise ConversionError("the message has no text body")
        if msgtype == MessageType.EMOTE:
            body = f"/me {body}"
        return wa_e2e_pb2.Message(conversation=body)
