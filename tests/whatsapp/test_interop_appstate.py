"""App state end to end: our client linked to the simulator's phone (which builds its
collections from the phone's memory and serves snapshots as ``md-app-state`` media), and a
Baileys device of the same account.

- At login the phone shares its keys; our client syncs every collection from snapshots and
  reports contacts, push name, pins, mutes, archives and unread marks as typed events.
- A change on the phone arrives as ``server_sync`` and is fetched as a patch.
- Our own patches (pin, mute, archive, mark unread) reach the phone's memory and Baileys.
- Baileys' ``chatModify`` reaches our client.
- A corrupted patch MAC makes our client resync the collection from a snapshot and end in the
  phone's state.
- With the key share withheld, our client asks for the keys when it first needs them and syncs
  once they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp.appstate import (
    build_archive,
    build_mark_chat_as_read,
    build_mute,
    build_pin,
)
from mautrix_whatsapp.whatsapp.appstate import events as ev
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from tests.baileys_fixtures import simulator_status
from tests.baileys_peer import BaileysPeer, Event
from tests.simulator_fixture import SimulatorInfo, run_simulator
from tests.whatsapp.test_client_helpers import admin, link_by_qr, make_client

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

PHONE = "15550003001"
FRIEND = JID.parse("15550003002@s.whatsapp.net")
PINNED = JID.parse("15550003003@s.whatsapp.net")
MUTED = JID.parse("15550003004@s.whatsapp.net")
ARCHIVED = JID.parse("15550003005@s.whatsapp.net")
UNREAD = JID.parse("15550003006@s.whatsapp.net")
OURS = JID.parse("15550003010@s.whatsapp.net")
WAIT = 30.0
COLLECTIONS = {"critical_block", "critical_unblock_low", "regular_low", "regular_high", "regular"}

E = TypeVar("E")


class Watch:
    """Our client's events, with waits on a condition over them."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event: object) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait(
        self, kind: type[E], check: Callable[[E], bool] = lambda _e: True, after: int = 0
    ) -> E:
        """The first event of ``kind`` at or after position ``after`` that passes ``check``."""

        def found() -> E | None:
            for event in self.events[after:]:
                if isinstance(event, kind) and check(event):
                    return event
            return None

        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result

    def mark(self) -> int:
        return len(self.events)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    # TLS: snapshots are media blobs, downloaded over https as from WhatsApp's media hosts.
    with run_simulator(tmp_path_factory.mktemp("simulator"), tls=True) as info:
        yield info
        status = simulator_status(info)
        assert status["protocol_errors"] == [], status["protocol_errors"]


