"""A received WhatsApp message → the Matrix events that show it (the Go bridge's
``pkg/msgconv/from-whatsapp.go``).

:func:`convert_to_matrix` picks the kind, converts it (:mod:`.media`, :mod:`.misc`), then adds
what every kind shares: ``m.mentions``, the reply (``m.in_reply_to``), the "↷ Forwarded" lead,
the disappearing timer and, for edits, ``m.new_content``/``m.replace``. Reactions and revokes are
not content: :func:`convert_reaction` and :func:`convert_revoke` say what to react to or redact.
Nothing here raises for bad input: unknown kinds and failed media become notices.
"""

from __future__ import annotations

import copy
import html
import logging
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from mautrix.util import variation_selector

from ..formatter import FormattedText, MentionTarget, whatsapp_to_matrix
from ..whatsapp.message_builders import unwrap
from ..whatsapp.proto import wa_e2e_pb2
from .kind import message_kind
from .media import convert_media, upload_thumbnail
from .misc import (
    POLL_RESPONSE,
    convert_contact,
    convert_contacts_array,
    convert_group_invite,
    convert_live_location,
    convert_location,
    convert_poll_creation,
    convert_poll_vote,
    convert_unknown,
    disappearing_notice,
    notice,
)
from .types import (
    ConvertedMessage,
    ConvertedPart,
    ConvertedReaction,
    RevokeTarget,
    ToMatrixContext,
)

log = logging.getLogger("mau.whatsapp.msgconv")

HTML = "org.matrix.custom.html"
FORWARDED_HTML = "<p data-mx-forwarded-notice><em>↷ Forwarded</em></p>"
VIEW_ONCE_RECEIVED = (
    "You received a view once message. For added privacy, you can only open it on the "
    "WhatsApp app."
)
VIEW_ONCE_SENT = "You sent a view once message from another device."
_POLL_CREATIONS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)
_MEDIA = ("imageMessage", "stickerMessage", "videoMessage", "ptvMessage", "audioMessage")
_EDIT_FALLBACK_LIMIT = 10000
_Protocol = wa_e2e_pb2.ProtocolMessage


def _repair_strings(message: Message) -> None:
    """Make every string field text: proto2 hands back ``bytes`` for a string that is not
    valid UTF-8 (a broken or hostile sender); they are decoded with replacement characters."""
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if _is_repeated(field) else [value]
            for item in items:
                _repair_strings(item)
        elif field.type == FieldDescriptor.TYPE_STRING:
            if _is_repeated(field):
                fixed = [v.decode(errors="replace") if isinstance(v, bytes) else v for v in value]
                if fixed != list(value):
                    del value[:]
                    value.extend(fixed)
            elif isinstance(value, bytes):
                setattr(message, field.name, value.decode(errors="replace"))


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _mentions(ctx: ToMatrixContext, info: wa_e2e_pb2.ContextInfo) -> dict[str, MentionTarget]:
    """The known mentioned users, keyed by JID user part (``@<user part>`` in the text)."""
    targets: dict[str, MentionTarget] = {}
    for jid in info.mentionedJID:
        if target := ctx.mention(jid):
            targets[jid.split("@", 1)[0]] = target
    return targets


def _apply_text(content: dict[str, Any], formatted: FormattedText) -> None:
    content["body"] = formatted.body
    if formatted.html is not None:
        content["format"] = HTML
        content["formatted_body"] = formatted.html


async def _link_preview(
    ctx: ToMatrixContext, message: wa_e2e_pb2.ExtendedTextMessage
) -> list[dict[str, Any]]:
    """MSC4095 bundled preview (``com.beeper.linkpreviews``); [] says "no preview"."""
    if not message.matchedText:
        return []
    preview: dict[str, Any] = {"matched_url": message.matchedText}
    if message.title:
        preview["og:title"] = message.title
    if message.description:
        preview["og:description"] = message.description
    if message.JPEGThumbnail:
        info: dict[str, Any] = {}
        await upload_thumbnail(ctx, message.JPEGThumbnail, info)
        if "thumbnail_url" in info:
            thumb = info.get("thumbnail_info", {})
            preview["og:image"] = info["thumbnail_url"]
            preview["og:image:type"] = "image/jpeg"
            preview["matrix:image:size"] = len(message.JPEGThumbnail)
            width = message.thumbnailWidth or thumb.get("w")
            height = message.thumbnailHeight or thumb.get("h")
            if width and height:
                preview["og:image:width"], preview["og:image:height"] = width, height
    if message.previewType == wa_e2e_pb2.ExtendedTextMessage.VIDEO:
        preview["og:type"] = "video.other"
    return [preview]


