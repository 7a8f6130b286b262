"""Bot commands. Importing the modules registers their handlers with mautrix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mautrix.bridge.commands import CommandEvent as BaseCommandEvent
from mautrix.bridge.commands import CommandProcessor
from mautrix.types import EventID, MessageEventContent, RoomID

from . import auth, conn, groups  # noqa: F401  (registration by import)
from . import matrix_auth as _matrix_auth_commands  # noqa: F401  (---- double puppet ----)
from . import portal as _portal_commands  # noqa: F401  (---- dms ----: registration)
from . import relay as relay_commands
from .typehint import CommandEvent

if TYPE_CHECKING:
    from mautrix.bridge import BasePortal, BaseUser

    from ..__main__ import WhatsAppBridge


class WACommandProcessor(CommandProcessor):
    """Remembers the management room of whoever sends a command in one."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        super().__init__(bridge=bridge, event_class=CommandEvent)

    async def handle(
        self,
        room_id: RoomID,
        event_id: EventID,
        sender: BaseUser,
        command: str,
        args: list[str],
        content: MessageEventContent,
        portal: BasePortal | None,
        is_management: bool,
        has_bridge_bot: bool,
    ) -> None:
        if is_management:
            set_room = getattr(sender, "set_management_room", None)
            if set_room is not None:
                await set_room(room_id)
        await super().handle(
            room_id,
            event_id,
            sender,
            command,
            args,
            content,
            portal,
            is_management,
            has_bridge_bot,
        )

    # ---- relay ----

    @staticmethod
    def _run_handler(
        handler: Callable[[BaseCommandEvent], Awaitable[Any]], evt: BaseCommandEvent
    ) -> Awaitable[Any]:
        """``relay``-level users reach the processor (to be told why not), never a command."""
        return relay_commands.run_unless_relay_only(handler, evt)


__all__ = ["CommandEvent", "WACommandProcessor"]
