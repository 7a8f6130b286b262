"""Initial sync: how long after login the phone's history is in Matrix, beside what the same
room creations and sends cost Synapse alone, in one run.

    .venv/bin/python bench/initial_sync.py [--chats N] [--messages M]

One world as in the end-to-end tests: a real Synapse, the simulator (TLS), the bridge as a
process (logging at INFO, as deployed; default history config but ``dispatch_wait`` 1 s), and a
Matrix user linked by QR to a phone holding N chats of M texts (every tenth a group of two
contacts and the user; DMs otherwise; the contacts and the user take turns).

- *bridge*: from the bot's "Successfully logged in" notice to the progress summary ("Created
  portals for N of N chats"), which the bridge sends right after the last backfilled event;
  both are the bot's own events, so their ``origin_server_ts`` are Synapse's clock. The
  ``dispatch_wait`` (a deliberate pause after the last history chunk) is subtracted. What is
  left: the phone sending its history, the bridge storing it, making the space, the rooms and
  the ghosts, and sending every message with its original timestamp.
- *peer*: a plain appservice (mautrix's intents, no bridge) doing the same to the same Synapse:
  a space, then per chat a room as the bridge makes it (a DM made by the contact's ghost with
  ``is_direct``; a group made by the bot with its name, the ghosts joined and the power levels
  set), the user invited, the room listed in the space, and the same M texts sent one at a time
  from the right ghosts (the user's own ghost for their messages) with timestamp massaging.

The ratio is bridge / peer (1.0: the bridge adds nothing to what the homeserver takes anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge_throughput import QUIET_LOGS, MemoryASStateStore  # noqa: E402
from mautrix.appservice import AppServiceAPI, IntentAPI  # noqa: E402
from mautrix.types import (  # noqa: E402
    EventType,
    MessageType,
    PowerLevelStateEventContent,
    RoomID,
    TextMessageEventContent,
    UserID,
)

from tests.e2e.bridge import run_bridge  # noqa: E402
from tests.e2e.helpers import login_with_history  # noqa: E402
from tests.e2e.matrix_client import Event, MatrixTestUser  # noqa: E402
from tests.e2e.synapse import GHOST_PREFIX, SynapseInfo, run_synapse  # noqa: E402
from tests.simulator_fixture import SimulatorInfo, run_simulator  # noqa: E402

DISPATCH_WAIT = 1.0
"""``history_sync.dispatch_wait`` for the bench (seconds), subtracted from the bridge's time."""
GROUP_EVERY = 10


@dataclass(frozen=True)
class ChatPlan:
    """One chat of the phone: its contacts (numbers), the group's subject if a group."""

    index: int
    contacts: tuple[str, ...]
    subject: str | None

    def sender(self, k: int) -> str:
        """Who sent message ``k``: the contacts and the user (``"me"``) in turn."""
        order = [self.contacts[0], "me", *self.contacts[1:]]
        return order[k % len(order)]


def plan_chats(chats: int, prefix: str) -> list[ChatPlan]:
    plans = []
    for index in range(chats):
        if index % GROUP_EVERY == GROUP_EVERY - 1:
            contacts = (f"{prefix}1{index:04d}", f"{prefix}2{index:04d}")
            plans.append(ChatPlan(index, contacts, f"Group {index}"))
        else:
            plans.append(ChatPlan(index, (f"{prefix}1{index:04d}",), None))
    return plans


def history_import(plans: list[ChatPlan], messages: int, now: int) -> list[dict[str, Any]]:
    """The phone's memory as the simulator's history import takes it."""
    chats: list[dict[str, Any]] = []
    for plan in plans:
        base = now - 3600 * (plan.index + 1)
        texts = [
            {"id": f"B{plan.index}M{k}", "from": plan.sender(k), "t": base + 30 * k}
            | {"text": f"b{plan.index} m{k}"}
            for k in range(messages)
        ]
        if plan.subject is None:
            chats.append({"with": plan.contacts[0], "messages": texts})
        else:
            group = {"subject": plan.subject, "members": list(plan.contacts)}
            chats.append({"group": group, "messages": texts})
    return chats


def _body_of(event: Event) -> str:
    return str(event.get("content", {}).get("body", ""))


async def measure_bridge(
    synapse: SynapseInfo, simulator: SimulatorInfo, chats: int, messages: int
) -> tuple[float, MatrixTestUser]:
    """Seconds from the login notice to the progress summary, less ``dispatch_wait``."""
    history = history_import(plan_chats(chats, "1556"), messages, int(time.time()))

    async def make_user(prefix: str = "user", *, admin: bool = False) -> MatrixTestUser:
        name = f"{prefix}_{secrets.token_hex(4)}"
        return await synapse.register_user(name, secrets.token_hex(12), admin=admin)

    user, management, _phone = await login_with_history(make_user, synapse, simulator, history)
    login = next(e for e in user.events(management) if "Successfully logged in" in _body_of(e))
    summary = await user.wait_for_event(
        management, lambda e: "Created portals for" in _body_of(e), timeout=3600
    )
    expected = f"Created portals for {chats} of {chats} chats, {chats * messages} messages"
    if expected not in _body_of(summary):
        raise AssertionError(f"the backfill did not complete: {_body_of(summary)}")
    elapsed_ms = summary["origin_server_ts"] - login["origin_server_ts"]
    return elapsed_ms / 1000 - DISPATCH_WAIT, user


