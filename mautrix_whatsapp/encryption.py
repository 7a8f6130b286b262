"""End-to-bridge encryption glue on mautrix's ``EncryptionManager``.

mautrix's ``BaseMatrixHandler`` already makes the manager (``bridge.encryption.allow``), keeps its
crypto store in the bridge database (``crypto_*`` tables with their own ``crypto_version``
upgrade table, on SQLite or PostgreSQL alike) and decrypts incoming ``m.room.encrypted`` events
before re-dispatching them. What mautrix leaves to its ``BasePortal`` (which this bridge's portals
are not) is done here:

* **Sending.** Every intent the appservice hands out (the bot's, the ghosts', double puppets')
  encrypts what it sends to an encrypted room with the bot's Megolm session, as mautrix bridges
  do: the ghosts have no devices of their own. Doing it at the intent, not at each call site,
  means no message path (notices, edits, reactions, commands) can leak plaintext into an
  encrypted room.
* **Rooms.** With ``encryption.default`` every portal the bridge creates has ``m.room.encryption``
  in its initial state, and DM portals (owned by the contact's ghost) get the bot as a member,
  since clients share room keys only with members' devices.
* **Media.** Files uploaded to an encrypted room are encrypted (AES-CTR, a fresh key each) and
  the event carries ``file`` instead of ``url``.
* **Self-signing.** ``self_sign`` cross-signs the bot's device; the recovery key is kept in the
  bridge database (``encryption_secret``), never logged above DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from mautrix.appservice import AppService, IntentAPI
from mautrix.errors import MForbidden, MNotFound
from mautrix.types import (
    DeviceID,
    DeviceOTKCount,
    EncryptionAlgorithm,
    EventID,
    EventType,
    Membership,
    RoomEncryptionStateEventContent,
    RoomID,
    StateEvent,
    UserID,
)

if TYPE_CHECKING:
    from mautrix.bridge.e2ee import EncryptionManager
    from mautrix.crypto import OlmMachine

    from .__main__ import WhatsAppBridge
    from .portal import Portal

log = logging.getLogger("mau.encryption")

RECOVERY_KEY = "recovery_key"
"""The ``encryption_secret`` row holding the self-signing recovery key."""

SendMessageEvent = Callable[..., Awaitable[EventID]]
MakeIntent = Callable[..., IntentAPI]


def encryption_manager(bridge: WhatsAppBridge) -> EncryptionManager | None:
    """The bridge's manager, None when ``encryption.allow`` is off (or before the Matrix
    handler exists, and for partial bridges such as the unit tests' stand-ins)."""
    matrix = getattr(bridge, "matrix", None)
    return matrix.e2ee if matrix is not None else None


def new_rooms_encrypted(bridge: WhatsAppBridge) -> bool:
    """Whether portals the bridge creates now get ``m.room.encryption`` (``default``)."""
    return encryption_manager(bridge) is not None and bool(
        bridge.config["bridge.encryption.default"]
    )


def encryption_state_content(bridge: WhatsAppBridge) -> RoomEncryptionStateEventContent:
    """Megolm, with the configured key rotation when ``rotation.enable_custom`` is on."""
    content = RoomEncryptionStateEventContent(EncryptionAlgorithm.MEGOLM_V1)
    if bridge.config["bridge.encryption.rotation.enable_custom"]:
        content.rotation_period_ms = bridge.config["bridge.encryption.rotation.milliseconds"]
        content.rotation_period_msgs = bridge.config["bridge.encryption.rotation.messages"]
    return content


def initial_state(bridge: WhatsAppBridge) -> list[dict[str, Any]]:
    """The ``initial_state`` entries a new portal room needs (none without ``default``)."""
    if not new_rooms_encrypted(bridge):
        return []
    content = encryption_state_content(bridge).serialize()
    return [{"type": str(EventType.ROOM_ENCRYPTION), "content": content}]


async def portal_is_encrypted(portal: Portal) -> bool:
    """Whether what is bridged into ``portal`` now must be encrypted: its room is, or it has
    no room yet and the room about to be made will be."""
    bridge = portal.bridge
    if encryption_manager(bridge) is None:
        return False
    if portal.mxid is None:
        return new_rooms_encrypted(bridge)
    return bool(await bridge.az.state_store.is_encrypted(portal.mxid))


