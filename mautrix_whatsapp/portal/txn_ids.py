"""Deterministic Matrix transaction ids for bridged WhatsApp messages.

Sending one part of one message again (after a crash cut the first try short, before its event
id was stored) reuses the transaction id, so the homeserver answers with the event it already
made instead of making a second one.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .portal import Portal


def matrix_txn_id(portal: Portal, sender: str, message_id: str, part: int) -> str:
    """The same Matrix transaction id every time one part of one message is sent."""
    key = f"{portal.jid}\0{portal.receiver}\0{sender}\0{message_id}\0{part}"
    return "mwa" + hashlib.sha256(key.encode()).hexdigest()[:40]
