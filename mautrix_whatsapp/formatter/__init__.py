"""Text formatting between WhatsApp and Matrix, both ways; pure functions, no I/O.

Resolvers (who a mention is, which JID a pill means) are passed in by the caller.
"""

from .from_matrix import WhatsAppText, matrix_to_whatsapp
from .from_whatsapp import FormattedText, MentionTarget, whatsapp_to_matrix

__all__ = [
    "FormattedText",
    "MentionTarget",
    "WhatsAppText",
    "matrix_to_whatsapp",
    "whatsapp_to_matrix",
]
