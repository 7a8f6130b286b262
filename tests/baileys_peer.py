"""Drive a real Baileys 7.0.0-rc14 client (``tests/js/baileys_peer.mjs``) from an async test.

One node process per peer, kept running for as many commands as a test (or a module) needs::

    async with BaileysPeer.start(simulator, push_name="Alice", auth_dir=tmp / "alice") as alice:
        key = await alice.send_text(bob.jid, "hi")
        event = await bob.wait_message(lambda m: text_of(m) == "hi")

Every event the peer prints is buffered from the start, so nothing is lost between a send and a
wait; :meth:`BaileysPeer.wait_for` takes the first *unconsumed* buffered event that matches (in
arrival order) and marks it consumed, so a test can wait for several things in any order. A test
without node fails loudly (``pytest.fail``), never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

import pytest

from tests.simulator_fixture import SimulatorInfo, admin

JS_DIR = Path(__file__).parent / "js"
SCRIPT = "baileys_peer.mjs"
COMMAND_TIMEOUT = 15.0
OPEN_TIMEOUT = 40.0
WAIT_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
STDERR_TAIL = 4000

Event = dict[str, Any]
Key = dict[str, Any]
Predicate = Callable[[Event], bool]


class BaileysPeerError(RuntimeError):
    """The peer answered a command with an error (Baileys threw, or the command was bad)."""


class BaileysPeerDied(RuntimeError):
    """The node process ended while a command or a wait still needed it."""


def require_node(harness_dir: Path = JS_DIR) -> None:
    """Fail the test (never skip) when node or the npm packages are missing."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the Baileys tests need it (see README)")
    if not (harness_dir / "node_modules" / "@whiskeysockets" / "baileys").is_dir():
        pytest.fail("tests/js/node_modules is missing: run scripts/setup-dev.sh")


def text_of(event: Event) -> str | None:
    """The text of a ``messages.upsert`` event (plain or extended text), else ``None``."""
    message = event.get("message") or {}
    if "conversation" in message:
        return str(message["conversation"])
    extended = message.get("extendedTextMessage") or {}
    return str(extended["text"]) if "text" in extended else None


