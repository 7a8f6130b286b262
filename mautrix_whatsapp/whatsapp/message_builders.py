"""Building outgoing ``waE2E.Message``s and the stanza attributes they imply (whatsmeow
``send.go``: ``BuildEdit``/``BuildRevoke``/``BuildReaction``, ``getTypeFromMessage``,
``getMediaTypeFromMessage``, ``getEditAttribute``).

Every builder returns a plain ``Message`` to pass to ``client.send_message(chat, message)``.
Message keys follow ``BuildMessageKey``: ``fromMe`` unless the target's sender is someone else,
and then, outside 1:1 chats, ``participant`` names that sender.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence

from .binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, JID
from .proto import wa_common_pb2, wa_e2e_pb2

Message = wa_e2e_pb2.Message

EDIT_ATTR_MESSAGE_EDIT = "1"
EDIT_ATTR_PIN_IN_CHAT = "2"
EDIT_ATTR_SENDER_REVOKE = "7"
EDIT_ATTR_ADMIN_REVOKE = "8"

REMOVE_REACTION = ""
"""The reaction text that removes our reaction."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def message_key(
    chat: JID, message_id: str, sender: JID | None = None, *, own: Sequence[JID] = ()
) -> wa_common_pb2.MessageKey:
    """The key naming message ``message_id`` in ``chat``, sent by ``sender`` (None: by us).

    ``own`` are our own JIDs (phone number and LID): a ``sender`` among them is us too.
    """
    key = wa_common_pb2.MessageKey(fromMe=True, ID=message_id, remoteJID=str(chat))
    if sender is not None and sender.user not in {jid.user for jid in own}:
        key.fromMe = False
        if chat.server not in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
            key.participant = str(sender.to_non_ad())
    return key


def text(body: str, *, context: wa_e2e_pb2.ContextInfo | None = None) -> Message:
    """Plain text; with a context (reply, mentions, timer) as an ``extendedTextMessage``."""
    if context is None:
        return Message(conversation=body)
    return Message(
        extendedTextMessage=wa_e2e_pb2.ExtendedTextMessage(text=body, contextInfo=context)
    )


def context_info(
    *,
    reply_to: str | None = None,
    reply_sender: JID | None = None,
    quoted: Message | None = None,
    mentions: Sequence[JID] = (),
    expiration: int | None = None,
) -> wa_e2e_pb2.ContextInfo:
    """A reply (``stanzaID``/``participant``/``quotedMessage``), mentions, a disappearing timer."""
    info = wa_e2e_pb2.ContextInfo()
    if reply_to is not None:
        info.stanzaID = reply_to
        if reply_sender is not None:
            info.participant = str(reply_sender.to_non_ad())
        info.quotedMessage.CopyFrom(quoted if quoted is not None else Message(conversation=""))
    info.mentionedJID.extend(str(jid.to_non_ad()) for jid in mentions)
    if expiration:
        info.expiration = expiration
    return info


def reply(
    body: str,
    to_id: str,
    to_sender: JID,
    quoted: Message | None = None,
    *,
    mentions: Sequence[JID] = (),
) -> Message:
    return text(
        body,
        context=context_info(
            reply_to=to_id, reply_sender=to_sender, quoted=quoted, mentions=mentions
        ),
    )


def mention(body: str, mentions: Sequence[JID]) -> Message:
    """Text mentioning ``mentions`` (the body should contain ``@<number>`` for each)."""
    return text(body, context=context_info(mentions=mentions))


def edit(chat: JID, message_id: str, new_content: Message) -> Message:
    """Replace our message ``message_id`` with ``new_content`` (``edit="1"``)."""
    protocol = wa_e2e_pb2.ProtocolMessage(
        key=wa_common_pb2.MessageKey(fromMe=True, ID=message_id, remoteJID=str(chat)),
        type=wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT,
        editedMessage=new_content,
        timestampMS=_now_ms(),
    )
    return Message(
        editedMessage=wa_e2e_pb2.FutureProofMessage(message=Message(protocolMessage=protocol))
    )


def revoke(
    chat: JID, message_id: str, sender: JID | None = None, *, own: Sequence[JID] = ()
) -> Message:
    """Delete for everyone: ours (``edit="7"``), or as admin someone else's (``"8"``)."""
    return Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            key=message_key(chat, message_id, sender, own=own),
            type=wa_e2e_pb2.ProtocolMessage.REVOKE,
        )
    )


def reaction(
    chat: JID, message_id: str, sender: JID | None, emoji: str, *, own: Sequence[JID] = ()
) -> Message:
    """React to a message (``emoji=""`` removes our reaction)."""
    return Message(
        reactionMessage=wa_e2e_pb2.ReactionMessage(
            key=message_key(chat, message_id, sender, own=own),
            text=emoji,
            senderTimestampMS=_now_ms(),
        )
    )


def location(
    latitude: float, longitude: float, *, name: str | None = None, address: str | None = None
) -> Message:
    loc = wa_e2e_pb2.LocationMessage(degreesLatitude=latitude, degreesLongitude=longitude)
    if name is not None:
        loc.name = name
    if address is not None:
        loc.address = address
    return Message(locationMessage=loc)


