"""Messaging throughput through the simulator: our client against Baileys, in the same run.

    .venv/bin/python bench/messaging.py [--count N] [--warmup N] [--rounds R] [--profile FILE]

One simulator subprocess; our client and a Baileys 7 peer (tests/js/baileys_peer.mjs) are each
linked as their own account, and each is in its own seeded group of three with the same two
simulated phones (Bob, Carol); Bob is the counterpart of the 1:1 sends, Dave of the 1:1
receives (see :func:`measure`). After a warm-up
(sessions and sender keys exist), every case measures ``count`` texts per side:

- *send*: done when the server acked the message (our ``send_message`` returns at the ack;
  Baileys' sends are timed inside node, watching the acks on its socket, so the JSON-line pipe
  is not counted). *sequential*: one message in flight; *pipelined*: all at once.
- *receive*: a simulated phone sends ``count`` texts in one admin request (the plugin
  bench/simulator_burst_plugin.py), and the clock stops when the last one reached the
  application (our ``Message`` event; Baileys' ``messages.upsert``).

Messages per second, the median of R rounds per side, ours / Baileys as the ratio (above 1: we
are faster). The simulator is Python and shared, so it bounds every figure: it decrypts nothing
our clients send (it routes ciphertexts) but its phones encrypt everything the clients receive,
and the receive cases can be no faster than those phones. The sequential send cases also pay one
loopback round trip through the simulator per message; the pipelined ones show the clients' own
costs more clearly. ``--profile FILE`` writes cProfile statistics of our client's side.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mautrix_whatsapp.whatsapp import message_builders as mb  # noqa: E402
from mautrix_whatsapp.whatsapp.binary.jid import JID  # noqa: E402
from mautrix_whatsapp.whatsapp.client import Client  # noqa: E402
from mautrix_whatsapp.whatsapp.events import Message  # noqa: E402
from tests.baileys_peer import BaileysPeer  # noqa: E402
from tests.simulator_fixture import SimulatorInfo, run_simulator  # noqa: E402
from tests.whatsapp.test_client_helpers import admin, link_by_qr, make_client  # noqa: E402

PN = "s.whatsapp.net"
OURS, BAILEYS = "15550201001", "15550201002"
BOB, CAROL, DAVE = "15550201003", "15550201004", "15550201005"
PLUGINS = ["tests.whatsapp.simulator_group_seed_plugin", "bench.simulator_burst_plugin"]
CASES = (
    "1:1 send",
    "1:1 send, pipelined",
    "group send",
    "group send, pipelined",
    "1:1 receive",
    "group receive",
)


class Side:
    """One client under test: how it sends ``count`` texts and waits for ``count`` received."""

    name: str
    phone: str
    """Its account (where the counterparts' 1:1 texts go)."""

    async def send(self, chat: JID, count: int, pipelined: bool) -> float:
        """Seconds until ``count`` texts to ``chat`` were acked by the server."""
        raise NotImplementedError

    async def receive(self, info: SimulatorInfo, chat: JID, target: JID, count: int) -> float:
        """Seconds from asking ``chat``'s phone (or Bob's, for a group) for ``count`` texts to
        ``target`` until the last reached the application."""
        raise NotImplementedError


PHONE_RATES: list[float] = []
"""Texts per second of each measured burst request alone: the simulated phone encrypting and
routing, the ceiling of the receive cases."""


async def burst(info: SimulatorInfo, sender: str, target: JID, count: int) -> None:
    """The phone of ``sender`` sends ``count`` texts to ``target``."""
    start = time.perf_counter()
    status, body = await admin(
        info, "POST", "/bench/burst", {"from": sender, "to": str(target), "count": count}
    )
    assert status == 200, body
    PHONE_RATES.append(count / (time.perf_counter() - start))


class Ours(Side):
    name, phone = "ours", OURS

    def __init__(self, client: Client, profile: cProfile.Profile | None) -> None:
        self.client = client
        self.profile = profile
        self._waiting: tuple[JID, int, asyncio.Future[None]] | None = None
        self._seen = 0
        client.add_event_handler(self._on_event)

    async def _on_event(self, event: object) -> None:
        if self._waiting is None or not isinstance(event, Message):
            return
        chat, count, done = self._waiting
        if event.info.chat == chat and not event.info.is_from_me:
            self._seen += 1
            if self._seen >= count and not done.done():
                done.set_result(None)

    async def _timed(self, work: Callable[[], Awaitable[None]]) -> float:
        if self.profile is not None:
            self.profile.enable()
        start = time.perf_counter()
        try:
            await work()
            return time.perf_counter() - start
        finally:
            if self.profile is not None:
                self.profile.disable()

    async def send(self, chat: JID, count: int, pipelined: bool) -> float:
        async def work() -> None:
            if pipelined:
                texts = (mb.text(f"bench {i}") for i in range(count))
                await asyncio.gather(*(self.client.send_message(chat, t) for t in texts))
            else:
                for i in range(count):
                    await self.client.send_message(chat, mb.text(f"bench {i}"))

        return await self._timed(work)

    async def receive(self, info: SimulatorInfo, chat: JID, target: JID, count: int) -> float:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seen, self._waiting = 0, (chat, count, done)

        async def work() -> None:
            await burst(info, sender_of(chat), target, count)
            await asyncio.wait_for(done, 60 + count)

        try:
            return await self._timed(work)
        finally:
            self._waiting = None


class Baileys(Side):
    name, phone = "Baileys", BAILEYS

    def __init__(self, peer: BaileysPeer) -> None:
        self.peer = peer

    async def send(self, chat: JID, count: int, pipelined: bool) -> float:
        answer = await self.peer.request(
            "bench_send", timeout=60 + count, jid=str(chat), count=count, pipelined=pipelined
        )
        return float(answer["seconds"])

    async def receive(self, info: SimulatorInfo, chat: JID, target: JID, count: int) -> float:
        await self.peer.request("bench_receive_arm", chat=str(chat), count=count)
        start = time.perf_counter()
        await burst(info, sender_of(chat), target, count)
        await self.peer.request("bench_receive_wait", timeout=60 + count)
        return time.perf_counter() - start


@dataclass
class World:
    info: SimulatorInfo
    groups: dict[str, JID]
    """Side name → its group (with Bob and Carol)."""


async def seed_group(info: SimulatorInfo, group_id: str, own: str) -> JID:
    members = [own, BOB, CAROL]
    status, body = await admin(info, "POST", "/test-groups", {"id": group_id, "members": members})
    assert status == 200, body
    return JID.parse(body["jid"])


def sender_of(chat: JID) -> str:
    """Who writes in ``chat`` in the receive cases: Dave 1:1, Bob in a group."""
    return BOB if chat.server == "g.us" else chat.user


async def measure(side: Side, world: World, case: str, count: int) -> float:
    """Messages per second of one case on one side.

    Our 1:1 sends go to Bob, and Dave (in no group, never written to) writes the 1:1 texts we
    receive: our client keeps a session it received under the sender's LID but looks for the
    one it sends on under the phone number, so a contact we both write to and hear from gets a
    second session, and its next texts fail to decrypt once (recovered by retry receipts)."""
    group = world.groups[side.name]
    if case.endswith("receive"):
        chat = JID(DAVE, PN) if case.startswith("1:1") else group
        target = JID(side.phone, PN) if case.startswith("1:1") else group
        seconds = await side.receive(world.info, chat, target, count)
    else:
        chat = JID(BOB, PN) if case.startswith("1:1") else group
        seconds = await side.send(chat, count, pipelined=case.endswith("pipelined"))
    return count / seconds


async def run(args: argparse.Namespace, directory: Path) -> dict[str, dict[str, list[float]]]:
    profile = cProfile.Profile() if args.profile else None
    rates: dict[str, dict[str, list[float]]] = {c: {"ours": [], "Baileys": []} for c in CASES}
    extra = [arg for plugin in PLUGINS for arg in ("--plugin", plugin)]
    with run_simulator(directory / "simulator", extra_args=extra, log_level="WARNING") as info:
        for phone, name in ((BOB, "Bob"), (CAROL, "Carol"), (DAVE, "Dave")):
            status, body = await admin(
                info, "POST", "/accounts", {"phone": phone, "push_name": name}
            )
            assert status == 200, body
        await admin(info, "POST", "/accounts", {"phone": OURS, "push_name": "Us", "default": True})
        client, _, log = make_client(info)
        await link_by_qr(info, client, log)
        async with BaileysPeer.start(
            info,
            push_name="Baileys",
            auth_dir=directory / "baileys",
            phone=BAILEYS,
            memory_keys=args.baileys_keys == "memory",
        ) as peer:
            world = World(
                info,
                {
                    "ours": await seed_group(info, "120363000000020001", OURS),
                    "Baileys": await seed_group(info, "120363000000020002", BAILEYS),
                },
            )
            sides: list[Side] = [Ours(client, None), Baileys(peer)]
            for side in sides:  # warm-up: sessions, sender keys, JIT
                for case in CASES:
                    await measure(side, world, case, args.warmup)
            if profile is not None:
                sides[0] = Ours(client, profile)
            PHONE_RATES.clear()
            for _ in range(args.rounds):
                for case in CASES:
                    for side in sides:
                        rates[case][side.name].append(await measure(side, world, case, args.count))
        await client.disconnect()
    if profile is not None:
        profile.dump_stats(args.profile)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=300, help="messages per measurement")
    parser.add_argument("--warmup", type=int, default=20, help="messages per case first")
    parser.add_argument("--rounds", type=int, default=3, help="the median round counts")
    parser.add_argument("--profile", metavar="FILE", help="cProfile our side into FILE")
    parser.add_argument(
        "--baileys-keys",
        choices=["memory", "files"],
        default="memory",
        help="Baileys' Signal keys: in memory as JSON (like our in-memory store), or one file"
        " each (useMultiFileAuthState as it comes)",
    )
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-messaging-") as tmp:
        rates = asyncio.run(run(args, Path(tmp)))
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{args.count} texts per measurement, median of {args.rounds} rounds; messages/second")
    print(f"python {platform.python_version()}, node {node}; load average before: {load[0]:.2f}")
    print(f"our stores in memory; Baileys' Signal keys: {args.baileys_keys}")
    print("the simulator (Python, shared) bounds every figure: its phones encrypt what is")
    print("received; sequential sends also wait one round trip through it per message")
    print(f"{'case':<22} {'ours':>9} {'Baileys':>9} {'ratio':>7}")
    for case in CASES:
        mine = statistics.median(rates[case]["ours"])
        theirs = statistics.median(rates[case]["Baileys"])
        print(f"{case:<22} {mine:>9,.0f} {theirs:>9,.0f} {mine / theirs:>6.2f}x")
    print(
        f"the simulated phone alone sent {statistics.median(PHONE_RATES):,.0f} texts/s"
        " (median over its 1:1 and group bursts)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
