"""End-to-bridge encryption, end to end: with ``encryption.allow`` and ``default`` on, portals
are encrypted rooms; a Matrix client that really encrypts (mautrix's ``OlmMachine``, see
:mod:`tests.e2e.crypto_client`) reads what Baileys sends and its encrypted replies reach Baileys
as the right text, media too. The bot's device is cross-signed (``self_sign``) with the
recovery key kept in the bridge database; the crypto store lives in that database on SQLite
and on PostgreSQL, and survives a restart, after which ``require`` drops plaintext."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from ruamel.yaml import YAML

from tests.baileys_peer import text_of
from tests.e2e.bridge import BridgeProcess, _set
from tests.e2e.crypto_client import CryptoClient, Decrypted
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.e2e.test_bridging_media import _downloaded, _send_declared
from tests.e2e.test_bridging_text import (  # noqa: F401 (fixtures)
    TIMEOUT,
    World,
    _ghosts,
    _portal_invite,
    simulator,
    world,
)
from tests.whatsapp import media_samples

ENCRYPTION = {
    "bridge.encryption.allow": True,
    "bridge.encryption.appservice": True,
    "bridge.encryption.default": True,
    "bridge.encryption.self_sign": True,
}

RECOVERY_KEY_QUERY = "SELECT secret FROM encryption_secret WHERE name='recovery_key'"


MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2"}


def _body_of(message: Decrypted) -> str:
    return str(message.get("content", {}).get("body", ""))


def _body(body: str) -> Any:
    return lambda message: message.get("content", {}).get("body") == body


def _msgtype(msgtype: str) -> Any:
    return lambda message: message.get("content", {}).get("msgtype") == msgtype


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encrypted_from(sender: set[str]) -> Any:
    def match(event: Event) -> bool:
        return event.get("type") == "m.room.encrypted" and event.get("sender") in sender

    return match


async def _join_encrypted_portal(
    user: MatrixTestUser, device: CryptoClient, management: str
) -> str:
    """Join the portal the first message made; it was created encrypted."""
    room = await _portal_invite(user, management)
    stripped = [e for e in user.invite_state(room) if e.get("type") == "m.room.encryption"]
    assert stripped and stripped[0]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    await user.join(room)
    await device.wait_until_encrypted(room, TIMEOUT)
    return room


async def _check_decrypted(
    user: MatrixTestUser, device: CryptoClient, room: str, ghosts: set[str], body: str
) -> Decrypted:
    """``body`` came encrypted (the plain client sees only ciphertext) and decrypts."""
    await user.wait_for_event(room, _encrypted_from(ghosts), TIMEOUT)
    message = await device.wait_for_message(room, _body(body), TIMEOUT)
    assert message["was_encrypted"] is True
    assert message["sender"] in ghosts
    return message


async def _bot_is_cross_signed(user: MatrixTestUser, bot: str, device_id: str) -> None:
    """The bot's device (the bridge's, by the ID in its crypto store) carries a signature of
    the bot's self-signing key."""
    keys = await user.request(
        "POST", "/_matrix/client/v3/keys/query", json={"device_keys": {bot: []}}
    )
    self_signing = keys["self_signing_keys"][bot]["keys"]
    (ssk_id,) = self_signing
    device = keys["device_keys"][bot][device_id]
    assert ssk_id in device["signatures"][bot]


@pytest.mark.parametrize("bridge_overrides", [ENCRYPTION])
async def test_encrypted_dm_text_and_media_on_sqlite(
    world: World,  # noqa: F811
    bridge: BridgeProcess,
    synapse: SynapseInfo,
) -> None:
    alice, user, management, our_phone = world
    ours = f"{our_phone}@s.whatsapp.net"
    ghosts = _ghosts(synapse, alice)
    async with CryptoClient(user) as device:
        # WhatsApp → Matrix: the first message makes an encrypted DM portal, readable only
        # with the keys the bridge shared with the user's device.
        await alice.send_text(ours, "a secret from WhatsApp")
        room = await _join_encrypted_portal(user, device, management)
        await _check_decrypted(user, device, room, ghosts, "a secret from WhatsApp")
        members = await user.joined_members(room)
        assert synapse.bot_mxid in members  # the bot's device receives the room keys

        # Matrix → WhatsApp: the device's encrypted reply arrives as the right text.
        await device.wait_until_joined(room, synapse.bot_mxid, TIMEOUT)
        await device.send_text(room, "an encrypted reply")
        await alice.wait_message(lambda e: text_of(e) == "an encrypted reply", timeout=TIMEOUT)

        # A photo from WhatsApp is uploaded encrypted: ``file`` (and ``thumbnail_file``),
        # no plain ``url``; decrypted, the bytes are Alice's.
        photo, thumb = media_samples.jpeg(160, 120), media_samples.jpeg(32, 24)
        await _send_declared(
            alice, ours, "image", photo, caption="secret picture", jpegThumbnail=_b64(thumb)
        )
        image = (await device.wait_for_message(room, _msgtype("m.image"), TIMEOUT))["content"]
        assert "url" not in image and image["body"] == "secret picture"
        assert await device.download_decrypted(image["file"]) == photo
        assert "thumbnail_url" not in image["info"]
        assert await device.download_decrypted(image["info"]["thumbnail_file"]) == thumb
        # What the homeserver stores is ciphertext.
        assert await user.download_media(image["file"]["url"]) != photo

        # An encrypted photo from Matrix reaches Alice as the same bytes.
        picture = media_samples.jpeg(120, 80)
        file = await device.upload_encrypted(picture)
        content = {
            "msgtype": "m.image",
            "body": "photo.jpg",
            "file": file,
            "info": {"mimetype": "image/jpeg", "w": 120, "h": 80, "size": len(picture)},
        }
        await device.send(room, content)
        sent = await alice.wait_message(lambda e: "imageMessage" in (e.get("message") or {}))
        assert await _downloaded(alice, sent) == picture

        # An encrypted DM with the bot (as Element makes them): the bot joins, decrypts the
        # command and answers encrypted.
        body = {
            "preset": "trusted_private_chat",
            "is_direct": True,
            "invite": [synapse.bot_mxid],
            "initial_state": [{"type": "m.room.encryption", "content": MEGOLM}],
        }
        created = await user.request("POST", "/_matrix/client/v3/createRoom", json=body)
        bot_dm = created["room_id"]
        await user.wait_for_join(bot_dm, synapse.bot_mxid, TIMEOUT)
        await device.wait_until_encrypted(bot_dm, TIMEOUT)
        await device.wait_until_joined(bot_dm, synapse.bot_mxid, TIMEOUT)
        await device.send_text(bot_dm, "ping")
        pong = await device.wait_for_message(
            bot_dm,
            lambda m: m["sender"] == synapse.bot_mxid and "Logged in as +" in _body_of(m),
            TIMEOUT,
        )
        assert pong["was_encrypted"] is True
        assert f"Logged in as +{our_phone}" in _body_of(pong)

    # self_sign: the bot's device is cross-signed; the recovery key is in the database (and
    # in no log line); the crypto store shares the bridge's SQLite file.
    with sqlite3.connect(bridge.directory / "bridge.db") as db:
        (recovery_key,) = db.execute(RECOVERY_KEY_QUERY).fetchone()
        ((device_id,),) = db.execute("SELECT device_id FROM crypto_account").fetchall()
    assert len(recovery_key.replace(" ", "")) == 48
    await _bot_is_cross_signed(user, synapse.bot_mxid, device_id)
    assert recovery_key not in bridge.log_path.read_text()


