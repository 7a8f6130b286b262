"""Edits both ways: what an edit replaces, looked up in the message table (so it works across
restarts), and the checks WhatsApp makes before it accepts an edit from Matrix.

The edit itself is converted by msgconv (``m.replace`` ↔ ``protocolMessage`` MESSAGE_EDIT) and
sent and stored like any message: under the edit's own WhatsApp id, so a redelivered edit is
dropped as already bridged.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mautrix.types import EventID, MessageEventContent, RoomID

from ..msgconv.from_matrix import EDIT_MAX_AGE
from ..msgconv.from_matrix_types import EditTarget
from ..whatsapp.message_builders import unwrap
from ..whatsapp.proto import wa_e2e_pb2
from .convert import ConversionError
from .jids import user_jid

if TYPE_CHECKING:
    from ..session import MessageReceived
    from ..user import User
    from .portal import Portal

EDIT_TOO_OLD = f"can't edit messages older than {EDIT_MAX_AGE // 60} minutes"
EDIT_TARGET_UNKNOWN = "the edited message isn't known to the bridge"
EDIT_NOT_OWN = "you can only edit your own messages"


def edited_key(message: wa_e2e_pb2.Message) -> str | None:
    """The id of the message a WhatsApp edit replaces (None if ``message`` is no edit)."""
    message = unwrap(message)
    if message.HasField("editedMessage"):
        message = unwrap(message.editedMessage.message)
    protocol = message.protocolMessage
    if message.HasField("protocolMessage") and protocol.type == protocol.MESSAGE_EDIT:
        return protocol.key.ID or None
    return None


async def whatsapp_edit_targets(portal: Portal, message: MessageReceived) -> dict[str, str]:
    """``{edited id: Matrix event id}`` for a WhatsApp edit of a bridged message by its own
    author (WhatsApp lets only the author edit); empty otherwise."""
    target_id = edited_key(message.message)
    if target_id is None:
        return {}
    rows = await portal.bridge.tables.messages.get_by_id(portal.jid, portal.receiver, target_id)
    own = [row for row in rows if row.sender == user_jid(message.sender)] or rows
    first = min(own, key=lambda row: row.part) if own else None
    return {target_id: first.mxid} if first is not None else {}


def replaced_event(raw: dict[str, Any]) -> str | None:
    """The event an ``m.replace`` relation names (None for anything else)."""
    relates = raw.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
        return None
    event_id = relates.get("event_id")
    return event_id if isinstance(event_id, str) and event_id else ""


async def matrix_edit_targets(portal: Portal, raw: dict[str, Any]) -> dict[str, EditTarget]:
    """``{Matrix event id: EditTarget}`` for a Matrix edit of a bridged message. Whether the
    editor wrote it was checked by :func:`check_matrix_edit` before conversion."""
    event_id = replaced_event(raw)
    if not event_id or portal.mxid is None:
        return {}
    row = await portal.bridge.tables.messages.get_by_mxid(EventID(event_id), RoomID(portal.mxid))
    if row is None:
        return {}
    return {event_id: EditTarget(message_id=row.id, sent_at=row.timestamp / 1000, from_me=True)}


async def check_matrix_edit(
    portal: Portal, sender: User, content: MessageEventContent, now: float | None = None
) -> None:
    """Refuse, with the reason for the room, an edit WhatsApp would not take: of an unknown
    message, of someone else's, or older than 15 minutes. Not an edit: nothing to check."""
    event_id = replaced_event(content.serialize())
    if event_id is None:
        return
    row = None
    if event_id and portal.mxid is not None:
        row = await portal.bridge.tables.messages.get_by_mxid(
            EventID(event_id), RoomID(portal.mxid)
        )
    if row is None:
        raise ConversionError(EDIT_TARGET_UNKNOWN)
    if sender.wa_jid is not None and row.sender != user_jid(sender.wa_jid):
        raise ConversionError(EDIT_NOT_OWN)
    if (time.time() if now is None else now) - row.timestamp / 1000 > EDIT_MAX_AGE:
        raise ConversionError(EDIT_TOO_OLD)
