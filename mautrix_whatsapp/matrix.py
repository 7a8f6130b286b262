"""Matrix-side event handling: the bot's invites, welcome, and command dispatch."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from mautrix.bridge import BaseMatrixHandler
from mautrix.types import MessageEventContent, RoomID, StateEvent, UserID
from mautrix.util import markdown

from .commands import WACommandProcessor
from .portal import dm, malformed

if TYPE_CHECKING:
    from mautrix.bridge import BasePuppet, BaseUser

    from .__main__ import WhatsAppBridge
    from .puppet import Puppet
    from .user import User

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
        malformed.install(bridge)

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

    # ---- dms ----

    def is_command(self, message: MessageEventContent) -> tuple[bool, str]:
        """A body that isn't text (a malformed event) is no command: its portal reports it."""
        if not isinstance(getattr(message, "body", None), str):
            return False, ""
        return super().is_command(message)

    async def handle_invite(
        self, room_id: RoomID, user_id: UserID, invited_by: BaseUser, evt: StateEvent
    ) -> None:
        """A ghost the bridge hasn't met yet: WhatsApp is asked, then it is a ghost invite."""
        if not self.bridge.is_bridge_ghost(user_id):
            return
        user = cast("User", invited_by)
        puppet = await dm.puppet_for_invite(self.bridge, room_id, user_id, user)
        if puppet is not None:
            await self.handle_puppet_invite(room_id, puppet, invited_by, evt)  # type: ignore[arg-type]

    async def handle_puppet_invite(
        self, room_id: RoomID, puppet: BasePuppet, invited_by: BaseUser, evt: StateEvent
    ) -> None:
        """Starting a chat needs a WhatsApp login: others are told so by the ghost."""
        if not await invited_by.is_logged_in() and await self.bridge.get_portal(room_id) is None:
            await dm.refuse_invite(cast("Puppet", puppet), room_id)
            return
        await super().handle_puppet_invite(room_id, puppet, invited_by, evt)

    async def handle_puppet_dm_invite(
        self, room_id: RoomID, puppet: BasePuppet, invited_by: BaseUser, evt: StateEvent
    ) -> None:
        """The new direct room becomes the DM portal (or the ghost points at the one there
        is)."""
        await dm.accept_dm_invite(room_id, cast("User", invited_by), cast("Puppet", puppet))