async def _wait_connected(bridge: BridgeProcess, user_id: str) -> None:
    """Until the bridge reports the user's WhatsApp connection up again (after a restart)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        states = (await bridge.bridge_states(user_id)).get("remoteState") or {}
        if [s.get("state_event") for s in states.values()] == ["CONNECTED"]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{user_id} not reconnected: {states}")
        await asyncio.sleep(0.2)  # polling a state, not synchronising


async def _pg_value(url: str, query: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def _set_config(path: Path, dotted: str, value: Any) -> None:
    """Change one key of the running bridge's config.yaml (read again on restart)."""
    yaml = YAML()
    yaml.indent(4)
    data = yaml.load(path.read_text())
    _set(data, dotted, value)
    with path.open("w") as f:
        yaml.dump(data, f)


@pytest.mark.parametrize("bridge_overrides", [ENCRYPTION])
@pytest.mark.parametrize("bridge_database", ["postgres"], indirect=True)
async def test_encrypted_group_on_postgres_and_require_after_restart(
    world: World,  # noqa: F811
    bridge: BridgeProcess,
    bridge_database: str,
    synapse: SynapseInfo,
) -> None:
    alice, user, management, our_phone = world
    ghosts = _ghosts(synapse, alice)
    async with CryptoClient(user) as device:
        # A group portal (made by the bot) is encrypted too; text both ways.
        group = await alice.group_create("Secret plans", [f"{our_phone}@s.whatsapp.net"])
        await alice.send_text(group["id"], "hi encrypted group")
        room = await _join_encrypted_portal(user, device, management)
        await _check_decrypted(user, device, room, ghosts, "hi encrypted group")
        await device.send_text(room, "hello encrypted group")
        received = await alice.wait_message(
            lambda e: text_of(e) == "hello encrypted group", timeout=TIMEOUT
        )
        assert received["key"]["remoteJid"] == group["id"]

        # The crypto store and the recovery key are in the bridge's PostgreSQL database.
        assert await _pg_value(bridge_database, "SELECT count(*) FROM crypto_account") == 1
        device_id = await _pg_value(bridge_database, "SELECT device_id FROM crypto_account")
        inbound = "SELECT count(*) FROM crypto_megolm_inbound_session"
        assert await _pg_value(bridge_database, inbound) >= 1
        recovery_key = await _pg_value(bridge_database, RECOVERY_KEY_QUERY)
        assert recovery_key

        # After a restart with ``require`` the bridge still has its keys: encrypted messages
        # go both ways; a plaintext one is refused with a notice and not sent.
        _set_config(bridge.config_path, "bridge.encryption.require", True)
        bridge.restart()
        await _wait_connected(bridge, user.user_id)
        # Still cross-signed: the device isn't signed again (same recovery key).
        assert await _pg_value(bridge_database, RECOVERY_KEY_QUERY) == recovery_key
        await _bot_is_cross_signed(user, synapse.bot_mxid, device_id)
        await user.send_text(room, "a plaintext message")
        notice = await device.wait_for_message(room, _msgtype("m.notice"), TIMEOUT)
        assert notice["content"]["body"] == (
            "\u26a0 Your message was not bridged: the message is not encrypted."
        )
        assert notice["was_encrypted"] is True  # the bot's notice is encrypted too
        await device.send_text(room, "encrypted after the restart")
        after = await alice.wait_message(
            lambda e: text_of(e) in ("a plaintext message", "encrypted after the restart"),
            timeout=TIMEOUT,
        )
        assert text_of(after) == "encrypted after the restart"
        await alice.send_text(group["id"], "still encrypted")
        await _check_decrypted(user, device, room, ghosts, "still encrypted")
