"""App state between the simulated phone and Baileys 7.0.0-rc14 (which checks every MAC here:
``tests/js/simulator_socket.mjs`` turns ``appStateMacVerification`` on), and the phone's key
share and key requests with our client.

- A Baileys device linked to an account with contacts and pinned/muted/archived/unread chats
  gets the keys and every one of them as Baileys events.
- Baileys' ``chatModify`` (pin, mute, archive, mark read) reaches the phone's memory and a
  second Baileys device of the same account (``server_sync``).
- A change on the phone (admin) reaches linked Baileys devices live.
- With the key share withheld, our client's ``APP_STATE_SYNC_KEY_REQUEST`` is answered with
  the keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp.message_info import MessageInfo
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.baileys_fixtures import linked_client, simulator_status
from tests.baileys_peer import BaileysPeer, Event
from tests.simulator_fixture import SimulatorInfo, run_simulator
from tests.whatsapp.test_client_helpers import admin

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE = "15550002001"
FRIEND = "15550002002"
FRIEND_JID = f"{FRIEND}@s.whatsapp.net"
PINNED = "15550002003@s.whatsapp.net"
MUTED = "15550002004@s.whatsapp.net"
ARCHIVED = "15550002005@s.whatsapp.net"
UNREAD = "15550002006@s.whatsapp.net"
WAIT = 30.0
INITIAL: dict[str, Event] = {}
"""What the first device got from its initial sync."""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    with run_simulator(tmp_path_factory.mktemp("simulator")) as info:
        yield info
        status = simulator_status(info)
        assert status["protocol_errors"] == [], status["protocol_errors"]


def erin(name: str) -> Any:
    def matches(event: Event) -> bool:
        return event.get("event") in ("contacts.upsert", "contacts.update") and any(
            item.get("id") == FRIEND_JID and item.get("name") == name
            for item in event.get("data") or []
        )

    return matches


async def _post(sim: SimulatorInfo, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await admin(sim, "POST", path, body)
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


async def app_state(sim: SimulatorInfo, phone: str = PHONE) -> dict[str, Any]:
    status, answer = await admin(sim, "GET", f"/accounts/{phone}/app-state")
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def first(
    sim: SimulatorInfo, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys linked to an account whose phone already has contacts and chat settings."""
    await _post(sim, "/accounts", {"phone": PHONE, "push_name": "Dana", "default": True})
    await _post(
        sim,
        f"/accounts/{PHONE}/contacts",
        {"contacts": [{"jid": FRIEND, "full_name": "Erin Example", "first_name": "Erin"}]},
    )
    await _post(sim, f"/accounts/{PHONE}/chats/{PINNED}/settings", {"pinned": True})
    await _post(sim, f"/accounts/{PHONE}/chats/{MUTED}/settings", {"muted": True})
    await _post(sim, f"/accounts/{PHONE}/chats/{ARCHIVED}/settings", {"archived": True})
    await _post(sim, f"/accounts/{PHONE}/chats/{UNREAD}/settings", {"marked_unread": True})
    auth = tmp_path_factory.mktemp("first")
    async with BaileysPeer.start(sim, push_name="Dana", auth_dir=auth, phone=PHONE) as peer:
        # Its initial app state sync is over once the contact is out of Baileys' event buffer.
        INITIAL["key"] = await peer.wait_for(lambda e: e.get("event") == "app_state_key", WAIT)
        INITIAL["contact"] = await peer.wait_for(erin("Erin Example"), WAIT)
        yield peer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def second(
    sim: SimulatorInfo, first: BaileysPeer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """A second Baileys device of the same account."""
    auth = tmp_path_factory.mktemp("second")
    async with BaileysPeer.start(sim, push_name="Dana", auth_dir=auth, phone=PHONE) as peer:
        yield peer


def chat_update(jid: str, **wanted: Any) -> Any:
    def matches(event: Event) -> bool:
        if event.get("event") not in ("chats.update", "chats.upsert"):
            return False
        return any(
            item.get("id") == jid and all(item.get(k) == v for k, v in wanted.items())
            for item in event.get("data") or []
        )

    return matches


async def test_linked_baileys_gets_the_keys_and_contacts(
    sim: SimulatorInfo, first: BaileysPeer
) -> None:
    """Chat settings of the initial sync only reach Baileys' app for chats its history sync
    named (``getChatUpdateConditional``): they are checked live below."""
    key_id = INITIAL["key"]["key_id"]
    assert key_id
    assert await first.request("app_state_key") == key_id
    assert INITIAL["contact"]["data"][0]["id"] == FRIEND_JID
    # Baileys asked for snapshots (version 0) and downloaded them from the media server.
    assert (await app_state(sim))["snapshots_served"] >= 3


async def test_phone_changes_reach_baileys_live(sim: SimulatorInfo, first: BaileysPeer) -> None:
    """Chats the initial sync set are held back by Baileys until a history sync names them
    (a conditional update absorbs later ones), so live changes use chats of their own."""
    pinned_jid, muted, archived, unread = (f"1555000203{i}@s.whatsapp.net" for i in range(4))
    await _post(sim, f"/accounts/{PHONE}/chats/{pinned_jid}/settings", {"pinned": True})
    pinned = await first.wait_for(chat_update(pinned_jid), WAIT)
    assert next(i["pinned"] for i in pinned["data"] if i["id"] == pinned_jid) > 0
    await _post(sim, f"/accounts/{PHONE}/chats/{pinned_jid}/settings", {"pinned": False})
    await first.wait_for(chat_update(pinned_jid, pinned=None), WAIT)
    await _post(sim, f"/accounts/{PHONE}/chats/{muted}/settings", {"mute_end": 4102444800})
    await first.wait_for(chat_update(muted, muteEndTime=4102444800000), WAIT)
    await _post(sim, f"/accounts/{PHONE}/chats/{archived}/settings", {"archived": True})
    await first.wait_for(chat_update(archived, archived=True), WAIT)
    await _post(sim, f"/accounts/{PHONE}/chats/{unread}/settings", {"read": False})
    await first.wait_for(chat_update(unread, unreadCount=-1), WAIT)
    await _post(
        sim,
        f"/accounts/{PHONE}/contacts",
        {"contacts": [{"jid": FRIEND, "full_name": "Erin Renamed"}]},
    )
    await first.wait_for(erin("Erin Renamed"), WAIT)


async def test_baileys_changes_reach_the_phone_and_its_other_device(
    sim: SimulatorInfo, first: BaileysPeer, second: BaileysPeer
) -> None:
    await second.wait_for(lambda e: e.get("event") == "app_state_key", WAIT)
    await second.wait_for(erin("Erin Renamed"), WAIT)  # its own initial sync is done
    target = "15550002010@s.whatsapp.net"
    await first.request("chat_modify", jid=target, mod={"pin": True})
    state = await app_state(sim)
    assert state["memory"]["chats"][target]["pinned"] > 0
    assert state["failures"] == []
    await second.wait_for(chat_update(target), WAIT)

    mute_end = int(time.time() * 1000) + 8 * 3600 * 1000
    await first.request("chat_modify", jid=target, mod={"mute": mute_end})
    await second.wait_for(chat_update(target, muteEndTime=mute_end), WAIT)
    await first.request("chat_modify", jid=target, mod={"archive": True, "lastMessages": []})
    await second.wait_for(chat_update(target, archived=True), WAIT)
    await first.request("chat_modify", jid=target, mod={"markRead": False, "lastMessages": []})
    await second.wait_for(chat_update(target, unreadCount=-1), WAIT)

    settings = (await app_state(sim))["memory"]["chats"][target]
    assert settings["mute_end"] == mute_end // 1000
    assert settings["archived"] is True
    assert settings["marked_unread"] is True
    await first.request("chat_modify", jid=target, mod={"pin": False})
    await second.wait_for(chat_update(target, pinned=None), WAIT)
    assert (await app_state(sim))["memory"]["chats"][target]["pinned"] == 0


async def test_withheld_keys_are_given_on_request(sim: SimulatorInfo, first: BaileysPeer) -> None:
    phone = "15550002020"
    await _post(sim, "/accounts", {"phone": phone, "push_name": "Ours"})
    await _post(sim, f"/accounts/{phone}/app-state/keys", {"withhold": True, "rotate": True})
    keys = (await app_state(sim, phone))["keys"]
    shares: asyncio.Queue[wa_e2e_pb2.ProtocolMessage] = asyncio.Queue()

    async def on_share(info: MessageInfo, protocol: wa_e2e_pb2.ProtocolMessage) -> None:
        await shares.put(protocol)

    def tap(client: Any) -> None:
        client.messages.add_protocol_handler(
            wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE, on_share
        )

    async for client, _log in linked_client(sim, phone, "Ours", before_link=tap):
        assert (await app_state(sim, phone))["shared_with"] == []
        wanted = bytes.fromhex(keys[0]["key_id"])
        request = wa_e2e_pb2.Message()
        request.protocolMessage.type = wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST
        request.protocolMessage.appStateSyncKeyRequest.keyIDs.add(keyID=wanted)
        request.protocolMessage.appStateSyncKeyRequest.keyIDs.add(keyID=b"\x00\x00unknown")
        await client.send_peer_message(request)
        share = await asyncio.wait_for(shares.get(), WAIT)
        got = [key.keyID.keyID for key in share.appStateSyncKeyShare.keys]
        assert got == [wanted]
        assert len(share.appStateSyncKeyShare.keys[0].keyData.keyData) == 32
        requests = (await app_state(sim, phone))["key_requests"]
        assert requests[-1]["answered"] == [wanted.hex()]
        assert shares.empty()
