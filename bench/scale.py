"""Scale: what one bridge process costs with N linked users, and how it grows with N.

    .venv/bin/python bench/scale.py [--users 10 100 1000] [--db sqlite postgres]

For each database and each N, a fresh world: a real Synapse (one for the whole run), the
simulator (TLS) and the bridge as a process (logging at INFO, metrics on). Then:

1. *Link*: N users log in through the provisioning API with a pairing code, each typed on its
   own simulated phone (silent phones: no history syncs), several at a time.
2. *Seed*: the bridge stops and each user's 50 chats are written into its database (a ghost,
   a DM portal and 10 message rows per chat; see ``bench/scale_seed.py`` for why and how).
3. *Start-up*: the bridge starts again; the time from the process start until its
   ``whatsapp_connected_users`` gauge (metrics endpoint) says N.
4. *Idle*: RSS (``VmRSS`` from ``/proc``) and CPU (user + system time from ``/proc``, as % of
   one core) over ``--idle-seconds`` with nothing happening.
5. *Latency*: a few of the users are real Synapse accounts with one DM portal each (made by a
   first message, joined); contacts send texts to them at a steady ``--rate``, each to a random
   one of them, and each text's latency is from the simulator's send request until the text is
   in that user's sync. p50 and p99 over ``--load-messages`` texts.

The table shows each figure per N, so its growth reads down a column.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scale_seed import SeedSize, seed_bridge_db  # noqa: E402  (beside this script)

from tests.e2e.bridge import BridgeProcess, run_bridge  # noqa: E402
from tests.e2e.helpers import sim_admin  # noqa: E402
from tests.e2e.matrix_client import Event, MatrixTestUser  # noqa: E402
from tests.e2e.provisioning import call, shared_secret, wait_step  # noqa: E402
from tests.e2e.synapse import SynapseInfo, run_synapse  # noqa: E402
from tests.postgres import pg_url, throwaway_database  # noqa: E402
from tests.processes import free_port  # noqa: E402
from tests.simulator_fixture import SimulatorInfo, run_simulator  # noqa: E402

TIMEOUT = 180.0
LINK_CONCURRENCY = 6
QUIET_LOGS = {"logging.root.level": "INFO", "logging.loggers.mau.level": "INFO"}
CONNECTED_GAUGE = re.compile(r"^whatsapp_connected_users (\S+)$", re.M)
HEADER = (
    f"{'db':<9}{'users':>6}{'RSS MiB':>9}{'KiB/user':>9}{'idle CPU %':>11}"
    f"{'start-up s':>11}{'p50 ms':>8}{'p99 ms':>8}{'load':>6}"
)


@dataclass(frozen=True)
class Settings:
    seed: SeedSize
    idle_seconds: float
    load_messages: int
    rate: float
    latency_users: int
    pool_size: int | None


@dataclass(frozen=True)
class Result:
    database: str
    users: int
    rss_bytes: int
    idle_cpu_percent: float
    startup_seconds: float
    p50_ms: float
    p99_ms: float
    load_average: float
    """The machine's 1-minute load average as the run ended (the machine may be shared)."""

    def line(self, smallest: Result) -> str:
        """KiB/user: the RSS growth over the smallest N, per added user."""
        added = self.users - smallest.users
        per_user = (
            f"{(self.rss_bytes - smallest.rss_bytes) / 1024 / added:>9.0f}"
            if added > 0
            else f"{'-':>9}"
        )
        return (
            f"{self.database:<9}{self.users:>6}{self.rss_bytes / 2**20:>9.1f}{per_user}"
            f"{self.idle_cpu_percent:>11.2f}{self.startup_seconds:>11.1f}"
            f"{self.p50_ms:>8.0f}{self.p99_ms:>8.0f}{self.load_average:>6.1f}"
        )