async def _post(sim: SimulatorInfo, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await admin(sim, "POST", path, body)
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


async def phone_state(sim: SimulatorInfo, phone: str = PHONE) -> dict[str, Any]:
    status, answer = await admin(sim, "GET", f"/accounts/{phone}/app-state")
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


async def in_sync(client: Client, sim: SimulatorInfo, name: str, phone: str = PHONE) -> bool:
    server = (await phone_state(sim, phone))["collections"].get(name)
    ours = await client.app_state.store.get_app_state_version(name)
    return server is not None and ours == (server["version"], bytes.fromhex(server["hash"]))


@contextlib.asynccontextmanager
async def linked(sim: SimulatorInfo, phone: str, name: str) -> AsyncIterator[tuple[Client, Watch]]:
    """Our client (trusting the simulator's CA) linked by QR to ``phone``, made the default."""
    await _post(sim, "/accounts", {"phone": phone, "push_name": name, "default": True})
    client, _store, log = make_client(sim, ca_file=sim.ca_file)
    watch = Watch()
    client.add_event_handler(watch)
    await link_by_qr(sim, client, log)
    try:
        yield client, watch
    finally:
        await client.disconnect()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(sim: SimulatorInfo) -> AsyncIterator[tuple[Client, Watch]]:
    """Our client linked to an account whose phone has contacts and chat settings."""
    await _post(sim, "/accounts", {"phone": PHONE, "push_name": "Dana", "default": True})
    await _post(
        sim,
        f"/accounts/{PHONE}/contacts",
        {"contacts": [{"jid": FRIEND.user, "full_name": "Erin Example", "first_name": "Erin"}]},
    )
    await _post(sim, f"/accounts/{PHONE}/chats/{PINNED}/settings", {"pinned": True})
    await _post(sim, f"/accounts/{PHONE}/chats/{MUTED}/settings", {"muted": True})
    await _post(sim, f"/accounts/{PHONE}/chats/{ARCHIVED}/settings", {"archived": True})
    await _post(sim, f"/accounts/{PHONE}/chats/{UNREAD}/settings", {"marked_unread": True})
    async with linked(sim, PHONE, "Dana") as (client, watch):
        yield client, watch


async def test_keys_at_login_and_full_sync_of_every_collection(
    sim: SimulatorInfo, ours: tuple[Client, Watch]
) -> None:
    client, watch = ours
    for name in COLLECTIONS:

        def complete(event: ev.AppStateSyncComplete, name: str = name) -> bool:
            return event.name == name and event.full_sync

        await watch.wait(ev.AppStateSyncComplete, complete)
    contact = await watch.wait(ev.Contact, lambda e: e.jid == FRIEND)
    assert (contact.full_name, contact.first_name, contact.from_full_sync) == (
        "Erin Example",
        "Erin",
        True,
    )
    assert (await watch.wait(ev.Pin, lambda e: e.jid == PINNED)).pinned
    mute = await watch.wait(ev.Mute, lambda e: e.jid == MUTED)
    assert mute.muted and mute.muted_until == ev.MUTED_FOREVER and mute.from_full_sync
    assert (await watch.wait(ev.Archive, lambda e: e.jid == ARCHIVED)).archived
    assert not (await watch.wait(ev.MarkChatAsRead, lambda e: e.jid == UNREAD)).read
    assert (await watch.wait(ev.PushNameSetting)).name == "Dana"
    assert not [e for e in watch.events if isinstance(e, ev.AppStateSyncError)]
    for name in ("critical_unblock_low", "regular_low", "regular_high", "critical_block"):
        assert await in_sync(client, sim, name), name


async def test_phone_change_arrives_by_server_sync(
    sim: SimulatorInfo, ours: tuple[Client, Watch]
) -> None:
    client, watch = ours
    mark = watch.mark()
    await _post(sim, f"/accounts/{PHONE}/chats/{PINNED}/settings", {"pinned": False})
    pin = await watch.wait(ev.Pin, lambda e: e.jid == PINNED, after=mark)
    assert not pin.pinned and not pin.from_full_sync
    await _post(
        sim,
        f"/accounts/{PHONE}/contacts",
        {"contacts": [{"jid": FRIEND.user, "full_name": "Erin Renamed"}]},
    )
    contact = await watch.wait(ev.Contact, lambda e: e.full_name == "Erin Renamed", after=mark)
    assert contact.jid == FRIEND and not contact.from_full_sync
    assert await in_sync(client, sim, "regular_low")


async def test_our_patches_reach_the_phone(sim: SimulatorInfo, ours: tuple[Client, Watch]) -> None:
    client, watch = ours
    mark = watch.mark()
    await client.app_state.send(build_pin(OURS, True))
    await client.app_state.send(build_mute(OURS, True))
    await client.app_state.send(build_archive(UNREAD, True))
    await client.app_state.send(build_mark_chat_as_read(UNREAD, True))
    state = await phone_state(sim)
    assert state["failures"] == []
    chats = state["memory"]["chats"]
    assert chats[str(OURS)]["pinned"] > 0
    assert chats[str(OURS)]["mute_end"] == -1
    assert chats[str(UNREAD)]["archived"] is True
    assert chats[str(UNREAD)]["marked_unread"] is False
    # Our state caught up with the server after each send, and we saw our own changes.
    for name in ("regular_low", "regular_high"):
        assert await in_sync(client, sim, name), name
    assert (await watch.wait(ev.Pin, lambda e: e.jid == OURS, after=mark)).pinned
    assert not [e for e in watch.events[mark:] if isinstance(e, ev.AppStateSyncError)]


async def test_corrupt_patch_mac_resyncs_from_snapshot(
    sim: SimulatorInfo, ours: tuple[Client, Watch]
) -> None:
    client, watch = ours
    mark = watch.mark()
    await _post(sim, f"/accounts/{PHONE}/app-state/corrupt-next", {"kind": "patch_mac"})
    await _post(sim, f"/accounts/{PHONE}/chats/{PINNED}/settings", {"pinned": True})
    error = await watch.wait(ev.AppStateSyncError, after=mark)
    assert error.name == "regular_low" and error.resyncing
    done = await watch.wait(
        ev.AppStateSyncComplete, lambda e: e.name == "regular_low" and e.full_sync, after=mark
    )
    pin = await watch.wait(ev.Pin, lambda e: e.jid == PINNED and e.from_full_sync, after=mark)
    assert pin.pinned
    assert await in_sync(client, sim, "regular_low")
    assert done.version == (await phone_state(sim))["collections"]["regular_low"]["version"]


async def test_missing_keys_are_requested(sim: SimulatorInfo, ours: tuple[Client, Watch]) -> None:
    phone = "15550003020"
    await _post(sim, "/accounts", {"phone": phone, "push_name": "Keyless"})
    await _post(sim, f"/accounts/{phone}/app-state/keys", {"withhold": True, "rotate": True})
    async with linked(sim, phone, "Keyless") as (client, watch):
        assert (await phone_state(sim, phone))["shared_with"] == []
        # The phone changes something: our client is told, finds it lacks the key, asks.
        await _post(sim, f"/accounts/{phone}/chats/{PINNED}/settings", {"pinned": True})
        missing = await watch.wait(ev.AppStateKeysMissing)
        key_ids = {k["key_id"] for k in (await phone_state(sim, phone))["keys"]}
        assert {k.hex() for k in missing.key_ids} <= key_ids
        pin = await watch.wait(ev.Pin, lambda e: e.jid == PINNED)
        assert pin.pinned
        state = await phone_state(sim, phone)
        assert state["key_requests"], state
        assert await in_sync(client, sim, "regular_low", phone)


def _chat_update(jid: JID, **wanted: Any) -> Callable[[Event], bool]:
    def matches(event: Event) -> bool:
        if event.get("event") not in ("chats.update", "chats.upsert"):
            return False
        return any(
            item.get("id") == str(jid)
            and all(k in item and item[k] == v for k, v in wanted.items())
            for item in event.get("data") or []
        )

    return matches


async def test_baileys_and_our_client_see_each_other(
    sim: SimulatorInfo, ours: tuple[Client, Watch], tmp_path_factory: pytest.TempPathFactory
) -> None:
    client, watch = ours
    auth = tmp_path_factory.mktemp("baileys")
    async with BaileysPeer.start(sim, push_name="Dana", auth_dir=auth, phone=PHONE) as peer:
        await peer.wait_for(lambda e: e.get("event") == "app_state_key", WAIT)
        target = JID.parse("15550003030@s.whatsapp.net")
        mark = watch.mark()
        await peer.request("chat_modify", jid=str(target), mod={"pin": True})
        assert (await watch.wait(ev.Pin, lambda e: e.jid == target, after=mark)).pinned
        await peer.request("chat_modify", jid=str(target), mod={"mute": 4102444800000})
        mute = await watch.wait(ev.Mute, lambda e: e.jid == target, after=mark)
        assert mute.muted_until is not None and int(mute.muted_until.timestamp()) == 4102444800
        await peer.request(
            "chat_modify", jid=str(target), mod={"archive": True, "lastMessages": []}
        )
        assert (await watch.wait(ev.Archive, lambda e: e.jid == target, after=mark)).archived

        # Ours, seen by Baileys.
        await client.app_state.send(build_pin(target, False))
        await peer.wait_for(_chat_update(target, pinned=None), WAIT)
        await client.app_state.send(build_mute(target, False))
        await peer.wait_for(_chat_update(target, muteEndTime=None), WAIT)