async def add_bot_to_room(bridge: WhatsAppBridge, room_id: RoomID, intent: IntentAPI) -> None:
    """Invite (with ``intent``, the room's owner) and join the bot, whose device is the one
    clients share room keys with; a DM room's members are otherwise only the user and a
    device-less ghost."""
    bot = bridge.az.intent
    if intent.mxid != bot.mxid:
        membership = await bot.state_store.get_membership(room_id, bot.mxid)
        if membership != Membership.JOIN:
            if membership != Membership.INVITE:
                await intent.invite_user(room_id, bot.mxid)
            await bot.join_room(room_id)


async def join_bot_to_new_portal(portal: Portal, room_id: RoomID) -> None:
    """After a DM portal is created encrypted: the bot joins it (a failure is logged, the
    room is kept: the user can still invite the bot)."""
    if not new_rooms_encrypted(portal.bridge):
        return
    try:
        await add_bot_to_room(portal.bridge, room_id, portal.main_intent)
    except Exception:
        portal.log.warning("The bot couldn't join %s for encryption", room_id, exc_info=True)


# ---- sending ---------------------------------------------------------------------------


class RoomEncryption:
    """Whether a room is encrypted, for sending: the room-state cache first; a room it knows
    nothing about (one the bot was invited to, whose ``m.room.encryption`` came before it
    joined) is asked of the homeserver once, as mautrix's own encrypting client does."""

    def __init__(self, bot: IntentAPI) -> None:
        self.bot = bot
        self._plain: set[RoomID] = set()  # rooms the homeserver said have no encryption

    async def is_encrypted(self, room_id: RoomID) -> bool:
        known = await self.bot.state_store.is_encrypted(room_id)
        if known is not None:
            return bool(known)
        if room_id in self._plain:
            return False
        try:
            content = await self.bot.get_state_event(room_id, EventType.ROOM_ENCRYPTION)
        except (MNotFound, MForbidden):
            self._plain.add(room_id)
            return False
        if isinstance(content, RoomEncryptionStateEventContent):
            await self.bot.state_store.set_encryption_info(room_id, content)
        return True


def encrypt_sends(intent: IntentAPI, e2ee: EncryptionManager, rooms: RoomEncryption) -> None:
    """Make ``intent`` encrypt message events it sends to encrypted rooms.

    mautrix's IntentAPI is made by the appservice library itself (no subclass can be slipped
    in), and it already wraps its own methods per instance; this adds one more such wrapper.
    """
    if getattr(intent, "_whatsapp_encrypts", False):
        return
    send: SendMessageEvent = intent.send_message_event

    async def send_message_event(
        room_id: RoomID, event_type: EventType, content: Any, **kwargs: Any
    ) -> EventID:
        if event_type != EventType.ROOM_ENCRYPTED and await rooms.is_encrypted(room_id):
            event_type, content = await e2ee.encrypt(room_id, event_type, content)
        return await send(room_id, event_type, content, **kwargs)

    setattr(intent, "send_message_event", send_message_event)  # noqa: B010 (a method)
    setattr(intent, "_whatsapp_encrypts", True)  # noqa: B010


def encrypt_all_intents(az: AppService, e2ee: EncryptionManager) -> None:
    """The bot's intent and every intent made from now on (``az.intent.user(...)``)."""
    bot = az.intent
    rooms = RoomEncryption(bot)
    encrypt_sends(bot, e2ee, rooms)
    make: MakeIntent = bot.api.intent

    def intent(*args: Any, **kwargs: Any) -> IntentAPI:
        made = make(*args, **kwargs)
        encrypt_sends(made, e2ee, rooms)
        return made

    setattr(bot.api, "intent", intent)  # noqa: B010 (a method)


# ---- startup ---------------------------------------------------------------------------


def prepare_encryption(e2ee: EncryptionManager | None) -> None:
    """Before the appservice starts: the crypto machine learns about rooms from the room-state
    cache (:mod:`.encryption_store`); in appservice mode, one-time-key counts are handled only
    once the account is loaded (a transaction can come first) and only for the bot's device
    (Synapse also counts the cross-signing keys, as devices of their own)."""
    if e2ee is None:
        return
    machine = e2ee.crypto
    if e2ee.crypto_db is not None:
        from .encryption_store import RoomStateCryptoStore  # needs the e2be extra

        rooms = RoomStateCryptoStore(e2ee.crypto_db, e2ee.az.state_store)
        e2ee.state_store = machine.state_store = rooms
    if not e2ee.appservice_mode:
        return

    async def handle_otk_counts(counts: dict[UserID, dict[DeviceID, DeviceOTKCount]]) -> None:
        own = counts.get(machine.client.mxid, {}).get(machine.client.device_id)
        if own is not None and machine.account is not None:
            await machine.handle_otk_count(own)

    e2ee.az.otk_handler = handle_otk_counts