# ---- the process, from /proc --------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system time; the fields after the command (which may hold spaces)."""
    after_comm = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(after_comm[11]), int(after_comm[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def bridge_pid(bridge: BridgeProcess) -> int:
    assert bridge.process is not None
    return bridge.process.pid


async def connected_users(metrics_url: str, http: aiohttp.ClientSession) -> int:
    async with http.get(metrics_url) as resp:
        found = CONNECTED_GAUGE.search(await resp.text())
    return int(float(found.group(1))) if found else 0


async def wait_connected(metrics_url: str, count: int, timeout: float) -> None:
    """Until the bridge's gauge says ``count`` users are connected (polled, 50 ms apart)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while (seen := await connected_users(metrics_url, http)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{seen} of {count} users connected after {timeout} s")
            await asyncio.sleep(0.05)


# ---- linking -----------------------------------------------------------------------------


async def link_user(
    bridge: BridgeProcess, simulator: SimulatorInfo, secret: str, user_id: str, phone: str
) -> str:
    """A pairing-code login through the provisioning API, typed on ``phone``; its JID."""
    await sim_admin(simulator, "POST", "/accounts", json={"phone": phone})
    await sim_admin(simulator, "POST", f"/accounts/{phone}/history-silent", json={"silent": True})
    start = await call(bridge, "POST", "/login/start/phone", token=secret, user_id=user_id)
    assert start.status == 200, start
    step = start.body
    path = f"/login/step/{step['login_id']}/{step['step_id']}/user_input"
    answer = await call(
        bridge, "POST", path, token=secret, user_id=user_id, json={"phone_number": f"+{phone}"}
    )
    assert answer.status == 200, answer
    step = answer.body
    waiting = asyncio.create_task(wait_step(bridge, step, token=secret, user_id=user_id))
    code = step["display_and_wait"]["data"]
    entered = await sim_admin(
        simulator, "POST", "/mock-phone/enter-code", json={"phone": phone, "code": code}
    )
    assert entered["linked"] is True, entered
    done = await waiting
    assert done.status == 200 and done.body["type"] == "complete", done
    return str(entered["jid"]).split(":")[0].split("@")[0] + "@s.whatsapp.net"


async def link_all(
    bridge: BridgeProcess, simulator: SimulatorInfo, users: list[tuple[str, str]]
) -> list[str]:
    secret = shared_secret(bridge)
    gate = asyncio.Semaphore(LINK_CONCURRENCY)

    async def one(user_id: str, phone: str) -> str:
        async with gate:
            return await link_user(bridge, simulator, secret, user_id, phone)

    return list(await asyncio.gather(*(one(u, p) for u, p in users)))


# ---- latency -----------------------------------------------------------------------------


def is_text(body: str) -> Any:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return event.get("type") == "m.room.message" and content.get("body") == body

    return match


@dataclass(frozen=True)
class LivePortal:
    user: MatrixTestUser
    user_phone: str
    contact: str
    room: str


async def open_portal(
    simulator: SimulatorInfo, user: MatrixTestUser, user_phone: str, contact: str
) -> LivePortal:
    """The contact's first text makes the DM portal; the user joins it."""
    await sim_admin(simulator, "POST", "/accounts", json={"phone": contact})
    await sim_admin(
        simulator, "POST", f"/accounts/{contact}/send", json={"to": user_phone, "text": "hello"}
    )
    room = await user.wait_for_invite(timeout=TIMEOUT)
    await user.join(room)
    await user.wait_for_event(room, is_text("hello"), TIMEOUT)
    return LivePortal(user, user_phone, contact, room)


async def steady_load(
    simulator: SimulatorInfo, portals: list[LivePortal], count: int, rate: float
) -> list[float]:
    """``count`` texts, one every ``1/rate`` s to a random portal; each one's latency (s)."""
    chooser = random.Random(1)

    async def one(index: int) -> float:
        portal = chooser.choice(portals)
        body = f"load {index} {secrets.token_hex(3)}"
        started = time.perf_counter()
        await sim_admin(
            simulator,
            "POST",
            f"/accounts/{portal.contact}/send",
            json={"to": portal.user_phone, "text": body},
        )
        await portal.user.wait_for_event(portal.room, is_text(body), TIMEOUT)
        return time.perf_counter() - started

    tasks = []
    for index in range(count):
        tasks.append(asyncio.create_task(one(index)))
        await asyncio.sleep(1 / rate)  # the load's pace, not a wait for a result
    return list(await asyncio.gather(*tasks))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ---- one run -----------------------------------------------------------------------------


@contextlib.contextmanager
def bridge_database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "postgres":
        with throwaway_database("bench_scale") as name:
            yield pg_url(name)
    else:
        yield f"sqlite:{directory / 'bridge.db'}"


async def prepare_users(
    synapse: SynapseInfo, run_tag: str, count: int, real: int
) -> tuple[list[tuple[str, str]], list[MatrixTestUser]]:
    """(Matrix ID, phone) for N users; the first ``real`` are Synapse accounts (for latency),
    the others exist only in the bridge, as a provisioning API caller may make them."""
    users, clients = [], []
    for index in range(count):
        phone = f"1555{run_tag}{index:05d}"
        if index < real:
            client = await synapse.register_user(
                f"scale{run_tag}_{index}_{secrets.token_hex(3)}", secrets.token_hex(12)
            )
            clients.append(client)
            users.append((client.user_id, phone))
        else:
            users.append((f"@scale{run_tag}_{index}:{synapse.server_name}", phone))
    return users, clients


async def measure_world(
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    bridge: BridgeProcess,
    database_url: str,
    metrics_url: str,
    run_tag: str,
    count: int,
    settings: Settings,
) -> tuple[float, int, float, list[float]]:
    real = min(count, settings.latency_users)
    users, clients = await prepare_users(synapse, run_tag, count, real)
    try:
        jids = await link_all(bridge, simulator, users)
        await wait_connected(metrics_url, count, TIMEOUT)
        portals = [
            await open_portal(simulator, clients[i], users[i][1], f"1556{run_tag}{i:05d}")
            for i in range(real)
        ]
        bridge.stop()
        now_ms = int(time.time() * 1000)
        await seed_bridge_db(database_url, jids, synapse.server_name, settings.seed, now_ms)

        started = time.perf_counter()
        bridge.start()
        await wait_connected(metrics_url, count, TIMEOUT * 4)
        startup = time.perf_counter() - started

        pid = bridge_pid(bridge)
        cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(settings.idle_seconds)  # the idle window being measured
        idle_cpu = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - wall_before)
        rss = rss_bytes(pid)

        latencies = await steady_load(simulator, portals, settings.load_messages, settings.rate)
        return startup, rss, idle_cpu * 100, latencies
    finally:
        for client in clients:
            await client.close()


def run_one(
    synapse: SynapseInfo, work: Path, kind: str, count: int, settings: Settings, run_no: int
) -> Result:
    directory = work / f"{kind}-{count}"
    metrics_port = free_port()
    overrides: dict[str, Any] = {
        **QUIET_LOGS,
        "metrics.enabled": True,
        "metrics.listen": f"127.0.0.1:{metrics_port}",
    }
    if settings.pool_size is not None:
        overrides["appservice.database_opts.max_size"] = settings.pool_size
    with (
        contextlib.redirect_stdout(sys.stderr),  # the processes' logs, printed on exit
        bridge_database(kind, directory) as database_url,
        run_simulator(directory / "simulator", tls=True, log_level="INFO") as simulator,
        run_bridge(
            directory / "bridge",
            synapse,
            simulator=simulator,
            database=database_url,
            overrides=overrides,
        ) as bridge,
    ):
        startup, rss, cpu, latencies = asyncio.run(
            measure_world(
                synapse,
                simulator,
                bridge,
                database_url,
                f"http://127.0.0.1:{metrics_port}/metrics",
                f"{run_no:02d}",
                count,
                settings,
            )
        )
    return Result(
        kind,
        count,
        rss,
        cpu,
        startup,
        statistics.median(latencies) * 1000,
        percentile(latencies, 0.99) * 1000,
        os.getloadavg()[0],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite"])
    parser.add_argument("--portals", type=int, default=50, help="seeded chats per user")
    parser.add_argument("--messages", type=int, default=10, help="seeded messages per chat")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--load-messages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="texts per second under load")
    parser.add_argument("--latency-users", type=int, default=4)
    parser.add_argument("--pool-size", type=int, help="database_opts.max_size (default: config's)")
    args = parser.parse_args()
    settings = Settings(
        SeedSize(args.portals, args.messages),
        args.idle_seconds,
        args.load_messages,
        args.rate,
        args.latency_users,
        args.pool_size,
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bridge-scale-") as tmp:
        work = Path(tmp)
        with run_synapse(work / "synapse") as synapse:
            run_no = 0
            for kind in args.db:
                for count in args.users:
                    run_no += 1
                    started = time.perf_counter()
                    results.append(run_one(synapse, work, kind, count, settings, run_no))
                    took = time.perf_counter() - started
                    print(f"# {kind} N={count}: run took {took:.0f} s", file=sys.stderr)
    print(
        f"bridge scale: {args.portals} chats x {args.messages} messages seeded per user, "
        f"idle {args.idle_seconds:g} s, {args.load_messages} texts at {args.rate:g}/s "
        f"(Python {platform.python_version()}, {os.cpu_count()} cores)"
    )
    print(HEADER)
    for kind in args.db:
        rows = [r for r in results if r.database == kind]
        smallest = min(rows, key=lambda r: r.users)
        for row in rows:
            print(row.line(smallest))


if __name__ == "__main__":
    main()
