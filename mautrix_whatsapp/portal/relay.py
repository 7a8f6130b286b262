"""Relay mode: room members without their own WhatsApp login talk through the relay user's.

A portal's relay (``set-relay``, stored in ``portal.relay_user_id``) is a logged-in bridge user.
A message from someone who can't send as themselves (not logged in, ``relay``-level permission
only, or in another user's private chat) goes out through the relay's session, its text
rewritten by ``bridge.relay.message_formats`` so WhatsApp sees who wrote it. As in the Go bridge:
reactions and polls of relayed users are dropped (WhatsApp would show them as the relay's); an
edit or a redaction goes through when it is of the user's own relayed message, which is told by
the Matrix sender of that message (the message table knows only the relay's JID).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from string import Template
from typing import TYPE_CHECKING, Any, cast

from mautrix.types import (
    JSON,
    EventID,
    EventType,
    Format,
    MessageEventContent,
    MessageType,
    ReactionEvent,
    RedactionEvent,
    RoomID,
    SerializerError,
    UserID,
)

from ..session import SendFailed
from .convert import ConversionError
from .edits import EDIT_NOT_OWN, replaced_event
from .jids import user_jid
from .media import set_media_origin
from .redactions import handle_matrix_redaction
from .relations import event_content, refuse, sender_session

if TYPE_CHECKING:
    from mautrix.types import Event

    from ..user import User
    from .portal import Portal

RELAY_NOT_CONNECTED = "the relay of this room isn't connected to WhatsApp"
REDACT_NOT_OWN = "you can only delete your own messages"
_MEDIA_TYPES = {"m.image", "m.video", "m.audio", "m.file"}


async def get_relay_user(portal: Portal) -> User | None:
    """The portal's relay (whether or not connected), None without one or with relay mode
    off."""
    user_id = await portal.bridge.tables.portals.get_relay(portal.jid, portal.receiver)
    if user_id is None or not portal.bridge.config["bridge.relay.enabled"]:
        return None
    return await portal.bridge.get_user(user_id, create=False)


async def set_relay_user(portal: Portal, user: User | None) -> None:
    await portal.bridge.tables.portals.set_relay(
        portal.jid, portal.receiver, user.mxid if user is not None else None
    )


def needs_relay(portal: Portal, user: User) -> bool:
    """Whether ``user`` can't send to this chat as themselves: no connected login, or another
    user's private chat. (``relay``-level users can't log in; one who has a login from before
    uses it, as in the Go bridge.)"""
    if user.session is None or user.wa_jid is None:
        return True
    return not portal.is_group and user_jid(user.wa_jid) != portal.receiver


async def _connected_relay(portal: Portal) -> User | None:
    """The relay, if the portal has one; :class:`SendFailed` if it can't send now."""
    relay = await get_relay_user(portal)
    if relay is None:
        return None
    if relay.session is None or relay.wa_jid is None:
        raise SendFailed(RELAY_NOT_CONNECTED)
    return relay


async def choose_sender(
    portal: Portal, sender: User, content: MessageEventContent
) -> tuple[User, MessageEventContent]:
    """Who sends ``content`` to WhatsApp, and what: the sender as is when they can; else the
    relay with the content formatted. Without a relay the sender stays, and the portal's
    checks say why they can't send (not logged in…)."""
    if not needs_relay(portal, sender):
        return sender, content
    relay = await _connected_relay(portal)
    if relay is None:
        return sender, content
    edited = replaced_event(content.serialize())
    if edited is not None:
        await _check_own_message(portal, sender, edited)
    set_media_origin(relay)  # the relay's session uploads the files
    return relay, await format_relayed(portal, sender, content)


async def _original_sender(portal: Portal, event_id: str) -> UserID | None:
    """The Matrix sender of a room event (None if it can't be fetched)."""
    if portal.mxid is None:
        return None
    try:
        evt = await portal.main_intent.get_event(RoomID(portal.mxid), EventID(event_id))
    except Exception as e:
        portal.log.debug("Can't fetch %s to check its sender: %s", event_id, e)
        return None
    return UserID(evt.sender) if evt.sender else None


async def _check_own_message(portal: Portal, sender: User, event_id: str) -> None:
    if await _original_sender(portal, event_id) != sender.mxid:
        raise ConversionError(EDIT_NOT_OWN)


# ---- formatting ----