async def _convert_text(
    ctx: ToMatrixContext, message: wa_e2e_pb2.Message
) -> tuple[ConvertedPart, wa_e2e_pb2.ContextInfo | None]:
    extended = message.extendedTextMessage
    text = extended.text or message.conversation
    context_info = extended.contextInfo if message.HasField("extendedTextMessage") else None
    mentions = _mentions(ctx, context_info) if context_info else {}
    content: dict[str, Any] = {"msgtype": "m.text"}
    _apply_text(content, whatsapp_to_matrix(text, mentions))
    content["com.beeper.linkpreviews"] = await _link_preview(ctx, extended)
    return ConvertedPart("m.room.message", content), context_info


async def _convert_media(
    ctx: ToMatrixContext,
    message: wa_e2e_pb2.Message,
    *,
    is_view_once: bool,
    disable_view_once: bool,
    is_from_me: bool,
) -> tuple[ConvertedPart, wa_e2e_pb2.ContextInfo | None]:
    field = next((name for name in (*_MEDIA, "documentMessage") if message.HasField(name)), "")
    media = getattr(message, field)
    if is_view_once and disable_view_once:
        return notice(VIEW_ONCE_SENT if is_from_me else VIEW_ONCE_RECEIVED), None
    context_info = media.contextInfo
    caption_text = getattr(media, "caption", "")
    caption = (
        whatsapp_to_matrix(caption_text, _mentions(ctx, context_info)) if caption_text else None
    )
    part = await convert_media(ctx, media, ptv=field == "ptvMessage", caption=caption)
    return part, context_info


async def _convert_content(
    ctx: ToMatrixContext,
    message: wa_e2e_pb2.Message,
    out: ConvertedMessage,
    *,
    is_view_once: bool,
    disable_view_once: bool,
    is_from_me: bool,
    sender: str,
    command_prefix: str,
) -> wa_e2e_pb2.ContextInfo | None:
    """Fill ``out.parts`` for one message kind; returns its ``contextInfo`` (if any)."""
    if message.HasField("conversation") or message.HasField("extendedTextMessage"):
        part, context_info = await _convert_text(ctx, message)
        out.parts.append(part)
        return context_info
    if any(message.HasField(name) for name in (*_MEDIA, "documentMessage")):
        part, context_info = await _convert_media(
            ctx,
            message,
            is_view_once=is_view_once,
            disable_view_once=disable_view_once,
            is_from_me=is_from_me,
        )
        out.parts.append(part)
        return context_info
    if message.HasField("locationMessage"):
        out.parts.append(await convert_location(ctx, message.locationMessage))
        return message.locationMessage.contextInfo
    if message.HasField("liveLocationMessage"):
        out.parts.append(convert_live_location(message.liveLocationMessage))
        return message.liveLocationMessage.contextInfo
    if message.HasField("contactMessage"):
        out.parts.append(await convert_contact(ctx, message.contactMessage))
        return message.contactMessage.contextInfo
    if message.HasField("contactsArrayMessage"):
        out.parts.extend(await convert_contacts_array(ctx, message.contactsArrayMessage))
        return message.contactsArrayMessage.contextInfo
    if message.HasField("groupInviteMessage"):
        invite = message.groupInviteMessage
        out.parts.append(
            convert_group_invite(invite, sender=sender, command_prefix=command_prefix)
        )
        return invite.contextInfo
    for name in _POLL_CREATIONS:
        if message.HasField(name):
            poll = getattr(message, name)
            out.parts.append(convert_poll_creation(poll))
            poll_info: wa_e2e_pb2.ContextInfo = poll.contextInfo
            return poll_info
    if message.HasField("pollUpdateMessage"):
        await _convert_poll_vote(ctx, message.pollUpdateMessage, out)
        return None
    if message.HasField("protocolMessage"):
        protocol = message.protocolMessage
        if protocol.type == _Protocol.EPHEMERAL_SETTING:
            out.timer_change = protocol.ephemeralExpiration
            out.timer_set_at = protocol.ephemeralSettingTimestamp
            out.parts.append(disappearing_notice(protocol.ephemeralExpiration))
        # Edits are handled by the caller; revokes and housekeeping carry nothing to show.
        return None
    if message.HasField("reactionMessage"):
        return None
    out.parts.append(convert_unknown(message))
    return None


