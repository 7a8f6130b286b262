"""The real converters: msgconv (formatting, mentions, replies) behind portal-core's protocols.

msgconv's contexts are synchronous for lookups (``mention``, ``jid_for_user``,
``reply_target``) while the bridge's lookups (ghosts, the message table) are async, so each
conversion first resolves everything the message names, then converts with a context that
answers from those results. Media goes through :mod:`.media` (the files' I/O); a context
made without it raises :class:`MediaNotSupported`, which msgconv turns into its failure notice
(to Matrix) or a reason shown in the room (to WhatsApp).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from mautrix.types import (
    EventID,
    EventType,
    MessageEventContent,
    MessageType,
    RoomID,
    TextMessageEventContent,
    UserID,
)

from ..encryption import use_encrypted_files
from ..msgconv import MentionTarget, convert_to_matrix
from ..msgconv.from_matrix import convert_from_matrix
from ..msgconv.from_matrix_types import (
    ConversionError as FromMatrixError,
)
from ..msgconv.from_matrix_types import (
    EditTarget,
    PollTarget,
    ReplyTarget,
    UploadedMedia,
)
from ..whatsapp.media.types import MediaType
from ..whatsapp.proto import wa_e2e_pb2
from .convert import ConversionError, ConvertedPart
from .edits import matrix_edit_targets, whatsapp_edit_targets
from .media import PortalMedia, declared_size_problem, media_converter, media_origin

if TYPE_CHECKING:
    from ..session import MessageReceived
    from .portal import Portal


class MediaNotSupported(RuntimeError):
    """Media bridging is not wired into the portal yet."""

    def __init__(self) -> None:
        super().__init__("media isn't supported by the bridge yet")


def _context_infos(message: wa_e2e_pb2.Message) -> list[wa_e2e_pb2.ContextInfo]:
    """Every ``contextInfo`` in the message's top-level content fields (where mentions and
    reply quotes live)."""
    infos = []
    for _, value in message.ListFields():
        if isinstance(value, wa_e2e_pb2.Message):
            infos.extend(_context_infos(value))
        elif hasattr(value, "contextInfo") and value.HasField("contextInfo"):
            infos.append(value.contextInfo)
        elif hasattr(value, "message") and isinstance(
            getattr(value, "message", None), wa_e2e_pb2.Message
        ):
            infos.extend(_context_infos(value.message))
    return infos


VoteDecrypter = Callable[[wa_e2e_pb2.PollUpdateMessage], Awaitable[list[bytes]]]


class _ToMatrixContext:
    """msgconv's :class:`~..msgconv.ToMatrixContext` answering from pre-resolved lookups."""

    def __init__(
        self,
        mentions: dict[str, MentionTarget],
        replies: dict[str, str],
        media: PortalMedia | None = None,
        edits: dict[str, str] | None = None,
        decrypt_vote: VoteDecrypter | None = None,
    ) -> None:
        self._mentions = mentions
        self._replies = replies
        self._media = media
        self._edits = edits or {}
        self._decrypt_vote = decrypt_vote

    async def download_media(self, message: Any) -> bytes:
        if self._media is None:
            raise MediaNotSupported()
        return await self._media.download_from_whatsapp(message)

    async def upload_media(self, data: bytes, mimetype: str, filename: str) -> str:
        if self._media is None:
            raise MediaNotSupported()
        return await self._media.upload_to_matrix(data, mimetype, filename)

    def mention(self, jid: str) -> MentionTarget | None:
        return self._mentions.get(jid)

    def reply_target(self, chat: str, message_id: str) -> str | None:
        return self._replies.get(message_id)

    def edit_target(self, chat: str, message_id: str) -> str | None:
        return self._edits.get(message_id)

    async def decrypt_poll_vote(self, update: wa_e2e_pb2.PollUpdateMessage) -> list[bytes]:
        if self._decrypt_vote is None:  # votes go through portal.polls, which passes one
            raise RuntimeError("no session to decrypt the poll vote with")
        return await self._decrypt_vote(update)


class MsgconvToMatrix:
    """WhatsApp → Matrix with formatting, mention pills (the ghosts) and reply relations."""

    async def to_matrix(self, portal: Portal, message: MessageReceived) -> list[ConvertedPart]:
        mentions: dict[str, MentionTarget] = {}
        replies: dict[str, str] = {}
        for info in _context_infos(message.message):
            for jid in info.mentionedJID:
                puppet = await portal.bridge.get_puppet_by_jid(jid)
                if puppet is not None:
                    name = puppet.displayname or jid.split("@", 1)[0]
                    mentions[jid] = MentionTarget(user_id=puppet.mxid, displayname=name)
            if info.stanzaID:
                rows = await portal.bridge.tables.messages.get_by_id(
                    portal.jid, portal.receiver, info.stanzaID
                )
                if rows:
                    replies[info.stanzaID] = min(rows, key=lambda r: r.part).mxid
        edits = await whatsapp_edit_targets(portal, message)
        media = PortalMedia(portal, media_origin.get())
        ctx = _ToMatrixContext(mentions, replies, media, edits)
        converted = await convert_to_matrix(
            ctx,
            message.message,
            is_from_me=message.is_from_me,
            sender=message.sender,
            is_view_once=message.is_view_once,  # ---- receipts ----: view-once as Go
            disable_view_once=bool(portal.bridge.config["bridge.disable_view_once"]),
        )
        for part in converted.parts:  # ---- encryption ---- (files uploaded encrypted)
            use_encrypted_files(part.content, media.encrypted_files)
        return [
            ConvertedPart(TextMessageEventContent.deserialize(part.content))  # type: ignore[arg-type]
            # An edit goes out as msgconv made it: mautrix's content class would add its
            # own "* " fallback on top on serializing.
            if part.event_type == "m.room.message" and converted.edit_of is None
            else _raw_part(part.event_type, part.content)
            for part in converted.parts
        ]


