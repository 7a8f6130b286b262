"""The phone's state of a chat mirrored on the user's own Matrix account (double puppeting).

What the phone says of a chat (read or not, muted, pinned, archived) is the user's own view of
it, so it can only be shown through their own account: read markers, a room push rule, room
tags and ``m.marked_unread`` are theirs to set. Without a double puppet nothing is sent.

Two moments, as legacy mautrix-whatsapp: when a portal is filled from history
(:func:`backfill_change`, from the ``history_conversation`` row), and when the phone changes a
setting later (:func:`live_change`, from an app-state mutation). The decisions are pure; only
:func:`apply` speaks to Matrix.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from mautrix.errors import MatrixError, MNotFound
from mautrix.types import JSON, PushActionType, PushRuleKind, PushRuleScope, RoomID

from .. import double_puppet
from ..config import ChatStateSettings
from .jids import portal_key

if TYPE_CHECKING:
    from mautrix.appservice import IntentAPI

    from ..db.history import HistoryConversationRow
    from ..session import ChatStateChanged
    from ..user import User
    from .portal import Portal

MARKED_UNREAD_TYPES = ("m.marked_unread", "com.famedly.marked_unread")
"""Room account data for a chat marked unread by hand (MSC2867, and its unstable name, both
written as mautrix-whatsapp does for clients of either)."""


@dataclass(frozen=True)
class ChatStateChange:
    """What to do to the user's view of one room; None (or no tag) leaves that part alone."""

    read: bool = False
    """Mark the room read up to its last bridged event."""
    marked_unread: bool | None = None
    muted: bool | None = None
    tags: tuple[tuple[str, bool], ...] = ()
    """(tag, present) pairs."""

    @property
    def empty(self) -> bool:
        return (
            not self.read and self.marked_unread is None and self.muted is None and not self.tags
        )


def is_muted(mute_end: float, now: float) -> bool:
    """-1 is for ever; otherwise muted while the end is ahead."""
    return mute_end < 0 or mute_end > now


def backfill_change(
    conv: HistoryConversationRow,
    settings: ChatStateSettings,
    unread_hours_threshold: int,
    now: float,
) -> ChatStateChange:
    """A new portal's state from the phone's: read when the phone had it read, or when its
    last message is older than ``unread_hours_threshold`` hours (0: never); else marked
    unread if the phone marked it so. Tags only added (the room is new)."""
    stale = (
        unread_hours_threshold > 0 and conv.last_message_at < now - unread_hours_threshold * 3600
    )
    read = stale or (conv.unread_count == 0 and not conv.marked_unread)
    marked_unread = True if not read and conv.marked_unread else None
    if not settings.sync_manual_marked_unread:
        marked_unread = None
    muted = True if settings.mute_bridging and is_muted(conv.mute_end, now) else None
    tags: list[tuple[str, bool]] = []
    if settings.pinned_tag and conv.pinned_at:
        tags.append((settings.pinned_tag, True))
    if settings.archive_tag and conv.archived:
        tags.append((settings.archive_tag, True))
    return ChatStateChange(read=read, marked_unread=marked_unread, muted=muted, tags=tuple(tags))


def live_change(evt: ChatStateChanged, settings: ChatStateSettings, now: float) -> ChatStateChange:
    """The phone changed one setting: the matching change, if the config mirrors it."""
    tags: tuple[tuple[str, bool], ...] = ()
    if evt.pinned is not None and settings.pinned_tag:
        tags = ((settings.pinned_tag, evt.pinned),)
    if evt.archived is not None and settings.archive_tag:
        tags = ((settings.archive_tag, evt.archived),)
    muted: bool | None = None
    if evt.mute_end is not None and settings.mute_bridging:
        muted = is_muted(evt.mute_end, now)
    marked_unread: bool | None = None
    if evt.read is not None and settings.sync_manual_marked_unread:
        marked_unread = not evt.read
    # A snapshot's "read" may be from before newer messages came: only a change made now
    # moves the read marker.
    read = evt.read is True and not evt.from_full_sync
    return ChatStateChange(read=read, marked_unread=marked_unread, muted=muted, tags=tags)


