"""A Matrix message re-run after a crash is never sent to WhatsApp twice.

Its ``pending_matrix_event`` row (see :mod:`mautrix_whatsapp.matrix_pending`) is marked
before the send; a re-run that finds the mark cannot know whether WhatsApp got it, so it is
reported as possibly not sent instead of sent again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import EventID

if TYPE_CHECKING:
    from .portal import Portal


class InterruptedSend(Exception):
    """The bridge stopped while sending this event; WhatsApp may or may not have it."""


async def check_not_started(portal: Portal, event_id: EventID) -> None:
    """Mark the event's WhatsApp send as started; raises :class:`InterruptedSend` if a
    previous run had started it."""
    if await portal.bridge.tables.pending_matrix.start_attempt(event_id):
        raise InterruptedSend("the bridge restarted while sending it")
