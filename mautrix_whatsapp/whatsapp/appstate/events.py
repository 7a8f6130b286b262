"""Typed app-state events, and the mapping of decoded mutations to them.

Every event carries ``from_full_sync`` (it came from a snapshot, e.g. at first login, rather
than from a change made since) and ``timestamp`` (when the change was made, from the value).
SETs of the known indexes become their own event; everything else (other indexes, REMOVEs,
or a known index with an unusable target) becomes :class:`AppStateMutation` with the raw
index and value, so nothing is silently lost. whatsmeow ``appstate.go`` ``dispatchAppState``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..binary.errors import JIDParseError
from ..binary.jid import JID
from ..proto import wa_sync_action_pb2 as sa
from .decode import Mutation
from .errors import AppStateError
from .hash import SET
from .keys import (
    INDEX_ARCHIVE,
    INDEX_CLEAR_CHAT,
    INDEX_CONTACT,
    INDEX_DELETE_CHAT,
    INDEX_LID_CONTACT,
    INDEX_MARK_CHAT_AS_READ,
    INDEX_MUTE,
    INDEX_PIN,
    INDEX_SETTING_PUSH_NAME,
    INDEX_STAR,
)

MUTED_FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Contact:
    """An address-book entry on the phone (``contact`` index): the contact's names."""

    jid: JID
    full_name: str
    first_name: str
    timestamp: datetime
    from_full_sync: bool
    action: sa.ContactAction = field(repr=False)


@dataclass(frozen=True)
class LIDContact:
    """An address-book entry keyed by LID (``lid_contact``)."""

    jid: JID
    full_name: str
    first_name: str
    username: str
    timestamp: datetime
    from_full_sync: bool
    action: sa.LidContactAction = field(repr=False)


@dataclass(frozen=True)
class PushNameSetting:
    """Our own push name, as set on the phone."""

    name: str
    timestamp: datetime
    from_full_sync: bool


@dataclass(frozen=True)
class Pin:
    jid: JID
    pinned: bool
    timestamp: datetime
    from_full_sync: bool


@dataclass(frozen=True)
class Archive:
    jid: JID
    archived: bool
    timestamp: datetime
    from_full_sync: bool
    action: sa.ArchiveChatAction = field(repr=False)


@dataclass(frozen=True)
class Mute:
    """A chat (un)muted; ``muted_until`` is :data:`MUTED_FOREVER` or None when unmuted."""

    jid: JID
    muted: bool
    muted_until: datetime | None
    timestamp: datetime
    from_full_sync: bool


@dataclass(frozen=True)
class MarkChatAsRead:
    jid: JID
    read: bool
    timestamp: datetime
    from_full_sync: bool
    action: sa.MarkChatAsReadAction = field(repr=False)


@dataclass(frozen=True)
class Star:
    """A message (un)starred; ``sender`` is None when it is the chat itself (a DM)."""

    chat: JID
    sender: JID | None
    message_id: str
    is_from_me: bool
    starred: bool
    timestamp: datetime
    from_full_sync: bool


@dataclass(frozen=True)
class DeleteChat:
    jid: JID
    delete_media: bool
    timestamp: datetime
    from_full_sync: bool
    action: sa.DeleteChatAction = field(repr=False)


@dataclass(frozen=True)
class ClearChat:
    jid: JID
    delete_media: bool
    timestamp: datetime
    from_full_sync: bool
    action: sa.ClearChatAction = field(repr=False)


@dataclass(frozen=True)
class AppStateMutation:
    """Any other mutation (or a REMOVE), raw: the index and the decrypted value."""

    collection: str
    operation: int
    """``SyncdMutation.SET`` or ``REMOVE``."""
    index: list[str]
    value: sa.SyncActionValue = field(repr=False)
    from_full_sync: bool = False


@dataclass(frozen=True)
class AppStateSyncComplete:
    """A collection was synced (``full_sync``: from a snapshot) up to ``version``."""

    name: str
    version: int
    full_sync: bool


@dataclass(frozen=True)
class AppStateSyncError:
    """Syncing a collection failed; ``resyncing`` when a full snapshot resync follows."""

    name: str
    error: AppStateError
    full_sync: bool
    resyncing: bool


@dataclass(frozen=True)
class AppStateKeysMissing:
    """A collection needs keys we lack; they were requested from our phone."""

    name: str
    key_ids: list[bytes]


def _millis(value: int) -> datetime:
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0, UTC)


def _jid(text: str) -> JID | None:
    try:
        return JID.parse(text)
    except JIDParseError:
        return None


def to_event(collection: str, mutation: Mutation, full_sync: bool) -> object:
    """The event a decoded mutation stands for (see the module docstring)."""
    raw = AppStateMutation(
        collection, mutation.operation, mutation.index, mutation.action, full_sync
    )
    if mutation.operation != SET:
        return raw
    index, action = mutation.index, mutation.action
    kind = index[0]
    ts = _millis(action.timestamp)
    if kind == INDEX_SETTING_PUSH_NAME:
        return PushNameSetting(action.pushNameSetting.name, ts, full_sync)
    jid = _jid(index[1]) if len(index) > 1 else None
    if jid is None:
        return raw
    if kind == INDEX_CONTACT:
        contact = action.contactAction
        return Contact(jid, contact.fullName, contact.firstName, ts, full_sync, contact)
    if kind == INDEX_LID_CONTACT:
        lid = action.lidContactAction
        return LIDContact(jid, lid.fullName, lid.firstName, lid.username, ts, full_sync, lid)
    if kind == INDEX_PIN:
        return Pin(jid, action.pinAction.pinned, ts, full_sync)
    if kind == INDEX_ARCHIVE:
        archive = action.archiveChatAction
        return Archive(jid, archive.archived, ts, full_sync, archive)
    if kind == INDEX_MUTE:
        mute = action.muteAction
        until: datetime | None = None
        if mute.muted:
            forever = mute.muteEndTimestamp < 0 or not mute.HasField("muteEndTimestamp")
            until = MUTED_FOREVER if forever else _millis(mute.muteEndTimestamp)
        return Mute(jid, mute.muted, until, ts, full_sync)
    if kind == INDEX_MARK_CHAT_AS_READ:
        read = action.markChatAsReadAction
        return MarkChatAsRead(jid, read.read, ts, full_sync, read)
    if kind == INDEX_DELETE_CHAT:
        media = len(index) > 2 and index[2] == "1"
        return DeleteChat(jid, media, ts, full_sync, action.deleteChatAction)
    if kind == INDEX_CLEAR_CHAT:
        media = len(index) > 3 and index[3] == "1"
        return ClearChat(jid, media, ts, full_sync, action.clearChatAction)
    if kind == INDEX_STAR and len(index) >= 5:
        sender = None if index[4] == "0" else _jid(index[4])
        return Star(
            jid, sender, index[2], index[3] == "1", action.starAction.starred, ts, full_sync
        )
    return raw
