"""Matrix events that change other events (reactions, redactions) and polls, to their
handlers; the matrix handler's ``handle_event`` sends them here through the portal's queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.types import Event, GenericEvent, ReactionEvent, RedactionEvent

from ..msgconv.from_matrix import POLL_RESPONSE_TYPES, POLL_START_TYPES
from .polls import handle_matrix_poll_response, handle_matrix_poll_start
from .reactions import handle_matrix_reaction
from .redactions import handle_matrix_redaction
from .relations import event_content

if TYPE_CHECKING:
    from ..user import User
    from .portal import Portal

POLL_TYPES = (*POLL_START_TYPES, *POLL_RESPONSE_TYPES)


def is_relation_event(evt: Event) -> bool:
    """Whether :func:`handle_matrix_event` has something to do with ``evt``."""
    if isinstance(evt, ReactionEvent | RedactionEvent):
        return True
    return isinstance(evt, GenericEvent) and evt.type.t in POLL_TYPES


async def handle_matrix_event(portal: Portal, sender: User, evt: Event) -> None:
    """Reactions, redactions and polls from Matrix (run in the portal's queue)."""
    if isinstance(evt, ReactionEvent):
        await handle_matrix_reaction(portal, sender, evt.event_id, event_content(evt))
    elif isinstance(evt, RedactionEvent):
        redacts = evt.redacts or event_content(evt).get("redacts")
        await handle_matrix_redaction(portal, sender, evt.event_id, redacts)
    elif isinstance(evt, GenericEvent) and evt.event_id is not None:
        if evt.type.t in POLL_START_TYPES:
            content = event_content(evt)
            await handle_matrix_poll_start(portal, sender, evt.event_id, evt.type.t, content)
        elif evt.type.t in POLL_RESPONSE_TYPES:
            content = event_content(evt)
            await handle_matrix_poll_response(portal, sender, evt.event_id, content, evt.type.t)
