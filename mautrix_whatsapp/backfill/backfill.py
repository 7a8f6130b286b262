"""Filling one portal with the chat's stored history, before anything live.

Every stored message goes through the very path a live one takes
(:func:`..portal.from_whatsapp.handle_message`): the same converters, sender ghost (the user's
own ghost, or double puppet, for what they sent), replies, media and reactions resolved against
the message table, original timestamps (appservice timestamp massaging), and the same dedup (a
message already bridged live is skipped). It runs inside the portal's queue (or inside the
room's creation, which a queued job triggered), so live messages of the chat wait behind it.
Once the portal is filled the chat's stored messages are deleted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..portal.chat_state import apply as apply_change
from ..portal.chat_state import backfill_change
from ..portal.from_whatsapp import handle_message as bridge_to_matrix
from ..portal.jids import user_jid
from ..portal.media import DeferredMedia, deferred_media
from .history_store import received_of

if TYPE_CHECKING:
    from ..portal.portal import Portal
    from ..session import MessageReceived
    from ..user import User


class BackfillError(Exception):
    """The portal could not be filled (its room could not be made)."""


async def backfill_stored(portal: Portal, user: User) -> int:
    """Bridge the chat's stored history into the portal's existing room; returns how many
    messages were sent (0 when the chat has no stored history or was filled already)."""
    table = portal.bridge.tables.history
    chat = portal.jid
    conv = await table.get_conversation(user.mxid, chat)
    if conv is None or conv.backfilled:
        return 0
    count = portal.bridge.config.history_sync.message_count
    rows = await table.last_messages(user.mxid, chat, count) if count > 0 else []
    sent = 0
    for row in rows:
        message = received_of(row, portal.is_group)
        try:
            await _bridge_deferring_media(portal, user, message)
        except Exception:
            portal.log.exception("Backfilling %s failed", message.id)
            continue
        if not row.reaction_to:
            sent += 1
    await table.mark_backfilled(user.mxid, chat)
    await apply_chat_state(portal, user)
    portal.log.info("Backfilled %d messages into %s", sent, portal.mxid)
    return sent


async def fill_portal(portal: Portal, user: User) -> int:
    """Make the portal's room if needed (its creation backfills, see :func:`room_created`)
    and backfill what is still stored; returns the messages backfilled, also those a live
    message's room creation backfilled before. Run in the portal's queue."""
    if portal.mxid is None and await portal.ensure_room(user) is None:
        raise BackfillError("the room could not be created")
    sent = await backfill_stored(portal, user)
    return sent + user.backfill.last_filled.pop(portal.jid, 0)


async def room_created(portal: Portal, user: User) -> None:
    """A portal just got its room (first message, ``pm``, a group add, login): list it in the
    user's space and fill it from the stored history before whatever made it goes on."""
    if portal.mxid is None:
        return
    await user.backfill.space.add(portal.mxid)
    conv = await portal.bridge.tables.history.get_conversation(user.mxid, portal.jid)
    if conv is not None and conv.backfilled:
        await refill_from_phone(portal, user)
    sent = await backfill_stored(portal, user)
    user.backfill.last_filled[portal.jid] = sent


async def refill_from_phone(portal: Portal, user: User) -> None:
    """A portal made again for a chat it was filled before (after ``delete-portal``): the
    stored history is gone, so the phone is asked for the chat's recent messages (on-demand
    history sync); they are stored like any chunk and the room is filled from them."""
    count = portal.bridge.config.history_sync.message_count
    session = user.session
    if count <= 0 or session is None:
        return
    try:
        await session.request_history(portal.jid, count, time.time())
    except LookupError as e:
        portal.log.warning("No history from the phone for the recreated portal: %s", e)


async def apply_chat_state(portal: Portal, user: User) -> None:
    """The phone's read/muted/pinned/archived state of the chat, kept in
    ``history_conversation``, mirrored on the user's own account when they are double
    puppeted (see :mod:`..portal.chat_state`); otherwise it stays stored only."""
    conv = await portal.bridge.tables.history.get_conversation(user.mxid, portal.jid)
    if conv is None:
        return
    config = portal.bridge.config
    change = backfill_change(
        conv, config.chat_state, config.history_sync.unread_hours_threshold, time.time()
    )
    if not await apply_change(portal, user, change):
        portal.log.debug("Chat state kept, not mirrored (no double puppet): %s", change)


# ---- media requests ----


async def _bridge_deferring_media(portal: Portal, user: User, message: MessageReceived) -> None:
    """The live path, except that an expired file is not waited for: the message is bridged
    as a placeholder and the file is requested from the phone (:mod:`.media_requests`)."""
    deferred = DeferredMedia(portal.bridge.config.media_requests.auto_request_media)
    token = deferred_media.set(deferred)
    try:
        await bridge_to_matrix(portal, user, message)
    finally:
        deferred_media.reset(token)
    if not deferred.expired:
        return
    tables = portal.bridge.tables
    parts = await tables.messages.get_parts(
        portal.jid, portal.receiver, user_jid(message.sender), message.id
    )
    if parts:  # the media and its caption are one event: the message's first part
        await user.backfill.media.defer(portal, message, str(parts[0].mxid), parts[0].part)
