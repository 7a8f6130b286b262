"""Relay mode end to end: Baileys as Alice in a WhatsApp group with the bridge user (a group
admin, so their room power level lets them manage the relay), and a ``relay``-level Matrix user
without a login in the group's portal."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import bot_notice, command, linked_user
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SERVER_NAME, SynapseInfo
from tests.simulator_fixture import SimulatorInfo, run_simulator

pytestmark = pytest.mark.synapse

ALICE = "15550002101"
TIMEOUT = 60.0
RELAYED = f"relayed_{secrets.token_hex(4)}"
NOT_LOGGED_IN = "Your message was not bridged: you're not logged in to WhatsApp"
NO_COMMANDS = "You don't have permission to use commands"


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorInfo]:
    with run_simulator(tmp_path / "simulator-tls", tls=True) as info:
        yield info


def _text(body: str) -> Any:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return event.get("type") == "m.room.message" and content.get("body") == body

    return match


async def _group_portal(
    alice: BaileysPeer, owner: MatrixTestUser, management: str, our_phone: str
) -> tuple[str, str]:
    """A group of Alice's where the bridge user is an admin, and its portal (joined)."""
    ours = f"{our_phone}@s.whatsapp.net"
    group = await alice.group_create("Relayed chat", [ours])
    await alice.group_participants_update(group["id"], [ours], "promote")
    await alice.send_text(group["id"], "welcome")
    room = await owner.wait_for_invite(timeout=TIMEOUT)
    assert room != management
    await owner.join(room)
    await owner.wait_for_event(room, _text("welcome"), TIMEOUT)
    return group["id"], room


@pytest.mark.parametrize("bridge_overrides", [{"bridge.relay.enabled": True}])
@pytest.mark.parametrize(
    "bridge_permissions",
    [{"*": "relay", SERVER_NAME: "user", f"@{RELAYED}:{SERVER_NAME}": "relay"}],
)
async def test_relayed_user_talks_through_the_relay(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> None:
    bot = synapse.bot_mxid
    async with BaileysPeer.start(
        simulator, push_name="Alice", auth_dir=tmp_path / "alice", phone=ALICE
    ) as alice:
        owner, management, scan = await linked_user(
            matrix_user, synapse, simulator, silent_phone=True
        )
        our_phone = scan["phone"]
        group_jid, room = await _group_portal(alice, owner, management, our_phone)
        bob = await synapse.register_user(RELAYED, secrets.token_hex(8))
        try:
            await bob.request(
                "PUT",
                f"/_matrix/client/v3/profile/{bob.user_id}/displayname",
                json={"displayname": "Bob Relay"},
            )
            await owner.invite(room, bob.user_id)
            await bob.join(room)

            # No relay yet: Bob has no login, and is told so.
            await bob.send_text(room, "before the relay")
            await bob.wait_for_event(room, bot_notice(bot, NOT_LOGGED_IN), TIMEOUT)
            # A relay-level user can't log in, nor manage the relay.
            await command(bob, room, bot, "!wa login", NO_COMMANDS)
            await command(bob, room, bot, "!wa set-relay", NO_COMMANDS)

            await command(
                owner,
                room,
                bot,
                "!wa set-relay",
                "Messages sent by users who haven't logged in will now be relayed through "
                f"+{our_phone} ([{owner.user_id}]",
            )
            relayed_id = await bob.send_event(
                room,
                "m.room.message",
                {
                    "msgtype": "m.text",
                    "body": "hello **all**",
                    "format": "org.matrix.custom.html",
                    "formatted_body": "hello <strong>all</strong>",
                },
            )
            received = await alice.wait_message(
                lambda e: text_of(e) == "*Bob Relay*: hello *all*", timeout=TIMEOUT
            )
            assert received["key"]["remoteJid"] == group_jid
            author = received["key"].get("participant") or ""
            assert author.split("@")[0].split(":")[0] in {our_phone, *_lid_users(scan)}
            assert author not in {alice.jid, alice.lid}

            # Bob deletes his relayed message: WhatsApp revokes it (the relay's own).
            await bob.request(
                "PUT", f"/_matrix/client/v3/rooms/{room}/redact/{relayed_id}/r1", json={}
            )
            await alice.wait_revoke(received["key"]["id"], timeout=TIMEOUT)

            await command(
                owner,
                room,
                bot,
                "!wa unset-relay",
                "Stopped relaying messages for users who haven't logged in",
            )
            await bob.send_text(room, "after the relay")
            # (a second notice: each event is waited for once)
            await bob.wait_for_event(room, bot_notice(bot, NOT_LOGGED_IN), TIMEOUT)
        finally:
            await bob.close()


def _lid_users(scan: dict[str, Any]) -> set[str]:
    lid = scan.get("lid")
    return {str(lid).split("@")[0].split(":")[0]} if lid else set()