async def start_encryption(bridge: WhatsAppBridge) -> None:
    """Start the manager (logs the bot's device in; /sync, or transactions in appservice
    mode), self-sign the device when configured, and make every intent encrypt. Called
    instead of mautrix's ``init_encryption``, whose self-signing logs the recovery key at
    INFO."""
    e2ee = encryption_manager(bridge)
    if e2ee is None:
        return
    # Appservice login gives the bot a token even when its account doesn't exist yet, and
    # Synapse then refuses that token: make sure the account exists first.
    await bridge.az.intent.ensure_registered()
    self_sign, e2ee.self_sign = e2ee.self_sign, False
    await e2ee.start()
    e2ee.self_sign = self_sign
    if self_sign:
        await self_sign_device(bridge, e2ee)
    encrypt_all_intents(bridge.az, e2ee)


async def self_sign_device(bridge: WhatsAppBridge, e2ee: EncryptionManager) -> None:
    """Cross-sign the bot's own device unless it already is; keep the recovery key."""
    machine = e2ee.crypto
    if await own_device_is_cross_signed(machine):
        log.debug("The bot's device is already cross-signed")
        return
    # With the appservice token the homeserver lets the bot replace cross-signing keys it
    # already has (a bridge database made anew) without interactive auth, as the Go bridges do.
    device_token, machine.client.api.token = machine.client.api.token, bridge.az.as_token
    try:
        recovery_key = await machine.generate_recovery_key()
    finally:
        machine.client.api.token = device_token
    await save_secret(bridge, RECOVERY_KEY, recovery_key)
    log.info("Cross-signed the bot's device; its recovery key is in the database")


async def own_device_is_cross_signed(machine: OlmMachine) -> bool:
    """Whether the homeserver has the bot's device signed by the bot's self-signing key.

    Asked of the server, not of the crypto store: after a restart the store has the keys but
    not their signatures, so mautrix's own trust check would sign anew on every start."""
    user_id, device_id = machine.client.mxid, machine.client.device_id
    keys = await machine.client.query_keys([user_id])
    self_signing = keys.self_signing_keys.get(user_id)
    device = keys.device_keys.get(user_id, {}).get(device_id)
    if self_signing is None or device is None:
        return False
    return bool(set(self_signing.keys) & set(device.signatures.get(user_id, {})))


async def save_secret(bridge: WhatsAppBridge, name: str, value: str) -> None:
    await bridge.db.execute(
        "INSERT INTO encryption_secret (name, secret) VALUES ($1, $2) "
        "ON CONFLICT (name) DO UPDATE SET secret=excluded.secret",
        name,
        value,
    )


# ---- Matrix events ---------------------------------------------------------------------


async def handle_encryption_event(bridge: WhatsAppBridge, evt: StateEvent) -> None:
    """``m.room.encryption`` in a room: remember it; in a portal, make sure the bot is there to
    receive the room keys (a user may turn encryption on in an existing DM portal)."""
    if not isinstance(evt.content, RoomEncryptionStateEventContent):
        return
    await bridge.az.state_store.set_encryption_info(evt.room_id, evt.content)
    portal = await bridge.get_portal(evt.room_id)
    if portal is None or encryption_manager(bridge) is None:
        return
    portal.log.debug("Encryption is on in %s", evt.room_id)
    try:
        await add_bot_to_room(bridge, evt.room_id, portal.main_intent)
    except Exception:
        portal.log.warning("Failed to add the bot to %s for encryption", evt.room_id)


# ---- media -----------------------------------------------------------------------------


def encrypt_file(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """``(ciphertext, file)``: the ciphertext to upload and the ``file`` object (without its
    ``url``) that lets members decrypt it."""
    from mautrix.crypto.attachments import encrypt_attachment

    ciphertext, file = encrypt_attachment(data)
    return ciphertext, file.serialize()


def use_encrypted_files(
    content: MutableMapping[str, Any], files: MutableMapping[str, dict[str, Any]]
) -> None:
    """Replace ``url`` / ``info.thumbnail_url`` by ``file`` / ``info.thumbnail_file`` for the
    URLs uploaded encrypted (``files``: URL → its ``file`` object)."""
    url = content.get("url")
    if isinstance(url, str) and url in files:
        content["file"] = {**files[url], "url": url}
        del content["url"]
    info = content.get("info")
    if isinstance(info, MutableMapping):
        thumbnail = info.get("thumbnail_url")
        if isinstance(thumbnail, str) and thumbnail in files:
            info["thumbnail_file"] = {**files[thumbnail], "url": thumbnail}
            del info["thumbnail_url"]