async def _displayname(portal: Portal, user_id: UserID) -> str:
    """The sender's name in the room (their member event), else their Matrix ID."""
    if portal.mxid is None:
        return user_id
    try:
        name = await portal.main_intent.get_room_displayname(RoomID(portal.mxid), user_id)
    except Exception as e:
        portal.log.debug("No displayname of %s in %s: %s", user_id, portal.mxid, e)
        name = None
    return name or user_id


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p") and self.parts:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(value: str) -> str:
    """The plain text of a small HTML fragment (the ``body`` beside a formatted template)."""
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


def apply_format(
    formats: dict[str, str], content: dict[str, Any], user_id: str, displayname: str
) -> None:
    """Rewrite one message content (dict, in place) with its ``message_formats`` template.

    ``$message`` is the message as HTML (the text, or a media caption); the names are escaped.
    A media template without ``$message`` gets a caption appended after ``: `` rather than
    dropping it. Emotes become text, the template carrying the ``*``.
    """
    msgtype = content.get("msgtype")
    template = formats.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(template, str):
        raise ConversionError(f"{msgtype or 'this kind of'} messages can't be relayed")
    body = content.get("body")
    body = body if isinstance(body, str) else ""
    formatted = content.get("formatted_body")
    is_html = content.get("format") == Format.HTML.value and isinstance(formatted, str)
    message_html = formatted if is_html else html.escape(body).replace("\n", "<br/>")
    if msgtype in _MEDIA_TYPES:
        filename = content.get("filename")
        has_caption = isinstance(filename, str) and bool(filename) and body != filename
        if not has_caption:
            content["filename"] = body or "file"
            message_html = ""
    username = user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id
    values = {
        "sender_displayname": html.escape(displayname),
        "sender_username": html.escape(username),
        "sender_mxid": html.escape(user_id),
        "message": message_html,
    }
    result = Template(template).safe_substitute(values)
    if msgtype in _MEDIA_TYPES and message_html and "message" not in _placeholders(template):
        result = f"{result}: {message_html}"
    content["format"] = Format.HTML.value
    content["formatted_body"] = result
    content["body"] = html_to_text(result)
    if msgtype == MessageType.EMOTE.value:
        content["msgtype"] = MessageType.TEXT.value


def _placeholders(template: str) -> set[str]:
    return {m.group("named") or m.group("braced") for m in Template.pattern.finditer(template)}


async def format_relayed(
    portal: Portal, sender: User, content: MessageEventContent
) -> MessageEventContent:
    """``content`` as the relay sends it. An edit's content object holds the new content
    (mautrix builds ``m.new_content`` from it on serializing), so that is what is formatted."""
    raw: dict[str, Any] = content.serialize()
    formats = portal.bridge.config["bridge.relay.message_formats"] or {}
    name = await _displayname(portal, sender.mxid)
    new_content = raw.get("m.new_content")
    if replaced_event(raw) and isinstance(new_content, dict):
        base = {**new_content, "m.relates_to": raw["m.relates_to"]}
    else:
        base = raw
    apply_format(formats, base, sender.mxid, name)
    try:
        return type(content).deserialize(cast(JSON, base))
    except SerializerError as e:
        # mautrix parses a partial ``file`` leniently, but not once it's serialized again.
        raise ConversionError(f"the message content is malformed ({e})") from None


# ---- reactions, redactions and polls ----


async def handle_relayed_relation(portal: Portal, sender: User, evt: Event) -> None:
    """A relation event of a user who can't act as themselves, in the portal's queue."""

    async def job() -> None:
        await _relayed_relation(portal, sender, evt)

    await portal.queue.run(job)


async def _relayed_relation(portal: Portal, sender: User, evt: Event) -> None:
    if portal.mxid is None or evt.event_id is None:
        return
    if isinstance(evt, ReactionEvent):
        what, event_type = "reaction", EventType.REACTION
    elif isinstance(evt, RedactionEvent):
        what, event_type = "redaction", EventType.ROOM_REDACTION
    else:
        what, event_type = "poll", evt.type
    try:
        relay = await _connected_relay(portal)
        if relay is None:
            sender_session(portal, sender)  # raises why they can't act themselves
            return
    except SendFailed as e:
        await refuse(portal, sender, evt.event_id, event_type, what, e)
        return
    if not isinstance(evt, RedactionEvent):
        portal.log.debug("Ignoring a %s from relayed user %s", what, sender.mxid)
        return
    redacts = evt.redacts or event_content(evt).get("redacts")
    if not isinstance(redacts, str) or not redacts:
        return
    if await _original_sender(portal, redacts) != sender.mxid:
        await refuse(portal, sender, evt.event_id, event_type, what, REDACT_NOT_OWN)
        return
    await handle_matrix_redaction(portal, relay, evt.event_id, redacts)