async def apply(portal: Portal, user: User, change: ChatStateChange) -> bool:
    """Carry ``change`` out as the user's own account; False when there is none (or no room)
    and nothing was sent. One failed request is logged and the rest still go."""
    room_id = portal.mxid
    if room_id is None or change.empty:
        return False
    intent = await double_puppet.intent_for(portal.bridge, user)
    if intent is None:
        return False
    log = portal.log
    try:
        if change.read:
            last = await portal.bridge.tables.messages.get_last(portal.jid, portal.receiver)
            if last is not None:
                await intent.mark_read(room_id, last.mxid)
        if change.marked_unread is not None:
            for data_type in MARKED_UNREAD_TYPES:
                content = cast(dict[str, JSON], {"unread": change.marked_unread})
                await intent.set_account_data(data_type, content, room_id)
        if change.muted is not None:
            await _set_muted(intent, room_id, change.muted)
        for tag, present in change.tags:
            if present:
                await intent.set_room_tag(room_id, tag)
            else:
                await intent.remove_room_tag(room_id, tag)
    except MatrixError as e:
        log.warning("Couldn't mirror the chat's state for %s: %s", user.mxid, e)
    log.debug("Mirrored chat state for %s: %s", user.mxid, change)
    return True


_GLOBAL = cast(PushRuleScope, PushRuleScope.GLOBAL)
_ROOM_RULE = cast(PushRuleKind, PushRuleKind.ROOM)
_DONT_NOTIFY = cast(PushActionType, PushActionType.DONT_NOTIFY)
"""(mautrix's extensible enums read as plain strings to mypy.)"""


async def _set_muted(intent: IntentAPI, room_id: RoomID, muted: bool) -> None:
    """A room push rule that doesn't notify (as mautrix does), or none."""
    if muted:
        await intent.set_push_rule(_GLOBAL, _ROOM_RULE, room_id, [_DONT_NOTIFY])
        return
    with contextlib.suppress(MNotFound):
        await intent.remove_push_rule(_GLOBAL, _ROOM_RULE, room_id)


async def handle_chat_state_event(user: User, evt: ChatStateChanged) -> None:
    """A setting changed on the phone: kept in the chat's stored history (for a portal made
    later), and mirrored in its portal if it has a room, in the portal's queue (after a
    backfill still running there)."""
    own = user.wa_jid
    if own is None:
        return
    await _store(user, evt)
    jid, receiver = portal_key(evt.chat, own)
    portal = await user.bridge.portals.get_by_jid(jid, receiver, create=False)
    if portal is None or portal.mxid is None:
        return
    change = live_change(evt, user.bridge.config.chat_state, time.time())

    async def job() -> None:
        await apply(portal, user, change)

    portal.queue.submit(job)


def updated_conversation(
    conv: HistoryConversationRow, evt: ChatStateChanged
) -> HistoryConversationRow:
    """The stored chat with the phone's new setting."""
    if evt.pinned is not None:
        conv = replace(conv, pinned_at=int(evt.timestamp) if evt.pinned else 0)
    if evt.archived is not None:
        conv = replace(conv, archived=evt.archived)
    if evt.mute_end is not None:
        conv = replace(conv, mute_end=int(evt.mute_end))
    if evt.read is True:
        conv = replace(conv, unread_count=0, marked_unread=False)
    elif evt.read is False:
        conv = replace(conv, marked_unread=True)
    return conv


async def _store(user: User, evt: ChatStateChanged) -> None:
    """A chat whose portal is still to be filled from history gets the new state with it."""
    table = user.bridge.tables.history
    conv = await table.get_conversation(user.mxid, evt.chat)
    if conv is not None and not conv.backfilled:
        await table.put_conversation(updated_conversation(conv, evt))
