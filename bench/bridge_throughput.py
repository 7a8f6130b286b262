"""Bridge throughput: texts per second through the bridge, beside Synapse's own, in one run.

    .venv/bin/python bench/bridge_throughput.py [--count N] [--rounds R]

One world as in the end-to-end tests: a real Synapse, the simulator (TLS), the bridge as a
process (logging at INFO, as deployed), Baileys 7 as Alice and a Matrix user linked by QR, with
a DM portal made by a first message. Each direction is measured beside what Synapse alone does:

- *WhatsApp → Matrix*: Alice sends ``N`` texts, one at a time (``bench_send``), counted as they
  reach the user's sync. Beside it: an appservice intent (mautrix's, as Alice's ghost) posts
  ``N`` texts straight into the same room, one at a time as a portal does.
- *Matrix → WhatsApp*: the user sends ``N`` texts into the portal, one at a time, counted as
  they reach Baileys. Beside it: the same user sends ``N`` texts to a room of their own (no
  bridge), counted as they reach their sync.

Each figure is a rate: texts per second between the first arrival and the last (the latency
of the first text is not in it), the median of R rounds; the rounds interleave bridge and
Synapse so both see the same load. The ratio is bridge / Synapse (1.0: the bridge adds nothing
to what the homeserver takes anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mautrix.appservice import AppServiceAPI  # noqa: E402
from mautrix.appservice.state_store import ASStateStore  # noqa: E402
from mautrix.client.state_store import MemoryStateStore  # noqa: E402
from mautrix.types import (  # noqa: E402
    EventType,
    MessageType,
    RoomID,
    TextMessageEventContent,
    UserID,
)

from tests.baileys_peer import BaileysPeer, require_node, text_of  # noqa: E402
from tests.e2e.bridge import run_bridge  # noqa: E402
from tests.e2e.helpers import linked_user  # noqa: E402
from tests.e2e.matrix_client import Event, MatrixTestUser  # noqa: E402
from tests.e2e.synapse import SynapseInfo, run_synapse  # noqa: E402
from tests.simulator_fixture import run_simulator  # noqa: E402

ALICE = "15550301001"
TIMEOUT = 120.0
W2M, M2W = "WhatsApp -> Matrix", "Matrix -> WhatsApp"
QUIET_LOGS = {"logging.root.level": "INFO", "logging.loggers.mau.level": "INFO"}


class MemoryASStateStore(ASStateStore, MemoryStateStore):
    def __init__(self) -> None:
        ASStateStore.__init__(self)
        MemoryStateStore.__init__(self)


def _body(event: Event) -> str | None:
    body = event.get("content", {}).get("body") if event.get("type") == "m.room.message" else None
    return body if isinstance(body, str) else None


async def _seen(user: MatrixTestUser, room: str, body: str) -> None:
    await user.wait_for_event(room, lambda e: _body(e) == body, TIMEOUT)


async def _arrival_rate(
    produce: Coroutine[Any, Any, Any],
    first: Callable[[], Awaitable[Any]],
    last: Callable[[], Awaitable[Any]],
    count: int,
) -> float:
    """Texts per second arriving on the far side while ``produce`` sends ``count``: the
    ``count - 1`` intervals between the first arrival and the last (a rate, so the pipeline's
    fill time, the latency of the first text, is not in it)."""
    producing = asyncio.create_task(produce)
    try:
        await first()
        start = time.perf_counter()
        await last()
        seconds = time.perf_counter() - start
        await producing
    finally:
        producing.cancel()
    return (count - 1) / seconds


async def whatsapp_to_matrix(
    alice: BaileysPeer, user: MatrixTestUser, room: str, chat: str, count: int
) -> float:
    """Alice's texts (one at a time, ``bench_send``) arriving in the user's sync."""
    return await _arrival_rate(
        alice.request("bench_send", jid=chat, count=count, pipelined=False, timeout=TIMEOUT),
        lambda: _seen(user, room, "bench 0"),
        lambda: _seen(user, room, f"bench {count - 1}"),
        count,
    )


async def synapse_ingest(
    api: AppServiceAPI, ghost: UserID, user: MatrixTestUser, room: str, tag: str, count: int
) -> float:
    """An appservice intent's posts (one at a time, as a portal's) arriving in the sync."""
    intent = api.intent(ghost)

    async def post() -> None:
        for index in range(count):
            content = TextMessageEventContent(msgtype=MessageType.TEXT, body=f"{tag} {index}")
            await intent.send_message_event(RoomID(room), EventType.ROOM_MESSAGE, content)

    return await _arrival_rate(
        post(),
        lambda: _seen(user, room, f"{tag} 0"),
        lambda: _seen(user, room, f"{tag} {count - 1}"),
        count,
    )


async def _send_texts(user: MatrixTestUser, room: str, tag: str, count: int) -> None:
    for index in range(count):
        await user.send_text(room, f"{tag} {index}")


async def matrix_to_whatsapp(
    alice: BaileysPeer, user: MatrixTestUser, room: str, tag: str, count: int
) -> float:
    """The user's texts into the portal (one at a time) arriving at Baileys."""

    def arrived(body: str) -> Callable[[], Awaitable[Any]]:
        return lambda: alice.wait_message(lambda e: text_of(e) == body, timeout=TIMEOUT)

    return await _arrival_rate(
        _send_texts(user, room, tag, count),
        arrived(f"{tag} 0"),
        arrived(f"{tag} {count - 1}"),
        count,
    )


