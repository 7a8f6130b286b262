"""Our client sends through the real simulator; the simulated phones decrypt what arrives."""

from __future__ import annotations

from typing import Any

import pytest

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(60)

OURS = "15550001000"
BOB = "15550002000"
PN = "s.whatsapp.net"


async def _linked(info: SimulatorInfo) -> tuple[Client, EventLog]:
    status, _ = await admin(info, "POST", "/accounts", {"phone": OURS, "default": True})
    assert status == 200
    status, _ = await admin(info, "POST", "/accounts", {"phone": BOB, "push_name": "Bob"})
    assert status == 200
    client, _, log = make_client(info)
    await link_by_qr(info, client, log)
    return client, log


async def _received(info: SimulatorInfo, phone: str, message_id: str) -> dict[str, Any]:
    status, body = await admin(
        info, "GET", f"/accounts/{phone}/received?id={message_id}&timeout=10"
    )
    assert status == 200, body
    (message,) = body["messages"]
    return dict(message)


async def test_dm_reaches_the_recipient_and_our_phone(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _ = await _linked(simulator)
    bob = JID(BOB, PN)
    sent = await client.send_message(bob, mb.text("hello Bob"))
    assert sent.id.startswith("3EB0") and sent.timestamp.year >= 2024
    got = await _received(simulator, BOB, sent.id)
    assert got["message"] == {"conversation": "hello Bob"}
    assert got["from"].split(":")[0] == OURS
    # Our own phone got the deviceSentMessage (unwrapped by the simulated phone).
    own = await _received(simulator, OURS, sent.id)
    assert own["chat"] == str(bob)
    assert own["message"]["conversation"] == "hello Bob"

    # A second message uses the sessions built by the first; a reply and a reaction follow.
    second = await client.send_message(
        bob, mb.reply("and again", sent.id, JID(OURS, PN), mb.text("hello Bob"))
    )
    got2 = await _received(simulator, BOB, second.id)
    context = got2["message"]["extendedTextMessage"]["contextInfo"]
    assert context["stanzaID"] == sent.id and context["participant"] == f"{OURS}@{PN}"
    react = await client.send_message(bob, mb.reaction(bob, sent.id, None, "👍"))
    got3 = await _received(simulator, BOB, react.id)
    assert got3["type"] == "reaction"
    assert got3["message"]["reactionMessage"]["text"] == "👍"
    edit = await client.send_message(bob, mb.edit(bob, sent.id, mb.text("hello, Bob")))
    got4 = await _received(simulator, BOB, edit.id)
    assert got4["edit"] == "1"
    edited = got4["message"]["editedMessage"]["message"]["protocolMessage"]
    assert edited["editedMessage"] == {"conversation": "hello, Bob"}
    revoke = await client.send_message(bob, mb.revoke(bob, sent.id))
    got5 = await _received(simulator, BOB, revoke.id)
    assert got5["edit"] == "7" and got5["message"]["protocolMessage"]["key"]["ID"] == sent.id
    poll = await client.send_message(bob, mb.poll("Lunch?", ["pizza", "soup"]))
    got6 = await _received(simulator, BOB, poll.id)
    assert got6["type"] == "poll"
    assert len(got6["message"]["pollCreationMessageV3"]["options"]) == 2
    await client.disconnect()


async def test_usync_queries(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _ = await _linked(simulator)
    answers = await client.is_on_whatsapp([f"+{BOB}", "+15559999999"])
    by_query = {info.query: info for info in answers}
    assert by_query[f"+{BOB}"].is_on_whatsapp and by_query[f"+{BOB}"].jid == JID(BOB, PN)
    assert by_query["+15559999999"].is_on_whatsapp is False
    devices = await client.get_user_devices([JID(OURS, PN)])
    assert JID(OURS, PN, 0) in devices and client.jid in devices
    lids = await client.devices.get_lids([JID(BOB, PN)])
    _, account = await admin(simulator, "GET", f"/accounts/{BOB}")
    assert lids == {JID(BOB, PN): JID(account["lid"], "lid")}
    assert await client.lids.get_pn(JID(account["lid"], "lid")) == JID(BOB, PN)
    await client.disconnect()