def user_of(jid: str) -> str:
    """``15550000001:3@s.whatsapp.net`` → ``15550000001``."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def reached_status(event: Event, message_ids: Collection[str], status: int) -> bool:
    """Whether ``event`` says one of our messages ``message_ids`` reached ``status`` or beyond
    (see :meth:`BaileysPeer.wait_status`)."""
    if event["event"] == "messages.update":
        value = event["update"].get("status")
    elif event["event"] == "messages.upsert" and event["key"].get("fromMe"):
        value = event.get("status")
    else:
        return False
    return event["key"]["id"] in message_ids and value is not None and value >= status


class BaileysPeer:
    """One Baileys client in a node process, its replies matched by id, its events buffered."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.events: list[Event] = []
        self.me: dict[str, Any] = {}
        self._consumed: set[int] = set()
        self._changed = asyncio.Condition()
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._stderr = bytearray()
        self._reader = asyncio.create_task(self._read_stdout())
        self._stderr_reader = asyncio.create_task(self._read_stderr())

    # ---- life ------------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        info: SimulatorInfo,
        *,
        push_name: str,
        auth_dir: Path,
        phone: str | None = None,
        harness_dir: Path = JS_DIR,
        reconnect: bool = False,
        memory_keys: bool = False,
    ) -> AsyncIterator[BaileysPeer]:
        """Run a peer, link it (by QR, first use of ``auth_dir``) or log in, and close it at exit.

        With ``phone``, the simulator's account of that number is created (with ``push_name``)
        and made the one that scans, so each peer can be its own account. ``memory_keys`` keeps
        the Signal keys in memory (as JSON, for the benchmark), credentials still in
        ``auth_dir``; for a fresh ``auth_dir`` only, as the keys end with the process."""
        require_node(harness_dir)
        if phone is not None:
            body = json.dumps({"phone": phone, "push_name": push_name, "default": True})
            status, account = await admin(info, "POST", "/accounts", body)
            assert status == 200, account
        env = {**os.environ, "NODE_NO_WARNINGS": "1"}
        if info.ca_file is not None:
            env["NODE_EXTRA_CA_CERTS"] = str(info.ca_file)
        process = await asyncio.create_subprocess_exec(
            "node",
            SCRIPT,
            "--url",
            info.websocket_url,
            "--root-key",
            info.root_public_key.hex(),
            cwd=harness_dir,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        peer = cls(process, push_name)
        try:
            await peer._open(info, auth_dir, push_name, reconnect, memory_keys)
            yield peer
        finally:
            await peer.stop()

    async def _open(
        self,
        info: SimulatorInfo,
        auth_dir: Path,
        push_name: str,
        again: bool,
        memory_keys: bool = False,
    ) -> None:
        """Send ``open`` and scan every QR the peer shows until it answers."""
        auth_dir.mkdir(parents=True, exist_ok=True)
        opening = asyncio.create_task(
            self.request(
                "open",
                timeout=OPEN_TIMEOUT,
                auth_dir=str(auth_dir),
                push_name=push_name,
                reconnect=again,
                memory_keys=memory_keys,
            )
        )
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                while not opening.done():
                    qr = asyncio.create_task(self.wait_for(lambda e: e["event"] == "qr", None))
                    await asyncio.wait({opening, qr}, return_when=asyncio.FIRST_COMPLETED)
                    if qr.done():
                        status, body = await admin(
                            info, "POST", "/mock-phone/scan-qr", str(qr.result()["qr"])
                        )
                        assert status == 200 and body.get("linked"), (status, body)
                    else:
                        qr.cancel()
                self.me = dict(opening.result())
        finally:
            opening.cancel()

    async def stop(self) -> None:
        """``close`` the peer (its socket ends, credentials stay) and wait for node to exit."""
        if self.process.returncode is None:
            with contextlib.suppress(BaileysPeerError, BaileysPeerDied, TimeoutError):
                await self.request("close", timeout=STOP_TIMEOUT)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._stderr_reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._stderr_reader

    @property
    def stderr(self) -> str:
        return self._stderr[-STDERR_TAIL:].decode("utf-8", "replace")

    def _died(self) -> BaileysPeerDied:
        return BaileysPeerDied(
            f"Baileys peer {self.name} exited ({self.process.returncode}):\n{self.stderr}"
        )

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(4096):
            self._stderr += chunk

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        try:
            while line := await self.process.stdout.readline():
                try:
                    item = json.loads(line)
                except ValueError:
                    # Not ours (the peer sends stray logs to stderr): keep it, never stop reading.
                    item = {"event": "stdout", "line": line.decode("utf-8", "replace")}
                if "event" in item:
                    async with self._changed:
                        self.events.append(item)
                        self._changed.notify_all()
                    continue
                reply = self._replies.pop(item.get("id"), None)
                if reply is None or reply.done():
                    continue
                if "error" in item:
                    reply.set_exception(BaileysPeerError(f"{self.name}: {item['error']}"))
                else:
                    reply.set_result(item.get("result"))
        finally:
            await self.process.wait()
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_exception(self._died())
            async with self._changed:
                self._changed.notify_all()

    # ---- the two primitives ----------------------------------------------------------------

    async def request(self, cmd: str, *, timeout: float = COMMAND_TIMEOUT, **args: Any) -> Any:
        """Send one command; its result, or :class:`BaileysPeerError` with the peer's error."""
        if self.process.returncode is not None or self._reader.done():
            raise self._died()
        assert self.process.stdin is not None
        self._next_id += 1
        request_id = self._next_id
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = reply
        line = json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n"
        try:
            self.process.stdin.write(line.encode())
            await self.process.stdin.drain()
            return await asyncio.wait_for(reply, timeout)
        except (BrokenPipeError, ConnectionResetError):
            raise self._died() from None
        finally:
            self._replies.pop(request_id, None)

    async def send_raw_line(self, line: str) -> None:
        """Write ``line`` to the peer as is (for tests of its robustness)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def wait_for(self, predicate: Predicate, timeout: float | None = WAIT_TIMEOUT) -> Event:
        """The first unconsumed event (oldest first) matching ``predicate``, now consumed.

        Waits up to ``timeout`` seconds for it (``None``: no limit); ``TimeoutError`` lists what
        did arrive, :class:`BaileysPeerDied` if node exits first."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    for index, event in enumerate(self.events):
                        if index not in self._consumed and predicate(event):
                            self._consumed.add(index)
                            return event
                    if self._reader.done():
                        raise self._died()
                    await self._changed.wait()
        except TimeoutError:
            recent = [e for i, e in enumerate(self.events) if i not in self._consumed][-10:]
            raise TimeoutError(
                f"{self.name}: no matching event within {timeout}s; unconsumed: {recent}"
            ) from None

    async def wait_message(
        self,
        match: Predicate = lambda _: True,
        *,
        from_me: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Event:
        """The next ``messages.upsert`` (received; our own with ``from_me``) that ``match``es."""
        return await self.wait_for(
            lambda e: (
                e["event"] == "messages.upsert"
                and bool(e["key"].get("fromMe")) == from_me
                and match(e)
            ),
            timeout,
        )

    async def wait_edit(self, message_id: str, timeout: float = WAIT_TIMEOUT) -> Event:
        """Baileys' ``messages.update`` for an edit of ``message_id``; its new content (a
        ``Message``'s JSON) is ``event["update"]["message"]["editedMessage"]["message"]``."""
        return await self.wait_for(
            lambda e: (
                e["event"] == "messages.update"
                and e["key"]["id"] == message_id
                and "editedMessage" in (e["update"].get("message") or {})
            ),
            timeout,
        )

    async def wait_revoke(self, message_id: str, timeout: float = WAIT_TIMEOUT) -> Event:
        """Baileys' ``messages.update`` for a revoke of ``message_id`` (content ``None``,
        ``messageStubType`` 1 = REVOKE)."""
        return await self.wait_for(
            lambda e: (
                e["event"] == "messages.update"
                and e["key"]["id"] == message_id
                and "messageStubType" in e["update"]
            ),
            timeout,
        )

    async def wait_reaction(self, message_id: str, timeout: float = WAIT_TIMEOUT) -> Event:
        """Baileys' ``messages.reaction`` for a reaction to ``message_id``
        (``event["reaction"]["text"]``, empty when one was removed)."""
        return await self.wait_for(
            lambda e: e["event"] == "messages.reaction" and e["key"]["id"] == message_id, timeout
        )

    async def wait_status(
        self, message_id: str, status: int, timeout: float = WAIT_TIMEOUT
    ) -> Event:
        """Our message ``message_id`` reached ``status`` (3 delivered, 4 read, 5 played) or beyond.

        Baileys reports it as a ``messages.update``, or, when the receipt arrives while its own
        ``messages.upsert`` of the sent message is still buffered, as that upsert's ``status``."""

        return await self.wait_for(lambda e: reached_status(e, {message_id}, status), timeout)

    def unconsumed(self, predicate: Predicate = lambda _: True) -> list[Event]:
        """Buffered events not yet consumed that match (without consuming them)."""
        return [e for i, e in enumerate(self.events) if i not in self._consumed and predicate(e)]

    # ---- who we are ------------------------------------------------------------------------

    @property
    def jid(self) -> str:
        """Our phone-number JID without device: ``PHONE@s.whatsapp.net``."""
        return f"{user_of(self.me['id'])}@s.whatsapp.net"

    @property
    def lid(self) -> str | None:
        lid = self.me.get("lid")
        return f"{user_of(lid)}@lid" if lid else None

    def is_me(self, jid: str | None) -> bool:
        """Whether ``jid`` (phone number or LID, any device) is this peer's account."""
        return jid is not None and user_of(jid) in {user_of(self.jid), user_of(self.lid or "")}

    # ---- messages --------------------------------------------------------------------------

    async def send(self, jid: str, content: dict[str, Any], quoted: Key | None = None) -> Event:
        """``sock.sendMessage(jid, content, {quoted})``: ``{key, messageTimestamp, message}``.

        ``quoted`` is a key of a message the peer saw or sent (or ``{key, message}``)."""
        args: dict[str, Any] = {"jid": jid, "content": content}
        if quoted is not None:
            args["quoted"] = quoted
        result: Event = await self.request("send", **args)
        return result

    async def send_text(
        self, jid: str, text: str, *, mentions: list[str] | None = None, quoted: Key | None = None
    ) -> Key:
        content: dict[str, Any] = {"text": text}
        if mentions:
            content["mentions"] = mentions
        return (await self.send(jid, content, quoted))["key"]  # type: ignore[no-any-return]

    async def react(self, jid: str, key: Key, emoji: str) -> Key:
        """React to ``key``; an empty ``emoji`` removes our reaction."""
        return (await self.send(jid, {"react": {"text": emoji, "key": key}}))["key"]  # type: ignore[no-any-return]

    async def edit(self, jid: str, key: Key, text: str) -> Key:
        return (await self.send(jid, {"text": text, "edit": key}))["key"]  # type: ignore[no-any-return]

    async def revoke(self, jid: str, key: Key) -> Key:
        return (await self.send(jid, {"delete": key}))["key"]  # type: ignore[no-any-return]

    async def send_poll(
        self, jid: str, name: str, options: list[str], *, selectable: int = 1
    ) -> Key:
        content = {"poll": {"name": name, "values": options, "selectableCount": selectable}}
        return (await self.send(jid, content))["key"]  # type: ignore[no-any-return]

    async def vote(self, poll_key: Key, options: list[str]) -> Event:
        """Vote on a poll this peer saw (``[]`` retracts): ``{key, creator, voter, aggregate}``."""
        result: Event = await self.request("vote", poll_key=poll_key, options=options)
        return result

    async def poll_votes(self, poll_key: Key) -> list[dict[str, Any]]:
        """``getAggregateVotesInPollMessage`` of a stored poll: ``[{name, voters}]``."""
        result: list[dict[str, Any]] = await self.request("poll_votes", poll_key=poll_key)
        return result

    async def send_location(
        self, jid: str, latitude: float, longitude: float, name: str | None = None
    ) -> Key:
        location: dict[str, Any] = {"degreesLatitude": latitude, "degreesLongitude": longitude}
        if name is not None:
            location["name"] = name
        return (await self.send(jid, {"location": location}))["key"]  # type: ignore[no-any-return]

    async def send_contact(self, jid: str, display_name: str, vcard: str) -> Key:
        contact = {"displayName": display_name, "vcard": vcard}
        content = {"contacts": {"displayName": display_name, "contacts": [contact]}}
        return (await self.send(jid, content))["key"]  # type: ignore[no-any-return]

    async def forward(self, jid: str, key: Key) -> Key:
        """Forward a message this peer saw or sent."""
        return (await self.send(jid, {"forward": key}))["key"]  # type: ignore[no-any-return]

    async def read(self, keys: list[Key]) -> None:
        """Baileys' ``readMessages``, as an app marks messages read (it asks the server for the
        privacy settings first, to choose ``read`` or ``read-self``)."""
        await self.request("read", keys=keys)

    async def send_receipts(self, keys: list[Key], kind: str = "read") -> None:
        """Baileys' ``sendReceipts``: a receipt of ``kind`` (read, read-self, played…) for
        ``keys``, without the privacy lookup of :meth:`read`."""
        await self.request("receipts", keys=keys, type=kind)

    async def presence(self, kind: str, jid: str | None = None) -> None:
        """``available``/``unavailable`` (to everyone) or ``composing``/``recording``/``paused``
        (a chat state to ``jid``)."""
        await self.request("presence", type=kind, jid=jid)

    async def subscribe_presence(self, jid: str) -> None:
        await self.request("subscribe_presence", jid=jid)

    async def on_whatsapp(self, *jids: str) -> list[dict[str, Any]]:
        """Baileys' ``onWhatsApp`` (a usync contact query): ``[{jid, exists}]``."""
        result: list[dict[str, Any]] = await self.request("on_whatsapp", jids=list(jids))
        return result

    async def drop_sessions(self, *users: str) -> list[str]:
        """Forget this peer's Signal sessions with every device of ``users`` (phone numbers or
        LID users): its next message from them fails to decrypt. The dropped session ids."""
        result: list[str] = await self.request("drop_sessions", users=list(users))
        return result

    async def drop_sender_keys(self, group: str, *users: str) -> list[str]:
        """Forget the sender keys of ``group`` that ``users``' devices (phone numbers or LID
        users) distributed to this peer: their next group message fails to decrypt."""
        result: list[str] = await self.request("drop_sender_keys", group=group, users=list(users))
        return result

    # ---- groups ----------------------------------------------------------------------------

    async def group_create(self, subject: str, participants: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "group_create", subject=subject, participants=participants
        )
        return result

    async def group_metadata(self, jid: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("group_metadata", jid=jid)
        return result

    async def group_fetch_all(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = await self.request("group_fetch_all")
        return result

    async def group_participants_update(
        self, jid: str, participants: list[str], action: str
    ) -> list[dict[str, Any]]:
        """``action``: add, remove, promote or demote; ``[{status, jid, ...}]`` per participant."""
        result: list[dict[str, Any]] = await self.request(
            "group_participants_update", jid=jid, participants=participants, action=action
        )
        return result

    async def group_update_subject(self, jid: str, subject: str) -> None:
        await self.request("group_update_subject", jid=jid, subject=subject)

    async def group_update_description(self, jid: str, description: str | None) -> None:
        await self.request("group_update_description", jid=jid, description=description)

    async def group_leave(self, jid: str) -> None:
        await self.request("group_leave", jid=jid)

    async def group_invite_code(self, jid: str) -> str:
        return str(await self.request("group_invite_code", jid=jid))

    async def group_accept_invite(self, code: str) -> str | None:
        result = await self.request("group_accept_invite", code=code)
        return None if result is None else str(result)
