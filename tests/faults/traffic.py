"""Two-way traffic under a fault, and the check that nothing was lost, doubled or reordered.

Baileys ("Alice") streams ``wa n`` messages to the bridged user while the Matrix user sends
``mx n`` into the portal room, both at once; a fault runs meanwhile. Afterwards a marker is sent
each way (so everything before it has been handled: one ordered queue per portal), then:

- WhatsApp → Matrix: the room holds every ``wa n`` exactly once, in order (the server's
  ``/messages``, not the client's sync);
- Matrix → WhatsApp: Alice received each ``mx n`` at most once, in order, and every one she did
  not receive is marked failed in the room (a notice replying to it, or a
  ``com.beeper.message_send_status``): a message never vanishes. One Synapse never pushed is
  marked failed by the bridge's sweep some seconds after the recovery; the check waits for it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.matrix_client import Event, MatrixRequestError, MatrixTestUser
from tests.e2e.synapse import AS_ID

WA_MESSAGES = 1000
MX_MESSAGES = 200
TIMEOUT = 240.0
RETRY_PAUSE = 0.5
STATUS_EVENT = "com.beeper.message_send_status"
STRANDED_WAIT = 150.0
FAILED_NOTICE_PARTS = ("was not bridged", "may not have been bridged")


@dataclass
class Progress:
    """What has gone through so far, for a fault that waits for a moment in the stream."""

    wa_sent: int = 0
    mx_sent: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def bump(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait(self, predicate: Callable[[Progress], bool], timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await self.changed.wait()

    async def wait_wa_sent(self, count: int) -> None:
        await self.wait(lambda p: p.wa_sent >= count)


Fault = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    wa_delivered: int
    mx_delivered: int
    mx_failed: int
    seconds: float


@dataclass
class Traffic:
    """One bridged DM: Alice's WhatsApp chat with the user, and its portal room."""

    alice: BaileysPeer
    user: MatrixTestUser
    room: str
    our_chat: str
    """The bridged user's JID, where Alice sends."""
    device_jid: str
    """The bridge's linked device (what the simulator drops)."""
    homeserver_db: Path | None = None
    """Synapse's SQLite database, to tell its own losses (see :func:`stranded_by_homeserver`)."""
    report: Callable[[str], None] = print
    """Where the counts go: the terminal, so CI logs show them even when the test passes."""
    txn_prefix: str = field(default_factory=lambda: f"faults{time.monotonic_ns()}")

    async def send_matrix(self, body: str) -> str:
        """Send with a fixed transaction id, retrying while the homeserver is unreachable or
        failing (as a real client does): the server makes the event once."""
        path = f"/_matrix/client/v3/rooms/{self.room}/send/m.room.message/{self.txn_prefix}-{body}"
        path = path.replace(" ", "_")
        content = {"msgtype": "m.text", "body": body}
        while True:
            try:
                data = await self.user.request("PUT", path, json=content, timeout=10)
                return str(data["event_id"])
            except (aiohttp.ClientError, TimeoutError):
                pass
            except MatrixRequestError as e:
                if e.status < 500:
                    raise
            await asyncio.sleep(RETRY_PAUSE)

    async def run(
        self,
        fault: Fault,
        *,
        wa_count: int = WA_MESSAGES,
        mx_count: int = MX_MESSAGES,
        before_markers: Callable[[], Awaitable[None]] | None = None,
    ) -> Outcome:
        start = time.monotonic()
        progress = Progress()
        mx_ids: dict[str, int] = {}

        async def wa_stream() -> None:
            for n in range(wa_count):
                await self.alice.send_text(self.our_chat, f"wa {n}")
                progress.wa_sent += 1
                progress.bump()

        async def mx_stream() -> None:
            # Interleaved with Alice's stream, not ahead of it: one Matrix message per five.
            for n in range(mx_count):
                await progress.wait_wa_sent(n * wa_count // mx_count)
                mx_ids[await self.send_matrix(f"mx {n}")] = n
                progress.mx_sent += 1
                progress.bump()

        tasks = [
            asyncio.create_task(wa_stream()),
            asyncio.create_task(mx_stream()),
            asyncio.create_task(_run(fault, progress)),
        ]
        try:
            async with asyncio.timeout(TIMEOUT):
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        streamed = time.monotonic() - start
        if before_markers is not None:
            await before_markers()
        await self.alice.send_text(self.our_chat, "wa end")
        await self.send_matrix("mx end")
        await self.alice.wait_message(lambda e: text_of(e) == "mx end", timeout=TIMEOUT)
        await self.user.wait_for_event(self.room, lambda e: _body(e) == "wa end", TIMEOUT)

        room_events = await all_events(self.user, self.room)
        received = [n for e in self.alice.events if (n := _mx_number(e)) is not None]
        failed = _failed_targets(room_events) & mx_ids.keys()
        unaccounted = set(range(mx_count)) - set(received) - {mx_ids[e] for e in failed}
        if unaccounted:
            # Synapse's own losses (its recoverer race, its in-memory queue at shutdown): the
            # bridge's sweep finds them and marks them failed, some seconds after a recovery.
            stranded = stranded_by_homeserver(self.homeserver_db, mx_ids, unaccounted)
            self.report(
                f"faults: Matrix messages {sorted(unaccounted)} neither delivered nor marked "
                f"failed yet ({sorted(stranded)} in a transaction Synapse never sent); "
                "waiting for the bridge's sweep"
            )
            room_events = await self._wait_marked_failed(unaccounted, mx_ids)
            failed = _failed_targets(room_events) & mx_ids.keys()
        wa_bodies = [b for e in room_events if (b := _body(e)) and b.startswith("wa ")]
        expected = [f"wa {n}" for n in range(wa_count)]
        outcome = Outcome(
            wa_delivered=sum(1 for body in wa_bodies if body != "wa end"),
            mx_delivered=len(received),
            mx_failed=len(failed),
            seconds=time.monotonic() - start,
        )
        self.report(
            f"faults: WhatsApp→Matrix {outcome.wa_delivered}/{wa_count} delivered; "
            f"Matrix→WhatsApp {outcome.mx_delivered}/{mx_count} delivered, "
            f"{outcome.mx_failed} marked failed; {outcome.seconds:.1f} s "
            f"({streamed:.1f} s to send both streams)"
        )
        if failed:
            self.report(f"faults: marked failed: {_failure_reasons(room_events, mx_ids, failed)}")
        assert wa_bodies == [*expected, "wa end"], _first_difference(
            wa_bodies, expected, room_events
        )
        assert received == sorted(set(received)), (
            f"Matrix → WhatsApp doubled or reordered: {received}"
        )
        failed_numbers = {mx_ids[event_id] for event_id in failed}
        vanished = set(range(mx_count)) - set(received) - failed_numbers
        assert not vanished, (
            f"Matrix messages neither delivered nor marked failed: {sorted(vanished)}; "
            + _where_they_went(vanished, mx_ids, room_events, self.alice.events)
        )
        return outcome

    async def _wait_marked_failed(self, numbers: set[int], mx_ids: dict[str, int]) -> list[Event]:
        """The room's events once the bridge marked all of ``numbers`` failed, or after
        :data:`STRANDED_WAIT` seconds (its sweeps run 20 s and 90 s after a recovery)."""
        deadline = time.monotonic() + STRANDED_WAIT
        while True:
            events = await all_events(self.user, self.room)
            marked = {mx_ids[e] for e in _failed_targets(events) & mx_ids.keys()}
            if numbers <= marked or time.monotonic() > deadline:
                return events
            await asyncio.sleep(1.0)  # polling the room: the bridge announces nothing else


async def _run(fault: Fault, progress: Progress) -> None:
    await fault(progress)


def stranded_by_homeserver(
    database: Path | None, mx_ids: dict[str, int], vanished: set[int]
) -> set[int]:
    """The vanished messages Synapse holds in an appservice transaction it never sent.

    Synapse's recoverer, resending to an appservice that was down, marks it up once it finds no
    unsent transaction; a transaction created between that last look and the mark (its sender
    saw "down", so it left the sending to the recoverer) stays unsent until the next failure.
    Such an event never reached the bridge: Synapse's own table says so."""
    if database is None or not vanished:
        return set()
    numbers = {event_id: n for event_id, n in mx_ids.items() if n in vanished}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT event_ids FROM application_services_txns WHERE as_id = ?", (AS_ID,)
        ).fetchall()
    unsent = {event_id for (event_ids,) in rows for event_id in json.loads(event_ids)}
    return {n for event_id, n in numbers.items() if event_id in unsent}


