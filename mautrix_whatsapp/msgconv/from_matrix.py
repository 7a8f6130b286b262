"""Matrix events → WhatsApp messages (the Go bridge's ``pkg/msgconv/from-matrix.go``,
``matrixpoll.go`` and ``connector/handlematrix.go``).

Everything here is pure: lookups and media I/O go through :class:`FromMatrixContext`. Anything a
WhatsApp message cannot carry, and any malformed content, raises :class:`ConversionError` whose
text the portal shows in the room; no other exception escapes for bad input.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..formatter import WhatsAppText, matrix_to_whatsapp
from ..whatsapp import message_builders as builders
from ..whatsapp.binary.jid import JID
from ..whatsapp.proto import wa_e2e_pb2
from .from_matrix_media import MEDIA_MSGTYPES, convert_media
from .from_matrix_types import (
    ConversionError,
    EditTarget,
    FromMatrixContext,
    MediaConverter,
    PollTarget,
    PollVote,
    ReplyTarget,
)

__all__ = [
    "ConversionError",
    "EditTarget",
    "FromMatrixContext",
    "HtmlFormatter",
    "MediaConverter",
    "PollTarget",
    "PollVote",
    "ReplyTarget",
    "WhatsAppText",
    "convert_from_matrix",
    "convert_poll_response",
    "convert_poll_start",
    "convert_reaction",
    "convert_redaction",
]

Message = wa_e2e_pb2.Message

EDIT_MAX_AGE = 15 * 60
"""Seconds after sending during which WhatsApp accepts an edit (Go ``EditMaxAge``)."""
MAX_TEXT_LENGTH = 65536
"""Characters WhatsApp accepts in one text message."""
MAX_HTML_LENGTH = 4 * MAX_TEXT_LENGTH
"""A ``formatted_body`` longer than this is refused before it is parsed."""
TEXT_MSGTYPES = ("m.text", "m.notice", "m.emote")
POLL_START_TYPES = ("org.matrix.msc3381.poll.start", "m.poll.start")
POLL_RESPONSE_TYPES = ("org.matrix.msc3381.poll.response", "m.poll.response")
_TEXT_KEYS = ("org.matrix.msc1767.text", "m.text", "body")


HtmlFormatter = Callable[[str, Callable[[str], str | None]], WhatsAppText]
"""``matrix_to_whatsapp(html, pill_resolver)``: the formatter package's, unless a test swaps it."""


# --- reading untrusted content ---


def _get_str(content: Mapping[str, Any], key: str) -> str | None:
    value = content.get(key)
    if value is not None and not isinstance(value, str):
        raise ConversionError(f"the message's {key} is not a string")
    return value


def _require_str(content: Mapping[str, Any], key: str) -> str:
    value = _get_str(content, key)
    if value is None:
        raise ConversionError(f"the message has no {key}")
    return value


def _strip_reply_fallback(body: str) -> str:
    """``body`` without the ``> <@sender> quoted`` lines and blank line old clients put before
    a reply (WhatsApp shows the quote itself)."""
    lines = body.split("\n")
    if not lines[0].startswith(">"):
        return body
    for index, line in enumerate(lines):
        if not line.startswith(">"):
            return "\n".join(lines[index + 1 :] if line == "" else lines[index:])
    return body


