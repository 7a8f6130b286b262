"""Matrix-side event handling: the bot's invites, welcome, and command dispatch."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast

from mautrix.bridge import BaseMatrixHandler
from mautrix.types import (
    Event,
    EventID,
    EventType,
    GenericEvent,
    MessageEventContent,
    PresenceEvent,
    ReceiptEvent,
    RoomID,
    SingleReceiptEventContent,
    StateEvent,
    TypingEvent,
    UserID,
)
from mautrix.util import markdown

from .commands import WACommandProcessor
from .encryption import handle_encryption_event, prepare_encryption, start_encryption
from .homeserver_ping import retrying_ping
from .portal import dm, malformed
from .portal.membership import handle_matrix_kick, handle_matrix_state
from .portal.relation_events import is_relation_event
from .portal.relay import handle_relayed_relation, needs_relay
from .portal.typing import MatrixTyping

if TYPE_CHECKING:
    from mautrix.bridge import BasePortal, BasePuppet, BaseUser

    from .__main__ import WhatsAppBridge
    from .portal import Portal
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
        prepare_encryption(self.e2ee)  # ---- encryption ----

    async def wait_for_connection(self) -> None:
        """mautrix's start-up checks, with the homeserver -> bridge ping retried on a
        homeserver's transient gateway error (see :mod:`.homeserver_ping`)."""
        ping = self.az.ping_self
        self.az.ping_self = retrying_ping(  # type: ignore[method-assign,assignment]
            ping, self.az.intent.api.get_txn_id, self.log
        )
        try:
            await super().wait_for_connection()
        finally:
            self.az.ping_self = ping  # type: ignore[method-assign]

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

    # ---- receipts ----

    @functools.cached_property
    def typing(self) -> MatrixTyping:
        return MatrixTyping()

    async def handle_read_receipt(  # type: ignore[override]
        self,
        user: User,
        portal: Portal,
        event_id: EventID,
        data: SingleReceiptEventContent,
    ) -> None:
        await portal.handle_matrix_read_receipt(user, event_id)

    async def handle_ephemeral_event(
        self, evt: ReceiptEvent | PresenceEvent | TypingEvent
    ) -> None:
        if isinstance(evt, TypingEvent):
            await self.handle_typing(evt.room_id, evt.content.user_ids)
        else:
            await super().handle_ephemeral_event(evt)

    async def handle_typing(self, room_id: RoomID, user_ids: list[UserID]) -> None:
        """Bridge users who started or stopped typing in a portal: the same on WhatsApp."""
        portal = await self.bridge.get_portal(room_id)
        if portal is None:
            return
        started, stopped = self.typing.changes(room_id, user_ids)
        for user_id, typing in [(u, True) for u in started] + [(u, False) for u in stopped]:
            if user_id == self.az.bot_mxid or self.bridge.is_bridge_ghost(user_id):
                continue
            user = await self.bridge.get_user(user_id, create=False)
            if user is not None and await user.is_logged_in():
                await portal.handle_matrix_typing(user, typing)

    # ---- groups ----

    _GROUP_STATE = (
        EventType.ROOM_NAME,
        EventType.ROOM_TOPIC,
        EventType.ROOM_AVATAR,
        EventType.ROOM_POWER_LEVELS,
    )

    async def handle_state_event(self, evt: StateEvent) -> None:
        """Name, topic, avatar and power levels of a group portal go to WhatsApp."""
        if evt.type not in self._GROUP_STATE:
            return
        portal = await self.bridge.get_portal(evt.room_id)
        user = await self.bridge.get_user(evt.sender, create=False)
        if portal is not None and portal.is_group and user is not None:
            await handle_matrix_state(portal, user, evt)

    async def handle_kick(
        self, room_id: RoomID, user_id: UserID, kicked_by: UserID, reason: str, event_id: EventID
    ) -> None:
        await self._remove_from_group(room_id, user_id, kicked_by)

    async def handle_ban(
        self, room_id: RoomID, user_id: UserID, banned_by: UserID, reason: str, event_id: EventID
    ) -> None:
        await self._remove_from_group(room_id, user_id, banned_by)

    async def _remove_from_group(self, room_id: RoomID, user_id: UserID, by: UserID) -> None:
        portal = await self.bridge.get_portal(room_id)
        sender = await self.bridge.get_user(by, create=False)
        if portal is not None and portal.is_group and sender is not None:
            await handle_matrix_kick(portal, sender, user_id)

    # ---- dms ----

    def is_command(self, message: MessageEventContent) -> tuple[bool, str]:
        """A body that isn't text (a malformed event) is no command: its portal reports it."""
        if not isinstance(getattr(message, "body", None), str):
            return False, ""
        return super().is_command(message)

    async def handle_invite(
        self, room_id: RoomID, user_id: UserID, invited_by: BaseUser, evt: StateEvent
    ) -> None:
        """A ghost the bridge hasn't met yet (no row, so mautrix didn't find it): WhatsApp is
        asked, then it is handled like any ghost invite (a DM, a group, the room's group to
        be)."""
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

    # ---- encryption ----

    async def init_encryption(self) -> None:
        await start_encryption(self.bridge)

    async def handle_encryption(self, evt: StateEvent) -> None:
        await handle_encryption_event(self.bridge, evt)

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

    # ---- faults ----

    async def int_handle_event(self, evt: Event, was_encrypted: bool = False) -> None:
        """Handle the event, then drop its crash-safety row (kept before the transaction was
        answered, see :mod:`.matrix_pending`), whatever the outcome."""
        try:
            await super().int_handle_event(evt, was_encrypted)
        finally:
            event_id = getattr(evt, "event_id", None)
            if event_id is not None and not was_encrypted:
                await self.bridge.matrix_events.done(event_id)