def _where_they_went(
    vanished: set[int], mx_ids: dict[str, int], room_events: list[Event], alice: list[Event]
) -> str:
    """What the room and Alice saw of the vanished messages: a bridge that reported success
    sent them (the loss is past the bridge), one that reported nothing never finished."""
    numbers = {event_id: n for event_id, n in mx_ids.items() if n in vanished}
    statuses: dict[int, list[str]] = {n: [] for n in vanished}
    for event in room_events:
        if event.get("type") != STATUS_EVENT:
            continue
        content = event.get("content", {})
        target = content.get("m.relates_to", {}).get("event_id", "")
        if target in numbers:
            statuses[numbers[target]].append(str(content.get("status")))
    undecryptable = [e.get("key", {}).get("id") for e in alice if e.get("messageStubType")]
    return (
        f"bridge statuses {statuses}, event ids { {n: e for e, n in numbers.items()} }; "
        f"Alice's undecryptable messages: {undecryptable}"
    )


def _failure_reasons(events: list[Event], mx_ids: dict[str, int], failed: set[str]) -> str:
    """Each failed message's number with the bridge's notice for it."""
    notices = {
        (e["content"].get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id"): _body(e)
        for e in events
        if e.get("content", {}).get("msgtype") == "m.notice"
    }
    return "; ".join(
        f"mx {mx_ids[event_id]}: {notices.get(event_id) or 'a failure status'}"
        for event_id in sorted(failed, key=mx_ids.__getitem__)
    )


def _body(event: Event) -> str | None:
    if event.get("type") != "m.room.message":
        return None
    body = event.get("content", {}).get("body")
    return body if isinstance(body, str) else None


def _mx_number(event: Event) -> int | None:
    if event.get("event") != "messages.upsert" or event["key"].get("fromMe"):
        return None
    prefix, _, number = (text_of(event) or "").partition(" ")
    return int(number) if prefix == "mx" and number.isdigit() else None


def _failed_targets(events: list[Event]) -> set[str]:
    """Event ids the bridge marked failed: a notice replying to it, or a failure status."""
    targets: set[str] = set()
    for event in events:
        content = event.get("content", {})
        if event.get("type") == STATUS_EVENT and content.get("status") != "SUCCESS":
            targets.add(content.get("m.relates_to", {}).get("event_id", ""))
        body = _body(event) or ""
        if content.get("msgtype") == "m.notice" and any(p in body for p in FAILED_NOTICE_PARTS):
            reply = content.get("m.relates_to", {}).get("m.in_reply_to", {})
            targets.add(reply.get("event_id", ""))
    return targets


def _first_difference(got: list[str], expected: list[str], events: list[Event]) -> str:
    for index, (a, b) in enumerate(zip(got, expected, strict=False)):
        if a != b:
            near = [
                (e.get("type"), e.get("sender"), (e.get("content") or {}).get("body"))
                for e in events
                if not (_body(e) or "").startswith(("wa ", "mx "))
            ][-30:]
            return (
                f"WhatsApp → Matrix differs at {index}: got {got[index : index + 5]}, expected "
                f"{b}; {sum(1 for g in got if g == b)} copies of it; events near: {near}"
            )
    return f"WhatsApp → Matrix: {len(got)} messages, expected {len(expected)}"


async def all_events(user: MatrixTestUser, room: str) -> list[Event]:
    """Every event of the room, oldest first, from the server's ``/messages``."""
    events: list[Event] = []
    params: dict[str, Any] = {"dir": "f", "limit": "1000"}
    path = f"/_matrix/client/v3/rooms/{room}/messages"
    while True:
        page = await user.request("GET", path, params=params)
        events.extend(page.get("chunk", []))
        end = page.get("end")
        if not end or not page.get("chunk"):
            return events
        params["from"] = end


async def wait_connected(bridge: BridgeProcess, user_id: str, timeout: float = TIMEOUT) -> None:
    """Until the bridge reports the user's WhatsApp connection as up."""
    deadline = time.monotonic() + timeout
    while True:
        states = await bridge.bridge_states(user_id)
        remote = states.get("remoteState") or {}
        if any(s.get("state_event") == "CONNECTED" for s in remote.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"never reconnected: {states}")
        await asyncio.sleep(0.2)
