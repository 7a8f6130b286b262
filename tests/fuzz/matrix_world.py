"""The real MatrixHandler, command processor, portals and message tables, with doubles only
at the edges: the homeserver (intents that record what they send) and the users' WhatsApp
sessions (which accept everything)."""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from mautrix.client.state_store.memory import MemoryStateStore
from mautrix.errors import MNotFound
from mautrix.types import (
    EphemeralEvent,
    Event,
    EventID,
    EventType,
    GenericEvent,
    PowerLevelStateEventContent,
    RoomCreateStateEventContent,
    RoomID,
    SerializerError,
    UserID,
)
from mautrix.util.async_db import Database

from mautrix_whatsapp.backfill.dispatch import UserBackfill
from mautrix_whatsapp.config import Config
from mautrix_whatsapp.db import BridgeDB, PortalRow, upgrade_table
from mautrix_whatsapp.double_puppet import DoublePuppets
from mautrix_whatsapp.login import LoginProcess, PairingCode, QRCode
from mautrix_whatsapp.matrix import MatrixHandler
from mautrix_whatsapp.matrix_pending import MatrixEventKeeper
from mautrix_whatsapp.portal import Portal, portal_key, user_jid
from mautrix_whatsapp.portal.portal import PortalRegistry
from mautrix_whatsapp.session import GroupSummary, ParticipantResult, SentMessage
from mautrix_whatsapp.whatsapp.media.types import MediaType
from mautrix_whatsapp.whatsapp.media.upload import UploadResult
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "example-config.yaml"
DOMAIN = "example.org"
BOT = UserID(f"@whatsappbot:{DOMAIN}")
ALICE = UserID(f"@alice:{DOMAIN}")  # logged in
BOB = UserID(f"@bob:{DOMAIN}")  # allowed, not logged in
STRANGER = UserID("@eve:elsewhere.example")  # relay level only
ALICE_JID = "15559990000:4@s.whatsapp.net"
CONTACT = "15550001111@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
DM_ROOM = RoomID(f"!dm:{DOMAIN}")
GROUP_ROOM = RoomID(f"!group:{DOMAIN}")
MANAGEMENT_ROOM = RoomID(f"!management:{DOMAIN}")
OTHER_ROOM = RoomID(f"!other:{DOMAIN}")
ROOMS = [DM_ROOM, GROUP_ROOM, MANAGEMENT_ROOM, OTHER_ROOM]
GHOST = UserID(f"@whatsapp_15550001111:{DOMAIN}")
KNOWN_EVENTS = [EventID("$known1"), EventID("$known2"), EventID("$reaction1")]
MXC = "mxc://example.org/media"
MESSAGE_TYPES = ("m.room.message", "m.sticker")


