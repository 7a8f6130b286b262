"""Matrix-side event handling: the bot's invites, welcome, and command dispatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.bridge import BaseMatrixHandler
from mautrix.types import Event, GenericEvent, RoomID
from mautrix.util import markdown

from .commands import WACommandProcessor
from .portal.relation_events import is_relation_event
from .portal.relay import handle_relayed_relation, needs_relay

if TYPE_CHECKING:
    from mautrix.bridge import BasePortal, BaseUser

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

    # ---- relations ----

    # Poll events have unstable types, which mautrix parses as GenericEvent.
    allowed_event_classes = (*BaseMatrixHandler.allowed_event_classes, GenericEvent)

    async def allow_matrix_event(self, evt: Event) -> bool:
        """Of the generic events only polls, and not the bridge's own (mautrix checks the
        sender of room events only)."""
        if isinstance(evt, GenericEvent):
            sender = evt.sender
            if sender is None or sender == self.az.bot_mxid or self.bridge.is_bridge_ghost(sender):
                return False
            return is_relation_event(evt)
        return await super().allow_matrix_event(evt)

    async def handle_event(self, evt: Event) -> None:
        """Reactions, redactions and polls of logged-in users, to their portal."""
        if not is_relation_event(evt):
            return
        sender_id = getattr(evt, "sender", None)
        room_id = getattr(evt, "room_id", None)
        if sender_id is None or room_id is None:
            return
        user = await self.bridge.get_user(sender_id)
        portal = await self.bridge.get_portal(room_id)
        if user is None or portal is None or not await self.allow_message(user):
            return
        if needs_relay(portal, user):  # ---- relay ----
            await handle_relayed_relation(portal, user, evt)
            return
        await portal.handle_matrix_relation(user, evt)

    # ---- relay ----

    @staticmethod
    async def allow_bridging_message(user: BaseUser, portal: BasePortal) -> bool:
        """Every allowed user's message reaches the portal, which sends it (as them or through
        the relay) or says why it can't (mautrix would drop it silently)."""
        return True

    @staticmethod
    async def allow_command(user: BaseUser) -> bool:
        """``relay``-level users too, so the command processor can tell them they may not."""
        return bool(user.is_whitelisted or user.relay_whitelisted)