def _raw_part(event_type: str, content: dict[str, Any]) -> ConvertedPart:
    """Other event types (polls…) go out as their JSON, which the intent sends unchanged."""
    return ConvertedPart(
        cast(MessageEventContent, content), EventType.find(event_type, EventType.Class.MESSAGE)
    )


_PILL = re.compile(r"https://matrix\.to/#/(@[^\"'?/<>]+)")


class _FromMatrixContext:
    """msgconv's ``FromMatrixContext`` answering from pre-resolved lookups."""

    def __init__(
        self,
        chat: str,
        jids: dict[str, str],
        replies: dict[str, ReplyTarget],
        media: PortalMedia | None = None,
        *,
        edits: dict[str, EditTarget] | None = None,
        reactions: dict[str, ReplyTarget] | None = None,
        polls: dict[str, PollTarget] | None = None,
    ) -> None:
        self._chat = chat
        self._jids = jids
        self._replies = replies
        self._media = media
        self._edits = edits or {}
        self._reactions = reactions or {}
        self._polls = polls or {}

    @property
    def chat_jid(self) -> str:
        return self._chat

    async def download_mxc(self, url: str, encrypted_file: dict[str, Any] | None) -> bytes:
        if self._media is None:
            raise MediaNotSupported()
        return await self._media.download_from_matrix(url, encrypted_file)

    async def upload_media(self, data: bytes, kind: MediaType, mimetype: str) -> UploadedMedia:
        if self._media is None:
            raise MediaNotSupported()
        return await self._media.upload_to_whatsapp(data, kind, mimetype)

    def jid_for_user(self, user_id: str) -> str | None:
        return self._jids.get(user_id)

    def reply_target(self, event_id: str) -> ReplyTarget | None:
        return self._replies.get(event_id)

    def edit_target(self, event_id: str) -> EditTarget | None:
        return self._edits.get(event_id)

    def reaction_target(self, event_id: str) -> ReplyTarget | None:
        return self._reactions.get(event_id)

    def poll_target(self, event_id: str) -> PollTarget | None:
        return self._polls.get(event_id)


_TEXT_TYPES = (MessageType.TEXT, MessageType.NOTICE, MessageType.EMOTE)
_MEDIA_TYPES = (
    MessageType.IMAGE,
    MessageType.VIDEO,
    MessageType.AUDIO,
    MessageType.FILE,
    MessageType.STICKER,
)
_BRIDGED_TYPES = (*_TEXT_TYPES, *_MEDIA_TYPES, MessageType.LOCATION)


class MsgconvToWhatsApp:
    """Matrix → WhatsApp with formatting, pills as mentions and reply quotes; text, media
    (``m.sticker`` events arrive with the msgtype ``m.sticker``) and locations."""

    async def to_whatsapp(
        self, portal: Portal, content: MessageEventContent
    ) -> wa_e2e_pb2.Message:
        msgtype = getattr(content, "msgtype", None)
        if msgtype not in _BRIDGED_TYPES:
            kind = f"messages of type {msgtype}" if msgtype else "messages without a msgtype"
            raise ConversionError(f"{kind} can't be sent to WhatsApp yet")
        raw: dict[str, Any] = content.serialize()
        if msgtype in _MEDIA_TYPES and (problem := declared_size_problem(raw)) is not None:
            raise ConversionError(problem)
        jids: dict[str, str] = {}
        users = set(_PILL.findall(str(raw.get("formatted_body", ""))))
        mentions = raw.get("m.mentions")
        if isinstance(mentions, dict) and isinstance(mentions.get("user_ids"), list):
            users.update(u for u in mentions["user_ids"] if isinstance(u, str))
        for user_id in users:
            jid = await _jid_for_user(portal, UserID(user_id))
            if jid is not None:
                jids[user_id] = jid
        replies: dict[str, ReplyTarget] = {}
        relates = raw.get("m.relates_to")
        in_reply_to = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
        if isinstance(in_reply_to, dict) and isinstance(in_reply_to.get("event_id"), str):
            event_id = in_reply_to["event_id"]
            if portal.mxid is not None:
                row = await portal.bridge.tables.messages.get_by_mxid(
                    EventID(event_id), RoomID(portal.mxid)
                )
                if row is not None:
                    replies[event_id] = ReplyTarget(message_id=row.id, sender_jid=row.sender)
        media = PortalMedia(portal, media_origin.get())
        event_type = "m.sticker" if msgtype == MessageType.STICKER else "m.room.message"
        edits = await matrix_edit_targets(portal, raw)
        ctx = _FromMatrixContext(portal.jid, jids, replies, media, edits=edits)
        try:
            return await convert_from_matrix(ctx, event_type, raw, converter=media_converter())
        except FromMatrixError as e:
            raise ConversionError(e.reason) from e


async def _jid_for_user(portal: Portal, user_id: UserID) -> str | None:
    """A ghost's JID, or a logged-in user's own JID."""
    puppet = await portal.bridge.get_puppet(user_id)
    if puppet is not None:
        return puppet.jid
    user = await portal.bridge.get_user(user_id, create=False)
    return user.wa_jid if user is not None else None
