"""Portals: one Matrix room per WhatsApp chat (and per user, for DMs).

``portal`` (the object and its registry), ``queue`` (per-portal order, both ways),
``creation`` (rooms), ``from_whatsapp`` / ``from_matrix`` (one message each way) and
``convert`` (the converter protocols and the minimal plain-text converters) and
``converters`` (the default ones: msgconv's formatting, mentions and replies, text only).
"""

from .convert import (
    ConversionError,
    ConvertedPart,
    FromMatrixConverter,
    PlainTextToMatrix,
    PlainTextToWhatsApp,
    ToMatrixConverter,
)
from .converters import MsgconvToMatrix, MsgconvToWhatsApp
from .jids import portal_key, user_jid
from .portal import Portal, PortalRegistry

__all__ = [
    "ConversionError",
    "ConvertedPart",
    "FromMatrixConverter",
    "MsgconvToMatrix",
    "MsgconvToWhatsApp",
    "PlainTextToMatrix",
    "PlainTextToWhatsApp",
    "Portal",
    "PortalRegistry",
    "ToMatrixConverter",
    "portal_key",
    "user_jid",
]
