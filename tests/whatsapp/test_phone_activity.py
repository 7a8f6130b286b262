"""The phone's last activity as a linked device can know it: receipts and messages from our own
account's device 0, never a server statement. Against the simulator (live and through the offline
queue) and, for messages and bad receipts, with stanzas fed straight to the client."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.events import Connected, PhoneSeen, Receipt
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import (
    EventLog,
    admin,
    link_by_qr,
    make_client,
    offline_client,
)

pytestmark = pytest.mark.timeout(60)

DAY = 24 * 3600


async def _acks(info: SimulatorInfo, jid: str, count: int) -> list[dict[str, str]]:
    """The receipt acks the simulator recorded for ``jid``, once there are ``count``."""
    for _ in range(200):
        status, body = await admin(info, "GET", f"/devices/{jid}/acks")
        assert status == 200, body
        acks = [a for a in body["acks"] if a.get("class") == "receipt"]
        if len(acks) >= count:
            return list(acks)
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} receipt acks from {jid}, got {body['acks']}")


async def _move_phone(info: SimulatorInfo, phone: str, ago: float) -> tuple[int, dict[str, Any]]:
    t = int(time.time() - ago)
    status, body = await admin(info, "POST", "/mock-phone/last-seen", {"phone": phone, "t": t})
    assert status == 200, body
    return t, body


async def test_phone_receipts_live(simulator: SimulatorInfo) -> None:  # noqa: F811
    # A quiet phone: its app-state key share at login would itself show it active.
    status, _ = await admin(simulator, "POST", "/app-state/config", {"share_keys_at_login": False})
    assert status == 200
    client, _, log = make_client(simulator)
    linked = await link_by_qr(simulator, client, log)
    jid, phone = linked["jid"], linked["phone"]
    # Nothing at login claims to know the phone's activity.
    assert client.phone_last_seen is None and not log.of(PhoneSeen)

    # The phone was last active 13 days ago (the bridge's warning case): its read-self arrives.
    t13, body = await _move_phone(simulator, phone, 13 * DAY)
    assert body["notified"] == 1 and body["queued"] == 0
    seen = await log.wait_for(PhoneSeen)
    assert seen.at == datetime.fromtimestamp(t13, UTC) == client.phone_last_seen
    receipt = await log.wait_for(Receipt)
    assert receipt.is_from_own_phone and receipt.type == "read-self"
    [ack] = await _acks(simulator, jid, 1)
    assert ack == {
        "class": "receipt",
        "id": receipt.message_ids[0],
        "to": f"{phone}@s.whatsapp.net",
        "recipient": str(receipt.chat),
        "type": "read-self",
    }

    # A newer receipt moves it forward...
    t1, _ = await _move_phone(simulator, phone, 1 * DAY)
    newer = await log.wait_for(PhoneSeen, count=2)
    assert newer.at.timestamp() == t1 and client.phone_last_seen == newer.at
    # ... an older one never moves it back (but is acked all the same).
    await _move_phone(simulator, phone, 14 * DAY)
    await _acks(simulator, jid, 3)
    assert len(log.of(Receipt)) == 3
    assert client.phone_last_seen == newer.at and len(log.of(PhoneSeen)) == 2

    # Receipts from a contact and from another companion of ours are no sign of the phone.
    now = int(time.time())
    companion = f"{phone}:9@s.whatsapp.net"
    for body in (
        {"from": "15550004444@s.whatsapp.net", "type": "read", "t": now},
        {"from": companion, "recipient": "15550004444@s.whatsapp.net", "type": "read-self"},
        {"from": "120363000000000002@g.us", "participant": companion, "type": "", "t": now},
    ):
        status, sent = await admin(simulator, "POST", "/devices/receipt", {"jid": jid, **body})
        assert status == 200 and sent["delivered"], sent
    acks = await _acks(simulator, jid, 6)
    assert [a["to"] for a in acks[3:]] == [
        "15550004444@s.whatsapp.net",
        companion,
        "120363000000000002@g.us",
    ]
    assert acks[5]["participant"] == companion and "type" not in acks[5]  # a delivery receipt
    assert len(log.of(Receipt)) == 6
    assert client.phone_last_seen == newer.at and len(log.of(PhoneSeen)) == 2

    # Something the bridge learned elsewhere only moves it forward too.
    client.note_phone_activity(newer.at - timedelta(days=3))
    assert client.phone_last_seen == newer.at
    await client.disconnect()


async def test_phone_receipt_through_the_offline_queue(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, store, log = make_client(simulator)
    linked = await link_by_qr(simulator, client, log)
    jid, phone = linked["jid"], linked["phone"]
    await client.disconnect()

    t13, body = await _move_phone(simulator, phone, 13 * DAY)
    assert body["notified"] == 0 and body["queued"] == 1
    device = await store.load_device()
    assert device is not None
    again, _, log2 = make_client(simulator, device, store)
    await again.connect()
    seen = await log2.wait_for(PhoneSeen)
    assert seen.at.timestamp() == t13 and again.phone_last_seen == seen.at
    await log2.wait_for(Connected)
    [ack] = await _acks(simulator, jid, 1)
    assert ack["type"] == "read-self" and ack["to"] == f"{phone}@s.whatsapp.net"
    await again.disconnect()


# --- stanzas fed straight to the client (no socket) ------------------------------------------

OWN = JID("15550001111", "s.whatsapp.net", device=3)
OWN_LID = JID("987654321", "lid", device=3)
PHONE = JID("15550001111", "s.whatsapp.net")
CONTACT = JID("15550002222", "s.whatsapp.net")


def _offline_client() -> tuple[Client, EventLog, list[Node]]:
    """A socketless client logged in as ``OWN``/``OWN_LID``."""
    device = DeviceIdentity.generate()
    device.jid, device.lid = OWN, OWN_LID
    client, _, log, sent = offline_client(device)
    return client, log, sent


async def _feed(client: Client, node: Node) -> None:
    assert await client._handle_node(unmarshal(marshal(node))) is None


async def test_messages_from_the_phone_count() -> None:
    client, log, sent = _offline_client()
    handled: list[str] = []

    async def on_message(node: Node) -> None:
        handled.append(str(node.attrs["id"]))

    client.add_node_handler("message", on_message)
    # The phone sent a message to a contact (a DSM) at t=1000; the handler still gets it.
    await _feed(
        client, Node("message", {"from": PHONE, "recipient": CONTACT, "id": "M1", "t": "1000"})
    )
    assert client.phone_last_seen == datetime.fromtimestamp(1000, UTC)
    assert handled == ["M1"] and log.of(PhoneSeen) == [PhoneSeen(client.phone_last_seen)]
    # A peer message from the phone, addressed by LID.
    await _feed(
        client, Node("message", {"from": JID(OWN_LID.user, "lid"), "id": "M2", "t": "2000"})
    )
    assert client.phone_last_seen == datetime.fromtimestamp(2000, UTC)
    # Not the phone: a contact, another companion of ours, a group message by someone else.
    others: list[dict[str, str | JID]] = [
        {"from": CONTACT, "id": "M3", "t": "3000"},
        {"from": JID(OWN.user, "s.whatsapp.net", device=8), "id": "M4", "t": "3000"},
        {"from": JID("1203630001", "g.us"), "participant": CONTACT, "id": "M5", "t": "3000"},
        {"id": "M6", "t": "3000"},  # no sender at all: ignored here, left to the handler
    ]
    for attrs in others:
        await _feed(client, Node("message", attrs))
    assert client.phone_last_seen == datetime.fromtimestamp(2000, UTC)
    assert len(log.of(PhoneSeen)) == 2 and handled == ["M1", "M2", "M3", "M4", "M5", "M6"]
    assert not sent  # messages are answered by the message module, not here


async def test_bad_receipt_is_nacked_and_changes_nothing() -> None:
    client, log, sent = _offline_client()
    await _feed(client, Node("receipt", {"from": PHONE, "t": "5000"}))  # no id
    assert client.phone_last_seen is None and not log.of(Receipt)
    assert [n.attrs.get("error") for n in sent] == ["487"]
    await _feed(
        client, Node("receipt", {"from": PHONE, "recipient": CONTACT, "id": "R", "t": "5000"})
    )
    assert client.phone_last_seen == datetime.fromtimestamp(5000, UTC)
    assert sent[-1].attrs == {"class": "receipt", "id": "R", "to": PHONE, "recipient": CONTACT}


async def test_receipt_handler_runs_before_the_ack() -> None:
    client, log, sent = _offline_client()
    acks_before_handler: list[int] = []

    async def on_receipt(node: Node) -> None:
        acks_before_handler.append(len(sent))
        raise RuntimeError("handler bug")

    client.add_node_handler("receipt", on_receipt)
    receipt = Node("receipt", {"from": PHONE, "recipient": CONTACT, "id": "S", "t": "7"})
    with pytest.raises(RuntimeError):
        await _feed(client, receipt)
    # The phone's activity was noted first, the handler ran before the ack, and a failing
    # handler does not keep the receipt from being acked.
    assert log.of(PhoneSeen) == [PhoneSeen(datetime.fromtimestamp(7, UTC))]
    assert acks_before_handler == [0] and [n.attrs["id"] for n in sent] == ["S"]