class Peer:
    """A plain appservice making the bridge's rooms and sends straight to Synapse."""

    def __init__(self, api: AppServiceAPI, server: str, user: UserID) -> None:
        self.api = api
        self.bot = api.bot_intent()
        self.server = server
        self.user = user
        self.registered: set[UserID] = set()

    async def ghost(self, number: str) -> IntentAPI:
        """A ghost as the bridge makes one: registered and named, once."""
        mxid = UserID(f"@{GHOST_PREFIX}{number}:{self.server}")
        intent: IntentAPI = self.api.intent(mxid)
        if mxid not in self.registered:
            await intent.ensure_registered()
            await intent.set_displayname(f"+{number}")
            self.registered.add(mxid)
        return intent

    async def chat(
        self, plan: ChatPlan, own: IntentAPI, space: RoomID, messages: int, now: int
    ) -> None:
        members = {n: await self.ghost(n) for n in plan.contacts}
        if plan.subject is None:
            creator = members[plan.contacts[0]]
            room = await creator.create_room(is_direct=True, invitees=[self.user])
        else:
            creator = self.bot
            room = await creator.create_room(name=plan.subject, invitees=[self.user])
            for intent in members.values():
                await intent.ensure_joined(room, bot=creator)
        await own.ensure_joined(room, bot=creator)
        if plan.subject is not None:
            levels = await self.bot.get_power_levels(room)
            if isinstance(levels, PowerLevelStateEventContent):
                for intent in members.values():
                    levels.users[intent.mxid] = 0
                await self.bot.set_power_levels(room, levels)
        via = {"via": [self.server]}
        await self.bot.send_state_event(space, EventType.SPACE_CHILD, via, state_key=room)
        base = now - 3600 * (plan.index + 1)
        for k in range(messages):
            sender = plan.sender(k)
            intent = own if sender == "me" else members[sender]
            content = TextMessageEventContent(msgtype=MessageType.TEXT, body=f"p{plan.index} {k}")
            await intent.send_message_event(
                room, EventType.ROOM_MESSAGE, content, timestamp=(base + 30 * k) * 1000
            )


async def measure_peer(
    synapse: SynapseInfo, user: MatrixTestUser, chats: int, messages: int
) -> float:
    async with aiohttp.ClientSession() as http:
        api = AppServiceAPI(
            synapse.base_url,
            UserID(synapse.bot_mxid),
            token=synapse.as_token,
            state_store=MemoryASStateStore(),
            client_session=http,
            log=logging.getLogger("bench.appservice"),  # type: ignore[arg-type]
        )
        peer = Peer(api, synapse.server_name, UserID(user.user_id))
        now = int(time.time())
        started = time.perf_counter()
        own = await peer.ghost(f"1557{secrets.randbelow(10**7):07d}")
        space = await peer.bot.create_room(
            name="WhatsApp", invitees=[peer.user], creation_content={"type": "m.space"}
        )
        for plan in plan_chats(chats, "1558"):
            await peer.chat(plan, own, space, messages, now)
        return time.perf_counter() - started


async def measure(
    synapse: SynapseInfo, simulator: SimulatorInfo, chats: int, messages: int
) -> tuple[float, float]:
    bridged, user = await measure_bridge(synapse, simulator, chats, messages)
    try:
        peer = await measure_peer(synapse, user, chats, messages)
    finally:
        await user.close()
    return bridged, peer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100, help="chats on the phone")
    parser.add_argument("--messages", type=int, default=50, help="texts per chat (<= 50)")
    args = parser.parse_args()
    if not 0 < args.messages <= 50:
        parser.error("--messages must be 1 to 50 (the default message_count backfills 50)")
    overrides: dict[str, Any] = dict(QUIET_LOGS)
    overrides["bridge.history_sync.dispatch_wait"] = f"{DISPATCH_WAIT:g}s"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="initial-sync-bench-") as tmp:
        work = Path(tmp)
        with (
            run_synapse(work / "synapse") as synapse,
            run_simulator(work / "simulator", tls=True) as simulator,
            run_bridge(work / "bridge", synapse, simulator=simulator, overrides=overrides),
        ):
            bridged, peer = asyncio.run(measure(synapse, simulator, args.chats, args.messages))
    load_after = os.getloadavg()[0]
    total = args.chats * args.messages
    print(
        f"initial sync, {args.chats} chats x {args.messages} messages "
        f"(Python {platform.python_version()}; load average {load_before:.1f} -> "
        f"{load_after:.1f} on {os.cpu_count()} cores)"
    )
    print(f"bridge: login notice to progress summary, less dispatch_wait {DISPATCH_WAIT:g} s")
    print("peer: a plain appservice making the same rooms and sends straight to Synapse")
    print(f"{'measure':<16} {'bridge':>9} {'peer':>9} {'ratio':>6}")
    print(f"{'seconds':<16} {bridged:>9.1f} {peer:>9.1f} {bridged / peer:>6.2f}")
    rate_b, rate_p = total / bridged, total / peer
    print(f"{'messages/second':<16} {rate_b:>9.1f} {rate_p:>9.1f} {rate_p / rate_b:>6.2f}")
    print(f"ratio (bridge / peer time): {bridged / peer:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