async def _convert_poll_vote(
    ctx: ToMatrixContext, update: wa_e2e_pb2.PollUpdateMessage, out: ConvertedMessage
) -> None:
    """A vote becomes a ``poll.response`` to the bridged poll; a vote on a poll we never
    bridged, or one we cannot decrypt, has nothing to point at and is left out (logged)."""
    key = update.pollCreationMessageKey
    poll_event = ctx.reply_target(key.remoteJID, key.ID)
    if poll_event is None:
        log.warning("Poll vote for unknown poll %s", key.ID)
        return
    try:
        selected = await ctx.decrypt_poll_vote(update)
    except Exception as e:
        log.warning("Failed to decrypt poll vote for %s: %s", key.ID, e)
        return
    out.parts.append(convert_poll_vote(poll_event, selected))


def _is_media_content(content: dict[str, Any]) -> bool:
    return content.get("msgtype") in ("m.image", "m.video", "m.audio", "m.file")


def _add_forwarded(content: dict[str, Any]) -> None:
    """The Go bridge's "↷ Forwarded" lead (MSC2530 media without caption: as the body)."""
    is_media = _is_media_content(content)
    has_caption = bool(content.get("filename")) and content.get("filename") != content["body"]
    if is_media and not has_caption:
        content["filename"] = content["body"]
        content["body"] = "↷ Forwarded"
        content["format"] = HTML
        content["formatted_body"] = FORWARDED_HTML
    elif is_media or content.get("msgtype") in ("m.text", "m.notice", "m.emote"):
        if "formatted_body" not in content:
            content["format"] = HTML
            content["formatted_body"] = html.escape(content["body"]).replace("\n", "<br>")
        content["body"] = "↷ Forwarded\n\n" + content["body"]
        content["formatted_body"] = FORWARDED_HTML + content["formatted_body"]


def _make_edit(content: dict[str, Any], target: str) -> dict[str, Any]:
    """mautrix's ``SetEdit``: the new content, plus a "* " fallback for old clients."""
    new_content = {k: v for k, v in content.items() if k != "m.relates_to"}
    edit = copy.deepcopy(new_content)
    edit["m.new_content"] = new_content
    edit["m.relates_to"] = {"rel_type": "m.replace", "event_id": target}
    if edit.get("msgtype") in ("m.text", "m.notice"):
        edit["body"] = "* " + edit["body"]
        edit["m.mentions"] = {}
        if edit.get("formatted_body"):
            edit["formatted_body"] = "* " + edit["formatted_body"]
        if len(edit["body"]) > _EDIT_FALLBACK_LIMIT:
            edit.pop("format", None)
            edit.pop("formatted_body", None)
            edit["body"] = edit["body"][:50] + "[edit fallback cut…]"
    return edit


