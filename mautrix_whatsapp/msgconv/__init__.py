"""Message conversion between WhatsApp's protobufs and Matrix event contents, without I/O.

WhatsApp → Matrix: :func:`message_kind` (routing), :func:`convert_to_matrix`,
:func:`convert_reaction`, :func:`convert_revoke`, plus :func:`convert_call_start` and
:func:`disappearing_notice` for events that are not messages. Everything the conversion
needs from outside comes through a :class:`ToMatrixContext` the portal implements.

Matrix → WhatsApp: :mod:`.from_matrix` (``convert_from_matrix``, ``convert_reaction``,
``convert_redaction``, polls), through a ``FromMatrixContext`` (:mod:`.from_matrix_types`);
what cannot be converted raises ``ConversionError`` with a reason for the room.
"""

from __future__ import annotations

from .kind import MessageKind, message_kind
from .misc import convert_call_start, disappearing_notice, poll_option_id
from .to_matrix import convert_reaction, convert_revoke, convert_to_matrix
from .types import (
    ConvertedMessage,
    ConvertedPart,
    ConvertedReaction,
    MentionTarget,
    RevokeTarget,
    ToMatrixContext,
)

__all__ = [
    "ConvertedMessage",
    "ConvertedPart",
    "ConvertedReaction",
    "MentionTarget",
    "MessageKind",
    "RevokeTarget",
    "ToMatrixContext",
    "convert_call_start",
    "convert_reaction",
    "convert_revoke",
    "convert_to_matrix",
    "disappearing_notice",
    "message_kind",
    "poll_option_id",
]