def _get_dict(content: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = content.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConversionError(f"the message's {key} is not an object")
    return value


def _relates_to(content: Mapping[str, Any]) -> dict[str, Any]:
    return _get_dict(content, "m.relates_to") or {}


def _related_event(relation: Mapping[str, Any], what: str) -> str:
    event_id = relation.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise ConversionError(f"the {what} does not name the event it relates to")
    return event_id


def _parse_jid(text: str) -> JID:
    try:
        return JID.parse(text)
    except ValueError as error:  # JIDParseError
        raise ConversionError(f"{text!r} is not a WhatsApp ID") from error


# --- text and context ---


def _format_text(
    ctx: FromMatrixContext, content: Mapping[str, Any], formatter: HtmlFormatter | None
) -> WhatsAppText:
    """The WhatsApp text of an event: its HTML through the formatter (pills become mentions),
    else its plain ``body``."""
    body = _require_str(content, "body")
    html = None
    if content.get("format") == "org.matrix.custom.html":
        html = _get_str(content, "formatted_body")
    relation = _relates_to(content)
    if isinstance(relation.get("m.in_reply_to"), Mapping):
        body = _strip_reply_fallback(body)
    if html is not None and len(html) > MAX_HTML_LENGTH:
        raise ConversionError(
            f"the formatted message is too long ({len(html)} characters; at most "
            f"{MAX_HTML_LENGTH} are accepted)"
        )
    result = WhatsAppText(body, [])
    if html is not None:
        result = (formatter or matrix_to_whatsapp)(html, _pill_resolver(ctx, content))
    if len(result.text) > MAX_TEXT_LENGTH:
        raise ConversionError(
            f"the message is too long for WhatsApp ({len(result.text)} characters; at most "
            f"{MAX_TEXT_LENGTH})"
        )
    return result


def _pill_resolver(
    ctx: FromMatrixContext, content: Mapping[str, Any]
) -> Callable[[str], str | None]:
    """Pills resolve to JIDs; with ``m.mentions`` (MSC3952) only the users it lists are
    mentioned on WhatsApp (the others stay plain names), as the Go bridge's allowed mentions."""
    mentions = content.get("m.mentions")
    if not isinstance(mentions, Mapping):
        return ctx.jid_for_user
    listed = mentions.get("user_ids")
    allowed = {u for u in listed if isinstance(u, str)} if isinstance(listed, list) else set()
    return lambda user_id: ctx.jid_for_user(user_id) if user_id in allowed else None


def _context_info(
    ctx: FromMatrixContext, content: Mapping[str, Any], mentions: list[str]
) -> wa_e2e_pb2.ContextInfo:
    """Reply quote, mentions and ``@room`` (``nonJIDMentions``), as Go ``generateContextInfo``.

    A reply to a message the bridge does not know is sent without the quote, as the Go bridge
    does: the text still gets through.
    """
    reply: ReplyTarget | None = None
    in_reply_to = _get_dict(_relates_to(content), "m.in_reply_to")
    if in_reply_to is not None and isinstance(in_reply_to.get("event_id"), str):
        reply = ctx.reply_target(in_reply_to["event_id"])
    info = builders.context_info(
        reply_to=reply.message_id if reply else None,
        reply_sender=_parse_jid(reply.sender_jid) if reply else None,
        quoted=reply.quoted if reply else None,
        mentions=[_parse_jid(jid) for jid in mentions],
    )
    if reply is not None:
        info.quotedType = wa_e2e_pb2.ContextInfo.EXPLICIT
    room_mentions = _get_dict(content, "m.mentions") or {}
    if room_mentions.get("room") is True:
        info.nonJIDMentions = 1
    return info


def _text_message(
    ctx: FromMatrixContext, content: Mapping[str, Any], formatter: HtmlFormatter | None
) -> Message:
    text = _format_text(ctx, content, formatter)
    body = f"/me {text.text}" if content.get("msgtype") == "m.emote" else text.text
    if not body:
        raise ConversionError("the message is empty")
    return builders.text(body, context=_context_info(ctx, content, text.mentioned_jids))


def _parse_geo_uri(uri: str) -> tuple[float, float]:
    if not uri.startswith("geo:"):
        raise ConversionError("the location's geo_uri does not start with geo:")
    parts = uri.removeprefix("geo:").split(";")[0].split(",")
    if len(parts) != 2:
        raise ConversionError("the location's geo_uri does not have exactly two coordinates")
    try:
        lat, long = float(parts[0]), float(parts[1])
    except ValueError as error:
        raise ConversionError("the location's coordinates are not numbers") from error
    if not (math.isfinite(lat) and math.isfinite(long)) or abs(lat) > 90 or abs(long) > 180:
        raise ConversionError("the location's coordinates are out of range")
    return lat, long


def _location_message(ctx: FromMatrixContext, content: Mapping[str, Any]) -> Message:
    body = _require_str(content, "body")
    lat, long = _parse_geo_uri(_require_str(content, "geo_uri"))
    message = builders.location(lat, long)
    message.locationMessage.comment = body
    message.locationMessage.contextInfo.CopyFrom(_context_info(ctx, content, []))
    return message


# --- entry points ---


async def convert_from_matrix(
    ctx: FromMatrixContext,
    event_type: str,
    content: dict[str, Any],
    *,
    formatter: HtmlFormatter | None = None,
    converter: MediaConverter | None = None,
    expiration: int | None = None,
    now: float | None = None,
) -> Message:
    """The WhatsApp message for an ``m.room.message``/``m.sticker``/poll-start event.

    An ``m.replace`` relation makes an edit of our earlier message (15 minutes at most, as
    WhatsApp allows). ``formatter`` defaults to the formatter package; ``converter`` is an
    optional transcoder (without one, formats only it could convert are refused by name);
    ``expiration`` is the chat's disappearing timer in seconds (Go ``generateContextInfo``);
    ``now`` is the clock for the edit window (tests).
    """
    if not isinstance(content, dict):
        raise ConversionError("the event content is not an object")
    relation = _relates_to(content)
    if relation.get("rel_type") == "m.replace":
        return _convert_edit(ctx, event_type, content, relation, formatter, now)
    message = await _convert_new(ctx, event_type, content, formatter, converter)
    if expiration:
        _set_expiration(message, expiration)
    return message


def _set_expiration(message: Message, seconds: int) -> None:
    """Mark the message's content as disappearing after ``seconds`` (its ``contextInfo``)."""
    for descriptor, part in builders.unwrap(message).ListFields():
        part_type = descriptor.message_type
        if part_type is not None and "contextInfo" in part_type.fields_by_name:
            part.contextInfo.expiration = seconds


async def _convert_new(
    ctx: FromMatrixContext,
    event_type: str,
    content: dict[str, Any],
    formatter: HtmlFormatter | None,
    converter: MediaConverter | None,
) -> Message:
    if event_type in POLL_START_TYPES:
        message, _ = convert_poll_start(ctx, content, formatter=formatter)
        return message
    if event_type == "m.sticker":
        msgtype = "m.sticker"
    elif event_type == "m.room.message":
        raw = content.get("msgtype")
        if not isinstance(raw, str):
            raise ConversionError("the message has no msgtype")
        msgtype = raw
    else:
        raise ConversionError(f"{event_type} events are not bridged to WhatsApp")
    if msgtype in TEXT_MSGTYPES:
        return _text_message(ctx, content, formatter)
    if msgtype == "m.location":
        return _location_message(ctx, content)
    if msgtype in MEDIA_MSGTYPES:
        caption = _format_text(ctx, content, formatter)
        info = _context_info(ctx, content, [])
        return await convert_media(ctx, msgtype, content, caption, info, converter)
    raise ConversionError(f"{msgtype} messages are not supported on WhatsApp")


def _convert_edit(
    ctx: FromMatrixContext,
    event_type: str,
    content: dict[str, Any],
    relation: Mapping[str, Any],
    formatter: HtmlFormatter | None,
    now: float | None,
) -> Message:
    """``m.replace`` → an ``editedMessage`` protocol message (text and emotes only: WhatsApp
    edits the text, a re-upload would not be the same media)."""
    target_id = _related_event(relation, "edit")
    target: EditTarget | None = ctx.edit_target(target_id)
    if target is None:
        raise ConversionError("the edited message was not bridged to WhatsApp")
    if not target.from_me:
        raise ConversionError("WhatsApp only lets you edit your own messages")
    age = (time.time() if now is None else now) - target.sent_at
    if age > EDIT_MAX_AGE:
        raise ConversionError(
            f"WhatsApp only allows edits within {EDIT_MAX_AGE // 60} minutes of sending"
        )
    new_content = _get_dict(content, "m.new_content")
    if new_content is None:
        raise ConversionError("the edit has no m.new_content")
    if event_type != "m.room.message" or new_content.get("msgtype") not in TEXT_MSGTYPES:
        raise ConversionError("only text messages can be edited on WhatsApp")
    text = _format_text(ctx, new_content, formatter)
    body = f"/me {text.text}" if new_content.get("msgtype") == "m.emote" else text.text
    if not body:
        raise ConversionError("the edited message is empty")
    info = builders.context_info(mentions=[_parse_jid(jid) for jid in text.mentioned_jids])
    edited = builders.text(body, context=info)
    return builders.edit(_parse_jid(ctx.chat_jid), target.message_id, edited)


def _target_key_sender(target: ReplyTarget) -> JID | None:
    return None if target.from_me else _parse_jid(target.sender_jid)


def convert_reaction(ctx: FromMatrixContext, target: ReplyTarget, key: str) -> Message:
    """A reaction with ``key`` on ``target`` (WhatsApp keeps one per user: it replaces the
    previous one). Emoji variation selectors are dropped as the Go bridge does."""
    if not isinstance(key, str) or not key:
        raise ConversionError("the reaction has no key")
    emoji = key.replace("\ufe0f", "").replace("\ufe0e", "")
    if not emoji or len(emoji) > 32:
        raise ConversionError("WhatsApp reactions must be a single emoji")
    return builders.reaction(
        _parse_jid(ctx.chat_jid), target.message_id, _target_key_sender(target), emoji
    )


def convert_redaction(ctx: FromMatrixContext, redacts: str) -> Message:
    """A redaction: removes our reaction, or revokes (deletes for everyone) our own message."""
    if not isinstance(redacts, str) or not redacts:
        raise ConversionError("the redaction does not name an event")
    chat = _parse_jid(ctx.chat_jid)
    reacted = ctx.reaction_target(redacts)
    if reacted is not None:
        return builders.reaction(
            chat, reacted.message_id, _target_key_sender(reacted), builders.REMOVE_REACTION
        )
    target = ctx.reply_target(redacts)
    if target is None:
        raise ConversionError("the redacted event was not bridged to WhatsApp")
    if not target.from_me:
        raise ConversionError("only your own messages can be deleted on WhatsApp")
    return builders.revoke(chat, target.message_id)


# --- polls (MSC3381) ---


def _msc1767_text(value: Any, what: str) -> str:
    """The text of an MSC1767 extensible-event body (a string, or a list of representations)."""
    if isinstance(value, Mapping):
        for key in _TEXT_KEYS:
            inner = value.get(key)
            if isinstance(inner, str):
                return inner
            if isinstance(inner, list):
                for rep in inner:
                    if (
                        isinstance(rep, Mapping)
                        and isinstance(rep.get("body"), str)
                        and rep.get("mimetype", "text/plain") == "text/plain"
                    ):
                        return str(rep["body"])
    raise ConversionError(f"the poll's {what} has no text")


def convert_poll_start(
    ctx: FromMatrixContext, content: dict[str, Any], *, formatter: HtmlFormatter | None = None
) -> tuple[Message, dict[str, str]]:
    """A poll, and its Matrix answer ids → option names (the portal stores them to map votes).

    ``max_selections`` of at least the number of answers means "any number" (WhatsApp's 0).
    """
    del formatter  # the question is plain text (MSC1767), like the Go bridge's
    poll = _get_dict(content, "org.matrix.msc3381.poll.start") or _get_dict(
        content, "m.poll.start"
    )
    if poll is None:
        raise ConversionError("the poll has no poll.start content")
    question = _msc1767_text(poll.get("question"), "question").strip()
    if not question:
        raise ConversionError("the poll has no question")
    answers = poll.get("answers")
    if not isinstance(answers, list) or len(answers) < 2:
        raise ConversionError("a WhatsApp poll needs at least two answers")
    option_ids: dict[str, str] = {}
    names: list[str] = []
    for answer in answers:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str):
            raise ConversionError("a poll answer has no id")
        name = _msc1767_text(answer, "answer").strip()
        if not name:
            raise ConversionError("a poll answer is empty")
        if name in names:
            raise ConversionError("WhatsApp polls cannot have the same answer twice")
        names.append(name)
        option_ids[answer["id"]] = name
    max_selections = poll.get("max_selections", 1)
    if not isinstance(max_selections, int) or isinstance(max_selections, bool):
        raise ConversionError("the poll's max_selections is not a number")
    selectable = 0 if max_selections >= len(names) or max_selections < 0 else max_selections
    message = builders.poll(question, names, selectable)
    info = _context_info(ctx, content, [])
    if info.ByteSize():
        message.pollCreationMessageV3.contextInfo.CopyFrom(info)
    return message, option_ids


def convert_poll_response(ctx: FromMatrixContext, content: dict[str, Any]) -> PollVote:
    """A vote: the answer ids mapped to the poll's option names (unknown ids are dropped;
    none left is an empty vote, which retracts the previous one)."""
    if not isinstance(content, dict):
        raise ConversionError("the event content is not an object")
    response = _get_dict(content, "org.matrix.msc3381.poll.response") or _get_dict(
        content, "m.poll.response"
    )
    if response is None:
        raise ConversionError("the poll response has no answers")
    answers = response.get("answers")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise ConversionError("the poll response's answers are not a list of ids")
    poll_id = _related_event(_relates_to(content), "poll response")
    target: PollTarget | None = ctx.poll_target(poll_id)
    if target is None:
        raise ConversionError("the poll was not bridged to WhatsApp")
    options = [target.options[a] for a in dict.fromkeys(answers) if a in target.options]
    return PollVote(target.message_id, target.sender_jid, options)
