"""Sending one WhatsApp message part to Matrix so that a retry never shows it twice.

Every part is sent with a fixed transaction id, which the homeserver normally uses to drop a
repeat. Synapse keeps an appservice's transaction ids in memory only: if it stops after
persisting the event but before answering, the bridge's retry (same id) after the restart makes
a second copy. So each part carries its transaction id in its content
(``fi.mau.whatsapp.txn_id``), and a part whose previous attempt failed for an outage is first
looked for among the sender's latest events in the room. (An encrypted room hides the content:
there the lookup finds nothing and the part is sent again.)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mautrix.api import Method, Path
from mautrix.appservice import IntentAPI
from mautrix.types import EventID, EventType, RoomID

from ..transient import is_transient

if TYPE_CHECKING:
    from .portal import Portal

TXN_ID_KEY = "fi.mau.whatsapp.txn_id"
LOOKBACK = 50
"""How many of the sender's latest events a lookup reads (a retry comes soon after the send)."""


async def send_part(
    portal: Portal,
    intent: IntentAPI,
    room_id: RoomID,
    event_type: EventType,
    content: Any,
    timestamp: int,
    txn_id: str,
) -> EventID:
    """Send the part, or find it already in the room when an earlier attempt may have landed."""
    content[TXN_ID_KEY] = txn_id
    missed = portal.bridge.matrix_events.missed  # ---- faults ---- (what an outage hid)
    if txn_id in portal.uncertain_sends:
        found = await find_sent(intent, room_id, txn_id)
        missed.homeserver_answered()
        if found is not None:
            portal.log.info("Found %s already in %s after an outage", txn_id, room_id)
            portal.uncertain_sends.discard(txn_id)
            return found
    try:
        event_id = await intent.send_message_event(
            room_id, event_type, content, timestamp=timestamp, txn_id=txn_id
        )
    except Exception as e:
        if is_transient(e):
            portal.uncertain_sends.add(txn_id)
            missed.homeserver_failed()
        raise
    portal.uncertain_sends.discard(txn_id)
    missed.homeserver_answered()
    missed.room_active(room_id)
    return event_id


async def find_sent(intent: IntentAPI, room_id: RoomID, txn_id: str) -> EventID | None:
    """The event among ``intent``'s latest in the room that carries ``txn_id``, if any."""
    event_filter = {"senders": [intent.mxid], "lazy_load_members": True}
    data = await intent.api.request(
        Method.GET,
        Path.v3.rooms[room_id].messages,
        query_params={"dir": "b", "limit": str(LOOKBACK), "filter": json.dumps(event_filter)},
    )
    for event in data.get("chunk", []):
        content = event.get("content")
        if isinstance(content, dict) and content.get(TXN_ID_KEY) == txn_id:
            return EventID(event["event_id"])
    return None