async def synapse_sends(user: MatrixTestUser, room: str, tag: str, count: int) -> float:
    """The user's texts into a room without the bridge arriving in their own sync."""
    return await _arrival_rate(
        _send_texts(user, room, tag, count),
        lambda: _seen(user, room, f"{tag} 0"),
        lambda: _seen(user, room, f"{tag} {count - 1}"),
        count,
    )


async def measure(
    synapse: SynapseInfo, simulator: Any, work: Path, count: int, rounds: int
) -> dict[str, tuple[list[float], list[float]]]:
    async def make_user(prefix: str = "user", *, admin: bool = False) -> MatrixTestUser:
        name = f"{prefix}_{secrets.token_hex(4)}"
        return await synapse.register_user(name, secrets.token_hex(12), admin=admin)

    results: dict[str, tuple[list[float], list[float]]] = {W2M: ([], []), M2W: ([], [])}
    async with (
        BaileysPeer.start(
            simulator, push_name="Alice", auth_dir=work / "alice", phone=ALICE
        ) as alice,
        aiohttp.ClientSession() as http,
    ):
        user, _management, scan = await linked_user(
            make_user, synapse, simulator, silent_phone=True
        )
        try:
            chat = f"{scan['phone']}@s.whatsapp.net"
            await alice.send_text(chat, "warm-up")
            room = await user.wait_for_invite(timeout=TIMEOUT)
            await user.join(room)
            await _seen(user, room, "warm-up")
            await user.send_text(room, "warm-up back")
            await alice.wait_message(lambda e: text_of(e) == "warm-up back", timeout=TIMEOUT)
            ghost = next(e["sender"] for e in user.events(room) if _body(e) == "warm-up")
            api = AppServiceAPI(
                synapse.base_url,
                UserID(synapse.bot_mxid),
                token=synapse.as_token,
                state_store=MemoryASStateStore(),
                client_session=http,
                log=logging.getLogger("bench.appservice"),  # type: ignore[arg-type]
            )
            plain_room = await user.create_room()
            for round_ in range(rounds):
                # bench_send numbers its texts from 0 each round; a wait returns each event
                # once, so each round waits for its own last one.
                bridged = await whatsapp_to_matrix(alice, user, room, chat, count)
                raw = await synapse_ingest(api, ghost, user, room, f"raw{round_}", count)
                results[W2M][0].append(bridged)
                results[W2M][1].append(raw)
                bridged = await matrix_to_whatsapp(alice, user, room, f"m2w{round_}", count)
                raw = await synapse_sends(user, plain_room, f"plain{round_}", count)
                results[M2W][0].append(bridged)
                results[M2W][1].append(raw)
        finally:
            await user.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="texts per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per direction")
    args = parser.parse_args()
    require_node()
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as tmp:
        work = Path(tmp)
        overrides: dict[str, Any] = dict(QUIET_LOGS)
        with (
            run_synapse(work / "synapse") as synapse,
            run_simulator(work / "simulator", tls=True) as simulator,
            run_bridge(work / "bridge", synapse, simulator=simulator, overrides=overrides),
        ):
            results = asyncio.run(measure(synapse, simulator, work, args.count, args.rounds))
    print(
        f"bridge throughput, {args.count} texts per measurement, median of {args.rounds} "
        f"(Python {platform.python_version()}); texts/second"
    )
    print(f"{'direction':<20} {'bridge':>8} {'synapse':>8} {'ratio':>6}")
    for direction, (bridged, raw) in results.items():
        ours, theirs = statistics.median(bridged), statistics.median(raw)
        print(f"{direction:<20} {ours:>8.1f} {theirs:>8.1f} {ours / theirs:>6.2f}")


if __name__ == "__main__":
    main()
