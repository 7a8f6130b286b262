"""The command event with this bridge's types, for type checkers only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.bridge.commands import CommandEvent as BaseCommandEvent

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..user import User


class CommandEvent(BaseCommandEvent):
    """mautrix's command event, typed with our bridge and user so handlers type-check."""

    bridge: WhatsAppBridge
    sender: User