class FakeIntent:
    """A Matrix account as the homeserver would answer it: sends are recorded."""

    state_store = MemoryStateStore()

    def __init__(self, mxid: UserID, log: list[tuple[str, Any]]) -> None:
        self.mxid = mxid
        self.sent = log
        self.api = self

    async def join_room(self, room_id: RoomID, *args: Any, **kwargs: Any) -> RoomID:
        return room_id

    def user(self, user_id: UserID, *args: Any, **kwargs: Any) -> FakeIntent:
        return FakeIntent(user_id, self.sent)

    async def ensure_joined(self, room_id: RoomID, *args: Any, **kwargs: Any) -> bool:
        return True

    async def ensure_registered(self) -> None:
        return None

    async def send_message_event(
        self, room_id: RoomID, event_type: Any, content: Any, *args: Any, **kwargs: Any
    ) -> EventID:
        self.sent.append((str(event_type), content))
        return EventID(f"$sent{len(self.sent)}")

    async def send_message(self, room_id: RoomID, content: Any, **kwargs: Any) -> EventID:
        return await self.send_message_event(room_id, EventType.ROOM_MESSAGE, content)

    async def send_notice(self, room_id: RoomID, text: str, **kwargs: Any) -> EventID:
        return await self.send_message_event(room_id, EventType.ROOM_MESSAGE, {"body": text})

    async def send_text(self, room_id: RoomID, text: str, **kwargs: Any) -> EventID:
        return await self.send_notice(room_id, text)

    async def send_state_event(self, *args: Any, **kwargs: Any) -> EventID:
        return EventID("$state")

    async def get_event(self, room_id: RoomID, event_id: EventID) -> Any:
        raw: dict[str, Any] = {"type": "m.room.message"}
        raw |= {"content": {"msgtype": "m.text", "body": "x"}}
        raw |= {"room_id": room_id, "event_id": event_id, "sender": ALICE}
        raw |= {"origin_server_ts": 0}
        return GenericEvent.deserialize(cast(Any, raw))

    async def get_room_displayname(self, room_id: RoomID, user_id: UserID) -> str | None:
        return "Alice"

    async def get_displayname(self, user_id: UserID) -> str | None:
        return "Alice"

    async def get_room_members(self, room_id: RoomID, *args: Any, **kwargs: Any) -> list[UserID]:
        if room_id == MANAGEMENT_ROOM:
            return [ALICE, BOT]
        return [ALICE, BOT, GHOST, BOB]

    async def get_joined_members(self, room_id: RoomID) -> dict[UserID, Any]:
        return {user: None for user in await self.get_room_members(room_id)}

    async def get_members(self, room_id: RoomID, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    async def get_power_levels(self, room_id: RoomID, *args: Any, **kwargs: Any) -> Any:
        return PowerLevelStateEventContent(users={BOT: 100, ALICE: 50})

    async def get_state_event(self, room_id: RoomID, event_type: EventType, *args: Any) -> Any:
        if event_type == EventType.ROOM_CREATE:
            return RoomCreateStateEventContent()
        raise MNotFound(404, "Event not found.")

    async def set_power_levels(self, *args: Any, **kwargs: Any) -> EventID:
        return EventID("$pl")

    async def set_room_name(self, *args: Any, **kwargs: Any) -> EventID:
        return EventID("$name")

    set_room_topic = set_room_avatar = set_room_name

    async def redact(self, room_id: RoomID, event_id: EventID, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(("redact", event_id))
        return EventID("$redaction")

    async def upload_media(self, data: bytes, *args: Any, **kwargs: Any) -> str:
        return MXC

    async def download_media(self, url: str, *args: Any, **kwargs: Any) -> bytes:
        return b"\x89PNG\r\n\x1a\n not really an image"

    async def get_media_repo_config(self) -> Any:
        return type("MediaConfig", (), {"upload_size": 50 * 1024 * 1024})()

    async def mark_read(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def set_typing(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def invite_user(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def kick_user(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def leave_room(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def create_room(self, *args: Any, **kwargs: Any) -> RoomID:
        return RoomID(f"!created{len(self.sent)}:{DOMAIN}")

    async def whoami(self) -> Any:
        return type("WhoAmI", (), {"user_id": self.mxid, "device_id": "DEVICE"})()

    async def get_txn_id(self) -> str:
        return f"txn{time.monotonic_ns()}"


@dataclass
class FakeSession:
    """A WhatsApp session that accepts every request, as WhatsApp would from a good client."""

    sent: list[Any] = field(default_factory=list)
    is_connected: bool = True
    device_jid: str | None = ALICE_JID

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> SentMessage:
        self.sent.append((chat, message))
        return SentMessage(id=f"3EB0{len(self.sent):08X}", timestamp=time.time())

    async def send_poll_vote(self, *args: Any) -> SentMessage:
        return await self.send_message(GROUP, wa_e2e_pb2.Message())

    async def is_on_whatsapp(self, phone: str) -> str | None:
        return f"{phone}@s.whatsapp.net" if phone.startswith("1555") else None

    async def get_group_info(self, jid: str) -> GroupSummary:
        return GroupSummary(jid=jid, name="Group", members=(user_jid(ALICE_JID), CONTACT))

    async def get_joined_groups(self) -> list[GroupSummary]:
        return [await self.get_group_info(GROUP)]

    async def get_profile_picture(self, *args: Any) -> None:
        return None

    async def upload_media(self, data: bytes, media_type: MediaType) -> UploadResult:
        return UploadResult(
            url="https://mmg.example/x",
            direct_path="/x",
            media_key=b"k" * 32,
            file_sha256=b"s" * 32,
            file_enc_sha256=b"e" * 32,
            file_length=len(data),
            media_type=media_type,
        )

    async def update_participants(
        self, jid: str, participants: list[str], action: str
    ) -> list[ParticipantResult]:
        return [ParticipantResult(p, 200) for p in participants]

    async def create_group(
        self, name: str, participants: list[str], create_key: str
    ) -> tuple[GroupSummary, list[ParticipantResult]]:
        return await self.get_group_info("120363000000000002@g.us"), []

    async def set_group_photo(self, jid: str, jpeg: bytes | None) -> str:
        return "photo"

    async def login_qr(self) -> AsyncIterator[Any]:
        """A QR login that shows one code and waits for a scan that never comes."""
        yield QRCode("2@fuzz,qr,code")
        await asyncio.Event().wait()

    async def login_phone(self, phone: str) -> AsyncIterator[Any]:
        yield PairingCode("FUZZ-CODE")
        await asyncio.Event().wait()

    async def _nothing(self, *args: Any, **kwargs: Any) -> None:
        return None

    mark_read = send_typing = set_group_name = set_group_topic = leave_group = _nothing
    connect = disconnect = logout = request_history = _nothing


class FakeUser:
    """A bridge user with the attributes the handlers read."""

    def __init__(self, mxid: UserID, jid: str | None, level: str) -> None:
        self.mxid = mxid
        self.row = type("Row", (), {"management_room": MANAGEMENT_ROOM, "wa_jid": jid})()
        self.wa_jid = jid
        self.phone = jid.partition(":")[0] if jid else None
        self.session: Any = FakeSession() if jid else None
        self.unpaired = FakeSession()
        self.is_whitelisted = level in ("user", "admin")
        self.relay_whitelisted = True
        self.is_admin = level == "admin"
        self.permission_level = level
        self.login: Any = None
        self.command_status: Any = None
        self.log = logging.getLogger("mau.user").getChild(mxid)
        self.checkpoints: list[Any] = []
        self.bridge: Any = None
        self.contacts = FakeContacts()

    async def is_logged_in(self) -> bool:
        return self.wa_jid is not None

    def has_ongoing_login(self) -> bool:
        return self.login is not None and not self.login.done

    async def replace_login(self, phone: str | None) -> LoginProcess:
        if self.login is not None:
            await self.login.cancel()
        process = LoginProcess(cast(Any, self), phone)
        self.login = process
        return process

    async def on_login_success(self, jid: str, phone: str) -> None:
        return None

    async def drop_unpaired_session(self) -> None:
        return None

    async def set_management_room(self, room_id: RoomID) -> None:
        self.row.management_room = room_id

    def send_remote_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        self.checkpoints.append(args)

    async def get_puppet(self) -> Any:
        return await self.bridge.get_puppet_by_jid(self.wa_jid) if self.wa_jid else None

    async def get_portal_with(self, puppet: FakePuppet, create: bool = True) -> Portal | None:
        if not self.wa_jid:
            return None
        jid, receiver = portal_key(puppet.jid, self.wa_jid)
        return cast(Portal, await self.bridge.portals.get_by_jid(jid, receiver, create=create))

    async def logout(self) -> None:
        return None

    async def update_direct_chats(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def send_notice(self, text: str) -> EventID | None:
        intent: FakeIntent = self.bridge.az.intent
        return await intent.send_notice(MANAGEMENT_ROOM, text)

    @functools.cached_property
    def backfill(self) -> UserBackfill:
        """The real history-sync state (rooms made by ``pm`` are backfilled from it)."""
        return UserBackfill(cast(Any, self))

    async def get_bridge_states(self) -> list[Any]:
        return []

    async def get_session(self) -> Any:
        return self.session or self.unpaired


class FakePuppet:
    """A ghost: its intent and the names the handlers read."""

    def __init__(self, jid: str, intent: FakeIntent) -> None:
        self.jid = jid
        self.intent = self.default_mxid_intent = intent
        self.mxid = self.default_mxid = intent.mxid
        self.name = self.displayname = jid.partition("@")[0]
        self.custom_mxid = None
        self.is_registered = True

    async def update_names(self) -> None:
        return None


class FakeContacts:
    def want_avatar(self, puppet: Any) -> None:
        return None

    async def wait_idle(self) -> None:
        return None


class FakeAppService:
    """The appservice as the handler uses it: the bot's intent and transaction hook."""

    def __init__(self, sent: list[tuple[str, Any]]) -> None:
        self.bot_mxid = BOT
        self.intent = FakeIntent(BOT, sent)
        self.as_token = "as-token"
        self.bridge_name = "whatsapp"
        self.domain = DOMAIN
        self.state_store = MemoryStateStore()
        self.http_session = None
        self.handler: Any = None
        self.app = web.Application()

    def matrix_event_handler(self, handler: Any) -> Any:
        self.handler = handler
        return handler

    async def handle_transaction(
        self, txn_id: str, *, events: list[Any], ephemeral: list[Any] | None = None, **kwargs: Any
    ) -> Any:
        """What mautrix's appservice does with a transaction (``as_handler.py``): parse each
        event, drop what doesn't parse, classify the type and call the handler; here the
        handler's exceptions escape (mautrix would log them) and a dropped message is an
        error, since its sender would never hear of it."""
        for raw, class_ in [(raw, "ephemeral") for raw in ephemeral or []] + [
            (raw, "room") for raw in events
        ]:
            try:
                event: Any = (EphemeralEvent if class_ == "ephemeral" else Event).deserialize(raw)
            except SerializerError:
                if isinstance(raw, dict) and raw.get("type") in MESSAGE_TYPES:
                    raise
                continue
            if class_ == "ephemeral":
                event.type = event.type.with_class(EventType.Class.EPHEMERAL)
            elif getattr(event, "state_key", None) is not None:
                event.type = event.type.with_class(EventType.Class.STATE)
            else:
                event.type = event.type.with_class(EventType.Class.MESSAGE)
            await self.handler(event)
        return {}


class FakeBridge:
    """What the handlers ask of the bridge: users, portals, ghosts, config, tables."""

    def __init__(self, config: Config, database: Database) -> None:
        self.config = config
        self.tables = BridgeDB(database)
        self.db = database
        self.sent: list[tuple[str, Any]] = []
        self.az = FakeAppService(self.sent)
        self.users = {
            ALICE: FakeUser(ALICE, ALICE_JID, "admin"),
            BOB: FakeUser(BOB, None, "user"),
            STRANGER: FakeUser(STRANGER, None, "relay"),
        }
        for user in self.users.values():
            user.bridge = self
        self.portals = PortalRegistry(cast(Any, self))
        self.login_page = None
        self.log = logging.getLogger("mau.bridge")
        self.repo_url = "https://example.org/bridge"
        self.markdown_version = "0"
        self.loop = None
        self.name = "whatsapp"
        self.command_prefix = "!wa"
        self.relay = None
        self.matrix: MatrixHandler
        self.double_puppets: DoublePuppets
        self.matrix_events: MatrixEventKeeper

    def is_bridge_ghost(self, user_id: UserID) -> bool:
        return str(user_id).startswith("@whatsapp_") and str(user_id).endswith(f":{DOMAIN}")

    def ghost_mxid(self, ghost_id: str) -> UserID:
        return UserID(f"@whatsapp_{ghost_id}:{DOMAIN}")

    async def get_user(self, user_id: UserID, create: bool = True) -> FakeUser | None:
        return self.users.get(user_id)

    async def get_portal(self, room_id: RoomID) -> Portal | None:
        return await self.portals.get_by_mxid(room_id)

    async def get_puppet(self, user_id: UserID, create: bool = False) -> Any:
        if not self.is_bridge_ghost(user_id):
            return None
        return await self.get_puppet_by_jid(CONTACT)

    async def get_puppet_by_jid(self, jid: str, create: bool = True) -> FakePuppet:
        account = user_jid(jid)
        intent = FakeIntent(UserID(f"@whatsapp_{account.partition('@')[0]}:{DOMAIN}"), self.sent)
        return FakePuppet(account, intent)

    async def get_double_puppet(self, user_id: UserID) -> Any:
        return None

    async def count_logged_in_users(self) -> int:
        return 1


def _config(folder: Path) -> Config:
    path = folder / "config.yaml"
    path.write_bytes(EXAMPLE_CONFIG.read_bytes())
    config = Config(
        str(path), str(folder / "r.yaml"), "pkg://mautrix_whatsapp/example-config.yaml"
    )
    config.load()
    config["homeserver.domain"] = DOMAIN
    config["bridge.permissions"] = {"*": "relay", DOMAIN: "user", ALICE: "admin"}
    config["bridge.relay.enabled"] = True
    return config


PORTAL_ROWS = [(CONTACT, user_jid(ALICE_JID), DM_ROOM), (GROUP, "", GROUP_ROOM)]


@dataclass
class MatrixWorld:
    bridge: FakeBridge
    handler: MatrixHandler
    database: Database

    @property
    def sent(self) -> list[tuple[str, Any]]:
        return self.bridge.sent

    async def ensure_portals(self) -> None:
        """The DM and group portals, again if an input deleted one."""
        for jid, receiver, room in PORTAL_ROWS:
            if await self.bridge.tables.portals.get_by_mxid(room) is None:
                await self.bridge.tables.portals.upsert(
                    PortalRow(jid=jid, receiver=receiver, mxid=room)
                )


@asynccontextmanager
async def matrix_world() -> AsyncIterator[MatrixWorld]:
    """The world on a fresh SQLite database: a DM portal, a group portal, a management room."""
    with tempfile.TemporaryDirectory() as folder:
        config = _config(Path(folder))
        database = Database.create(f"sqlite:{folder}/bridge.db", upgrade_table=upgrade_table)
        await database.start()
        try:
            bridge = FakeBridge(config, database)
            handler = MatrixHandler(cast(Any, bridge))
            bridge.matrix = handler
            bridge.double_puppets = DoublePuppets(cast(Any, bridge))
            # Transactions go through the crash-safety keeper, as in the bridge.
            bridge.matrix_events = MatrixEventKeeper(cast(Any, bridge))
            bridge.matrix_events.install()
            await bridge.matrix_events.resubmit_all()
            world = MatrixWorld(bridge, handler, database)
            await world.ensure_portals()
            yield world
            await bridge.portals.stop()
        finally:
            await database.stop()
