"""Matrix messages too malformed for mautrix to parse still get an answer in the room.

mautrix's appservice drops an event it can't deserialize (``m.relates_to`` or
``m.in_reply_to`` that isn't an object, …) with a log line only, so the sender would never know.
Before the transaction is handled, such message events are taken out of it and each gets the
usual failure report in its portal (notice with the reason, status event, checkpoint), in the
portal's order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mautrix.types import Event, EventID, RoomID, SerializerError, UserID
from mautrix.util import background_task

from .convert import ConversionError
from .status import report_failure

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge

log = logging.getLogger("mau.matrix.malformed")

_MESSAGE_TYPES = ("m.room.message", "m.sticker")

TransactionHandler = Callable[..., Awaitable[Any]]


def malformed_reason(raw: Any) -> str | None:
    """Why mautrix can't parse this message event (None: it can, or it isn't a message)."""
    if not isinstance(raw, dict) or raw.get("type") not in _MESSAGE_TYPES:
        return None
    if "state_key" in raw:
        return None
    try:
        Event.deserialize(raw)
    except SerializerError as e:
        return _describe(raw.get("content"), e)
    return _non_text(raw.get("content"))


def _non_text(content: Any) -> str | None:
    """mautrix parses a body or formatted body of any JSON type, then treats a message with
    a msgtype as text (stripping reply fallbacks) and fails: those are malformed too (without
    a msgtype the portal refuses it)."""
    if not isinstance(content, dict) or "msgtype" not in content:
        return None
    for key in ("body", "formatted_body"):
        if key in content and not isinstance(content[key], str):
            return f"its {key} is not a string"
    return None


def _describe(content: Any, error: Exception) -> str:
    if not isinstance(content, dict):
        return "the event content is not an object"
    relates = content.get("m.relates_to")
    if "m.relates_to" in content and not isinstance(relates, dict):
        return "its m.relates_to is not an object"
    reply = relates.get("m.in_reply_to", {}) if isinstance(relates, dict) else {}
    if not isinstance(reply, dict):
        return "its m.relates_to.m.in_reply_to is not an object"
    if "m.new_content" in content and not isinstance(content["m.new_content"], dict):
        return "its m.new_content is not an object"
    return f"the event content is malformed ({error})"


def split_malformed(events: list[Any]) -> tuple[list[Any], list[tuple[dict[str, Any], str]]]:
    """The events mautrix can handle, and the malformed messages with their reasons."""
    keep: list[Any] = []
    bad: list[tuple[dict[str, Any], str]] = []
    for raw in events:
        reason = malformed_reason(raw)
        if reason is None:
            keep.append(raw)
        else:
            bad.append((raw, reason))
    return keep, bad


def install(bridge: WhatsAppBridge) -> None:
    """Wrap the appservice's transaction handler (once) to answer malformed messages."""
    az = bridge.az
    original: TransactionHandler = az.handle_transaction
    if getattr(original, "_answers_malformed", False):
        return

    async def handle_transaction(txn_id: str, *, events: list[Any], **kwargs: Any) -> Any:
        keep, bad = split_malformed(events)
        for raw, reason in bad:
            background_task.create(report_malformed(bridge, raw, reason))
        return await original(txn_id, events=keep, **kwargs)

    handle_transaction._answers_malformed = True  # type: ignore[attr-defined]
    az.handle_transaction = handle_transaction  # type: ignore[method-assign]


async def report_malformed(bridge: WhatsAppBridge, raw: dict[str, Any], reason: str) -> None:
    """The failure report for one malformed message, if it was sent by a bridge user in a
    portal; anything else is only logged."""
    try:
        room_id, sender, event_id = raw.get("room_id"), raw.get("sender"), raw.get("event_id")
        if not (isinstance(room_id, str) and isinstance(sender, str)):
            return
        if not isinstance(event_id, str):
            return
        log.debug("Malformed message %s from %s in %s: %s", event_id, sender, room_id, reason)
        if sender == bridge.az.bot_mxid or bridge.is_bridge_ghost(UserID(sender)):
            return
        portal = await bridge.get_portal(RoomID(room_id))
        user = await bridge.get_user(UserID(sender), create=False)
        if portal is None or user is None or not user.relay_whitelisted:
            return
        error = ConversionError(reason)

        async def job() -> None:
            await report_failure(portal, user, EventID(event_id), error)

        await portal.queue.run(job)
    except Exception:
        log.exception("Failed to report a malformed event")
