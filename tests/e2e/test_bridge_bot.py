"""The bot in a real Synapse: greeting, management room, permissions, commands without login."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.bridge import BridgeProcess, run_bridge
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import (
    GREETING,
    LOGIN_HINT,
    bot_notice,
    command,
    user_with_management_room,
)
from tests.e2e.synapse import SynapseInfo

pytestmark = pytest.mark.synapse


@dataclass(frozen=True)
class BotWorld:
    bridge: BridgeProcess
    outsider: str  # the localpart of a user that bridge.permissions blocks


@pytest.fixture(scope="module")
def bot_world(
    synapse: SynapseInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotWorld]:
    outsider = f"outsider_{secrets.token_hex(4)}"
    permissions = {
        "*": "relay",
        synapse.server_name: "user",
        f"@{outsider}:{synapse.server_name}": "block",
    }
    with run_bridge(
        tmp_path_factory.mktemp("bridge-bot"), synapse, permissions=permissions
    ) as bridge:
        yield BotWorld(bridge=bridge, outsider=outsider)


async def test_bot_joins_a_dm_and_greets(
    bot_world: BotWorld, synapse: SynapseInfo, matrix_user: MakeUser
) -> None:
    alice = await matrix_user("alice")
    room = await alice.create_dm(synapse.bot_mxid)
    await alice.wait_for_join(room, synapse.bot_mxid, timeout=20)
    greeting = await alice.wait_for_event(room, bot_notice(synapse.bot_mxid, GREETING), 20)
    body = greeting["content"]["body"]
    assert LOGIN_HINT in body
    assert "management room" in body
    assert "<code>help</code>" in greeting["content"]["formatted_body"]


async def test_commands_without_login(
    bot_world: BotWorld, synapse: SynapseInfo, matrix_user: MakeUser
) -> None:
    alice, room = await user_with_management_room(matrix_user, synapse)
    bot = synapse.bot_mxid

    help_text = await command(alice, room, bot, "help", "management room")
    for name in ("login", "logout", "ping", "cancel", "version"):
        assert (
            f"**{name}**" in help_text["content"]["body"] or name in help_text["content"]["body"]
        )
    await command(alice, room, bot, "version", "mautrix-whatsapp")
    await command(alice, room, bot, "ping", "You're not logged into WhatsApp.")
    await command(alice, room, bot, "logout", "You're not logged in.")
    await command(alice, room, bot, "cancel", "No ongoing command.")
    await command(alice, room, bot, "reconnect", "requires you to be logged in")
    await command(alice, room, bot, "frobnicate", "Unknown command")
    await command(alice, room, bot, "login +12", "too short")
    await command(alice, room, bot, "login 5551234567", "Usage")
    await command(alice, room, bot, "login phone 0049 1234", "international format")
    # In a room with more people the prefix is needed.
    bob = await matrix_user("bob")
    group = await alice.create_room(invite=[bob.user_id])
    await bob.wait_for_invite(group)
    await bob.join(group)
    await alice.wait_for_join(group, bob.user_id)
    await alice.invite(group, bot)
    await alice.wait_for_join(group, bot, timeout=20)
    await alice.wait_for_event(group, bot_notice(bot, GREETING, "!wa help"), 20)
    await alice.send_text(group, "ping")
    await command(alice, group, bot, "!wa ping", "You're not logged into WhatsApp.")
    replies = [e for e in alice.events(group) if e.get("sender") == bot and "logged" in str(e)]
    assert len(replies) == 1  # the unprefixed "ping" was not a command


async def test_user_outside_permissions_is_refused(
    bot_world: BotWorld, synapse: SynapseInfo
) -> None:
    outsider = await synapse.register_user(bot_world.outsider, secrets.token_hex(8))
    try:
        bot = synapse.bot_mxid
        room = await outsider.create_dm(bot)
        refusal = await outsider.wait_for_event(
            room,
            bot_notice(bot, "not whitelisted", "bridge.permissions"),
            20,
        )
        assert refusal["sender"] == bot
        await outsider.wait_for_event(
            room,
            lambda e: (
                e.get("type") == "m.room.member"
                and e.get("state_key") == bot
                and e.get("content", {}).get("membership") == "leave"
            ),
            20,
        )
        assert GREETING not in [e.get("content", {}).get("body") for e in outsider.events(room)]
    finally:
        await outsider.close()
