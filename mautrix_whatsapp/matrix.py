"""Matrix-side event handling: the bot's invites, welcome, and command dispatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.bridge import BaseMatrixHandler
from mautrix.types import RoomID, StateEvent
from mautrix.util import markdown

from .commands import WACommandProcessor
from .encryption import handle_encryption_event, prepare_encryption, start_encryption

if TYPE_CHECKING:
    from mautrix.bridge import BaseUser

    from .__main__ import WhatsAppBridge

MANAGEMENT_ROOM_NOTE = "This room has been marked as your management room."


class MatrixHandler(BaseMatrixHandler):
    """mautrix's Matrix event handling, with this bridge's ghost namespace and greeting."""

    bridge: WhatsAppBridge

    def __init__(self, bridge: WhatsAppBridge) -> None:
        prefix, suffix = bridge.config["bridge.username_template"].split("{userid}", 1)
        homeserver = bridge.config["homeserver.domain"]
        self.user_id_prefix = f"@{prefix}"
        self.user_id_suffix = f"{suffix}:{homeserver}"
        super().__init__(command_processor=WACommandProcessor(bridge), bridge=bridge)
        prepare_encryption(self.e2ee)  # ---- encryption ----

    async def send_welcome_message(self, room_id: RoomID, inviter: BaseUser) -> None:
        """Greet in paragraphs; a two-member room becomes the inviter's management room."""
        has_two_members, bot_in_room = await self._is_direct_chat(room_id)
        is_management = has_two_members and bot_in_room
        texts = self.management_room_text
        paragraphs = [texts.get("welcome") or "Hello, I'm a WhatsApp bridge bot."]
        if is_management:
            logged_in = await inviter.is_logged_in()
            key = "welcome_connected" if logged_in else "welcome_unconnected"
            paragraphs.append(texts.get(key))
            if texts.get("additional_help"):
                paragraphs.append(texts["additional_help"])
            paragraphs.append(MANAGEMENT_ROOM_NOTE)
            set_room = getattr(inviter, "set_management_room", None)
            if set_room is not None:
                await set_room(room_id)
        else:
            paragraphs.append(f"Use `{self.commands.command_prefix} help` for help.")
        paragraphs = [p for p in paragraphs if p]
        if self.management_room_multiple_messages:
            for text in paragraphs:
                await self.az.intent.send_notice(room_id, text, html=markdown.render(text))
        else:
            text = "\n\n".join(paragraphs)
            await self.az.intent.send_notice(room_id, text, html=markdown.render(text))

    # ---- encryption ----

    async def init_encryption(self) -> None:
        await start_encryption(self.bridge)

    async def handle_encryption(self, evt: StateEvent) -> None:
        await handle_encryption_event(self.bridge, evt)
