"""End-to-bridge encryption glue (:mod:`mautrix_whatsapp.encryption`): what a new portal's room
gets, how intents encrypt, where encrypted uploads go in the event, the crypto machine's view
of rooms on both databases, and the registration appservice-mode encryption needs."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

from mautrix.appservice.state_store.asyncpg import PgASStateStore
from mautrix.errors import MNotFound
from mautrix.types import (
    EncryptionAlgorithm,
    EventID,
    EventType,
    Membership,
    RoomEncryptionStateEventContent,
    RoomID,
    StateEvent,
    UserID,
)
from mautrix.util.async_db import Database

from mautrix_whatsapp.config import Config
from mautrix_whatsapp.encryption import (
    RoomEncryption,
    encrypt_file,
    encrypt_sends,
    handle_encryption_event,
    initial_state,
    use_encrypted_files,
)
from mautrix_whatsapp.encryption_store import RoomStateCryptoStore

ROOM = RoomID("!room:example.org")


def _bridge(config: dict[str, Any], e2ee: object | None = object()) -> Any:
    return SimpleNamespace(config=config, matrix=SimpleNamespace(e2ee=e2ee))


def _config() -> dict[str, Any]:
    return {
        "bridge.encryption.default": True,
        "bridge.encryption.rotation.enable_custom": False,
        "bridge.encryption.rotation.milliseconds": 604800000,
        "bridge.encryption.rotation.messages": 100,
    }


def test_new_rooms_get_megolm_only_with_default_and_a_manager() -> None:
    (state,) = initial_state(_bridge(_config()))
    assert state["type"] == "m.room.encryption"
    assert state["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    # The spec's rotation defaults unless the config sets its own.
    assert (state["content"]["rotation_period_ms"], state["content"]["rotation_period_msgs"]) == (
        604800000,
        100,
    )
    assert initial_state(_bridge(_config(), e2ee=None)) == []  # allow is off
    assert initial_state(_bridge({**_config(), "bridge.encryption.default": False})) == []
    rotating = {
        **_config(),
        "bridge.encryption.rotation.enable_custom": True,
        "bridge.encryption.rotation.milliseconds": 3600000,
        "bridge.encryption.rotation.messages": 20,
    }
    (state,) = initial_state(_bridge(rotating))
    assert (state["content"]["rotation_period_ms"], state["content"]["rotation_period_msgs"]) == (
        3600000,
        20,
    )


def test_encrypted_uploads_become_file_objects() -> None:
    ciphertext, file = encrypt_file(b"secret bytes")
    assert ciphertext != b"secret bytes" and len(ciphertext) == len(b"secret bytes")
    assert file["key"]["alg"] == "A256CTR" and "url" not in file
    content: dict[str, Any] = {
        "msgtype": "m.image",
        "body": "a.jpg",
        "url": "mxc://hs/enc",
        "info": {"thumbnail_url": "mxc://hs/thumb", "mimetype": "image/jpeg"},
    }
    use_encrypted_files(content, {"mxc://hs/enc": file, "mxc://hs/thumb": {"v": "v2"}})
    assert "url" not in content and content["file"] == {**file, "url": "mxc://hs/enc"}
    assert content["info"] == {
        "thumbnail_file": {"v": "v2", "url": "mxc://hs/thumb"},
        "mimetype": "image/jpeg",
    }
    plain = {"msgtype": "m.image", "url": "mxc://hs/plain", "info": {}}
    use_encrypted_files(plain, {"mxc://hs/enc": file})
    assert plain == {"msgtype": "m.image", "url": "mxc://hs/plain", "info": {}}


class _StateStore:
    def __init__(self, encrypted: dict[str, bool | None]) -> None:
        self.encrypted = encrypted
        self.stored: list[str] = []

    async def is_encrypted(self, room_id: str) -> bool | None:
        return self.encrypted.get(room_id)

    async def set_encryption_info(self, room_id: str, content: object) -> None:
        self.stored.append(room_id)
        self.encrypted[room_id] = True


class _Intent:
    """An IntentAPI stand-in recording what reaches the homeserver."""

    def __init__(self, state_store: _StateStore, server_state: dict[str, object]) -> None:
        self.state_store = state_store
        self.server_state = server_state
        self.sent: list[tuple[str, EventType, Any]] = []
        self.state_asked: list[str] = []

    async def send_message_event(
        self, room_id: str, event_type: EventType, content: Any, **_: Any
    ) -> str:
        self.sent.append((room_id, event_type, content))
        return "$event"

    async def get_state_event(self, room_id: str, event_type: EventType) -> object:
        self.state_asked.append(room_id)
        if room_id not in self.server_state:
            raise MNotFound(404, "no encryption")
        return self.server_state[room_id]


class _Manager:
    async def encrypt(
        self, room_id: str, event_type: EventType, content: Any
    ) -> tuple[EventType, dict[str, Any]]:
        return EventType.ROOM_ENCRYPTED, {"ciphertext": f"{event_type}:{content['body']}"}


async def test_intents_encrypt_only_in_encrypted_rooms() -> None:
    store = _StateStore({"!enc": True, "!plain": False})
    megolm = RoomEncryptionStateEventContent(EncryptionAlgorithm.MEGOLM_V1)
    bot = _Intent(store, {"!invited": megolm})
    rooms = RoomEncryption(cast(Any, bot))
    encrypt_sends(cast(Any, bot), cast(Any, _Manager()), rooms)
    encrypt_sends(cast(Any, bot), cast(Any, _Manager()), rooms)  # wrapping twice: no-op
    text = {"msgtype": "m.text", "body": "hi"}
    for room in ("!enc", "!plain", "!unknown", "!unknown", "!invited"):
        await bot.send_message_event(room, EventType.ROOM_MESSAGE, text)
    assert [(room, str(kind)) for room, kind, _ in bot.sent] == [
        ("!enc", "m.room.encrypted"),
        ("!plain", "m.room.message"),
        ("!unknown", "m.room.message"),
        ("!unknown", "m.room.message"),
        ("!invited", "m.room.encrypted"),
    ]
    assert bot.sent[0][2] == {"ciphertext": "m.room.message:hi"}
    # A room the cache doesn't know is asked of the homeserver once; an encrypted one is
    # remembered in the cache.
    assert bot.state_asked == ["!unknown", "!invited"]
    assert store.stored == ["!invited"]


async def test_crypto_store_reads_the_room_state_cache(database: Database) -> None:
    rooms = PgASStateStore(database)
    await rooms.upgrade_table.upgrade(database)
    user, other = UserID("@alice:example.org"), UserID("@bob:example.org")
    encrypted, plain = RoomID("!enc:example.org"), RoomID("!plain:example.org")
    for room in (encrypted, plain):
        await rooms.set_membership(room, user, Membership.JOIN)
    await rooms.set_membership(encrypted, other, Membership.LEAVE)
    content = RoomEncryptionStateEventContent(EncryptionAlgorithm.MEGOLM_V1)
    await rooms.set_encryption_info(encrypted, content)
    crypto = RoomStateCryptoStore(database, rooms)
    assert await crypto.is_encrypted(encrypted) is True
    assert await crypto.is_encrypted(plain) is False
    assert await crypto.is_encrypted(RoomID("!unknown:example.org")) is False
    info = await crypto.get_encryption_info(encrypted)
    assert info is not None and info.algorithm == EncryptionAlgorithm.MEGOLM_V1
    assert await crypto.find_shared_rooms(user) == [encrypted]
    assert await crypto.find_shared_rooms(other) == []


def test_registration_opts_into_appservice_encryption(config: Config) -> None:
    config["appservice.as_token"] = "as"
    config["appservice.hs_token"] = "hs"
    config.generate_registration()
    assert config._registration is not None
    assert "org.matrix.msc3202" not in config._registration
    config["bridge.encryption.allow"] = True
    config["bridge.encryption.appservice"] = True
    config.generate_registration()
    registration = config._registration
    assert registration is not None
    assert registration["org.matrix.msc3202"] is True
    assert registration["de.sorunome.msc2409.push_ephemeral"] is True
    assert registration["receive_ephemeral"] is True


class _Member:
    """An intent stand-in for memberships: who invited whom, who joined."""

    def __init__(self, mxid: str, log: list[str], state_store: Any = None) -> None:
        self.mxid = mxid
        self.log = log
        self.state_store = state_store

    async def invite_user(self, room_id: str, user_id: str) -> None:
        self.log.append(f"{self.mxid} invites {user_id}")

    async def join_room(self, room_id: str) -> None:
        self.log.append(f"{self.mxid} joins")


class _Memberships:
    def __init__(self) -> None:
        self.encrypted: list[str] = []
        self.bot_membership: Membership | None = None

    async def set_encryption_info(self, room_id: str, content: object) -> None:
        self.encrypted.append(room_id)

    async def get_membership(self, room_id: str, user_id: str) -> Membership | None:
        return self.bot_membership


async def test_encryption_turned_on_in_a_dm_portal_brings_the_bot() -> None:
    actions: list[str] = []
    store = _Memberships()
    bot = _Member("@bot", actions, store)
    portal = SimpleNamespace(
        main_intent=_Member("@ghost", actions), log=logging.getLogger("test.portal")
    )

    async def get_portal(room_id: str) -> object:
        return portal if room_id == ROOM else None

    bridge = _bridge(_config())
    bridge.az = SimpleNamespace(intent=bot, state_store=store)
    bridge.get_portal = get_portal
    megolm = RoomEncryptionStateEventContent(EncryptionAlgorithm.MEGOLM_V1)

    def event(room_id: RoomID) -> StateEvent:
        return StateEvent(
            type=EventType.ROOM_ENCRYPTION,
            room_id=room_id,
            event_id=EventID("$enc"),
            sender=UserID("@alice:example.org"),
            state_key="",
            timestamp=0,
            content=megolm,
        )

    await handle_encryption_event(bridge, event(ROOM))
    assert actions == ["@ghost invites @bot", "@bot joins"]
    # Already a member: nothing to do; a room that isn't a portal is only remembered.
    store.bot_membership = Membership.JOIN
    await handle_encryption_event(bridge, event(ROOM))
    await handle_encryption_event(bridge, event(RoomID("!other:example.org")))
    assert actions == ["@ghost invites @bot", "@bot joins"]
    assert store.encrypted == [ROOM, ROOM, "!other:example.org"]