def contact(display_name: str, vcard: str) -> Message:
    return Message(contactMessage=wa_e2e_pb2.ContactMessage(displayName=display_name, vcard=vcard))


def vcard(display_name: str, phone: str) -> str:
    """A minimal vCard 3.0 for a WhatsApp number (``waid`` lets the phone link it)."""
    digits = phone.lstrip("+")
    return (
        "BEGIN:VCARD\nVERSION:3.0\n"
        f"FN:{display_name}\n"
        f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}\n"
        "END:VCARD"
    )


def view_once(message: Message) -> Message:
    return Message(viewOnceMessage=wa_e2e_pb2.FutureProofMessage(message=message))


def ephemeral(message: Message, expiration: int) -> Message:
    """``message`` in a chat with a disappearing timer of ``expiration`` seconds."""
    inner = Message()
    inner.CopyFrom(message)
    if inner.HasField("conversation"):
        body = inner.conversation
        inner.ClearField("conversation")
        inner.extendedTextMessage.text = body
    for field in ("extendedTextMessage", "locationMessage", "contactMessage"):
        if inner.HasField(field):
            getattr(inner, field).contextInfo.expiration = expiration
    return Message(ephemeralMessage=wa_e2e_pb2.FutureProofMessage(message=inner))


def poll_option_hash(option: str) -> bytes:
    """SHA-256 of the option name: what a vote carries to select it."""
    return hashlib.sha256(option.encode()).digest()


def poll(name: str, options: Sequence[str], selectable: int = 1) -> Message:
    """A poll (v3), with the random 32-byte ``messageSecret`` its votes are encrypted with.

    Sending it stores the secret (see :mod:`.msgsecret`), so votes can be decrypted.
    """
    if len(set(options)) != len(options) or len(options) < 2:
        raise ValueError("a poll needs at least two distinct options")
    creation = wa_e2e_pb2.PollCreationMessage(
        name=name,
        options=[wa_e2e_pb2.PollCreationMessage.Option(optionName=o) for o in options],
        selectableOptionsCount=selectable,
    )
    return Message(
        pollCreationMessageV3=creation,
        messageContextInfo=wa_e2e_pb2.MessageContextInfo(messageSecret=os.urandom(32)),
    )


# --- what a message implies for its stanza ---


def unwrap(message: Message) -> Message:
    """The content inside view-once/ephemeral/document-with-caption wrappers."""
    for wrapper in (
        "viewOnceMessage",
        "viewOnceMessageV2",
        "viewOnceMessageV2Extension",
        "lottieStickerMessage",
        "ephemeralMessage",
        "documentWithCaptionMessage",
    ):
        if message.HasField(wrapper):
            return unwrap(getattr(message, wrapper).message)
    return message


_POLLS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
    "pollUpdateMessage",
)


def media_type(message: Message) -> str:
    """The ``<enc mediatype>`` of a message ("" for none)."""
    msg = unwrap(message)
    if msg.HasField("extendedTextMessage") and msg.extendedTextMessage.HasField("title"):
        return "url"
    if msg.HasField("imageMessage"):
        return "image"
    if msg.HasField("stickerMessage"):
        return "sticker"
    if msg.HasField("documentMessage"):
        return "document"
    if msg.HasField("audioMessage"):
        return "ptt" if msg.audioMessage.PTT else "audio"
    if msg.HasField("videoMessage"):
        return "gif" if msg.videoMessage.gifPlayback else "video"
    if msg.HasField("contactMessage"):
        return "vcard"
    if msg.HasField("contactsArrayMessage"):
        return "contact_array"
    return ""


def message_type(message: Message) -> str:
    """The ``<message type>``: ``reaction``, ``poll``, ``media`` or ``text``."""
    msg = unwrap(message)
    if msg.HasField("reactionMessage"):
        return "reaction"
    if any(msg.HasField(field) for field in _POLLS):
        return "poll"
    if media_type(msg):
        return "media"
    return "text"


def edit_attribute(message: Message) -> str:
    """The ``<message edit>`` attribute ("" for none)."""
    if message.HasField("editedMessage") and message.editedMessage.HasField("message"):
        return edit_attribute(message.editedMessage.message)
    if message.HasField("protocolMessage") and message.protocolMessage.HasField("key"):
        protocol = message.protocolMessage
        if protocol.type == wa_e2e_pb2.ProtocolMessage.REVOKE:
            return EDIT_ATTR_SENDER_REVOKE if protocol.key.fromMe else EDIT_ATTR_ADMIN_REVOKE
        if protocol.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT and protocol.HasField(
            "editedMessage"
        ):
            return EDIT_ATTR_MESSAGE_EDIT
        return ""
    if message.HasField("reactionMessage") and message.reactionMessage.text == REMOVE_REACTION:
        return EDIT_ATTR_SENDER_REVOKE
    return ""


def poll_type(message: Message) -> str | None:
    """``creation`` or ``vote`` for a poll's ``<meta polltype>``, else None."""
    msg = unwrap(message)
    if msg.HasField("pollUpdateMessage"):
        return "vote"
    if any(msg.HasField(field) for field in _POLLS):
        return "creation"
    return None