async def convert_to_matrix(
    ctx: ToMatrixContext,
    message: wa_e2e_pb2.Message,
    *,
    is_view_once: bool = False,
    ephemeral_seconds: int = 0,
    disable_view_once: bool = False,
    is_from_me: bool = False,
    sender: str = "",
    command_prefix: str = "!wa",
) -> ConvertedMessage:
    """The Matrix events for one received WhatsApp message (``events.Message.message``).

    ``parts`` is empty for what is not content (reactions, revokes: see
    :func:`convert_reaction`/:func:`convert_revoke`; what :func:`~.kind.message_kind` calls
    ``ignore``; a vote on an unknown poll). ``disable_view_once`` replaces view-once media
    with a notice (worded by ``is_from_me``); ``sender`` (a JID) is recorded as a group
    invite's inviter; ``command_prefix`` is quoted in a group invite's instructions.
    """
    out = ConvertedMessage(parts=[])
    if message_kind(message) == "ignore":
        return out
    repaired = wa_e2e_pb2.Message()
    repaired.CopyFrom(message)
    _repair_strings(repaired)
    message = unwrap(repaired)
    if message.HasField("editedMessage"):
        message = unwrap(message.editedMessage.message)
    protocol = message.protocolMessage
    edit_of: str | None = None
    if message.HasField("protocolMessage") and protocol.type == _Protocol.MESSAGE_EDIT:
        edit_of = ctx.edit_target(protocol.key.remoteJID, protocol.key.ID)
        out.edit_target_missing = edit_of is None
        message = unwrap(protocol.editedMessage)
    try:
        context_info = await _convert_content(
            ctx,
            message,
            out,
            is_view_once=is_view_once,
            disable_view_once=disable_view_once,
            is_from_me=is_from_me,
            sender=sender,
            command_prefix=command_prefix,
        )
    except Exception:
        # A malformed message must not stop the portal: show it as unknown instead.
        log.exception("Failed to convert WhatsApp message")
        out.parts = [convert_unknown(message)]
        context_info = None
    if not out.parts:
        return out
    main = out.parts[0]
    if main.event_type != POLL_RESPONSE:
        mentions: dict[str, Any] = main.content.setdefault("m.mentions", {})
        if context_info is not None:
            user_ids = [t.user_id for t in _mentions(ctx, context_info).values()]
            if user_ids:
                mentions["user_ids"] = list(dict.fromkeys(user_ids))
                out.mentioned_user_ids = mentions["user_ids"]
            if context_info.nonJIDMentions == 1:
                mentions["room"] = True
    if context_info is not None:
        out.disappear_seconds = context_info.expiration
        out.timer_set_at = context_info.ephemeralSettingTimestamp
        if context_info.isForwarded:
            _add_forwarded(main.content)
        if context_info.stanzaID and edit_of is None:
            out.reply_to = ctx.reply_target(context_info.remoteJID, context_info.stanzaID)
            if out.reply_to is not None:
                main.content["m.relates_to"] = {"m.in_reply_to": {"event_id": out.reply_to}}
    out.disappear_seconds = out.disappear_seconds or ephemeral_seconds
    if edit_of is not None:
        out.edit_of = edit_of
        out.parts = [
            ConvertedPart(main.event_type, _make_edit(main.content, edit_of), main.part_id)
        ]
    return out


def convert_reaction(
    ctx: ToMatrixContext, message: wa_e2e_pb2.Message
) -> ConvertedReaction | None:
    """The ``m.reaction`` for a WhatsApp reaction (None if the message is not one).

    An empty emoji removes the sender's reaction: ``content`` is None and the portal redacts
    the reaction it stored for that sender and target.
    """
    message = unwrap(message)
    if not message.HasField("reactionMessage"):
        return None
    reaction = message.reactionMessage
    key = reaction.key
    target = ctx.reply_target(key.remoteJID, key.ID)
    content: dict[str, Any] | None = None
    if reaction.text and target is not None:
        content = {
            "m.relates_to": {
                "rel_type": "m.annotation",
                "event_id": target,
                # As bridgev2: the fully-qualified form, so equal reactions group on Matrix.
                "key": variation_selector.add(reaction.text),
            }
        }
    return ConvertedReaction(
        target_chat=key.remoteJID,
        target_message_id=key.ID,
        target_sender=key.participant,
        target_from_me=key.fromMe,
        emoji=reaction.text,
        target_event_id=target,
        content=content,
    )


def convert_revoke(message: wa_e2e_pb2.Message) -> RevokeTarget | None:
    """What a revoke ("delete for everyone") removes, or None if the message is not one."""
    message = unwrap(message)
    protocol = message.protocolMessage
    if not message.HasField("protocolMessage") or protocol.type != _Protocol.REVOKE:
        return None
    key = protocol.key
    return RevokeTarget(key.remoteJID, key.ID, key.participant, key.fromMe)
