"""Our client sends through the real simulator; the simulated phones decrypt what arrives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import Connected
from mautrix_whatsapp.whatsapp.send import GroupMembers, SendResponse
from tests.simulator_fixture import SimulatorInfo, run_simulator, simulator  # noqa: F401
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


CAROL = "15550003000"
GROUP_ID = "120363000000000077"
SEED_PLUGIN = "tests.whatsapp.simulator_group_seed_plugin"


@pytest.fixture
def group_simulator(tmp_path: Path) -> Iterator[SimulatorInfo]:
    with run_simulator(tmp_path / "simulator", extra_args=["--plugin", SEED_PLUGIN]) as info:
        yield info


async def _in_group(info: SimulatorInfo) -> tuple[Client, JID, list[JID]]:
    """Our linked client in a group with Bob and Carol; the client reads the member list that
    the test keeps (and may change), the simulator routes by its registry."""
    client, _ = await _linked(info)
    await admin(info, "POST", "/accounts", {"phone": CAROL, "push_name": "Carol"})
    members = [JID(BOB, PN), JID(CAROL, PN), JID(OURS, PN)]
    status, body = await admin(
        info, "POST", "/test-groups", {"id": GROUP_ID, "members": [m.user for m in members]}
    )
    assert status == 200, body
    group = JID.parse(body["jid"])

    async def current_members(jid: JID) -> GroupMembers:
        assert jid == group
        return GroupMembers(tuple(members))

    client.sender.get_group_members = current_members
    return client, group, members


async def test_group_message_reaches_every_member_and_rotates_on_removal(
    group_simulator: SimulatorInfo,
) -> None:
    info = group_simulator
    client, group, members = await _in_group(info)
    sent = await client.send_message(group, mb.text("hi team"))
    for phone in (BOB, CAROL, OURS):
        got = await _received(info, phone, sent.id)
        assert got["message"]["conversation"] == "hi team", phone
        assert got["chat"] == str(group)
    second = await client.send_message(group, mb.mention(f"@{CAROL} still here", [JID(CAROL, PN)]))
    got = await _received(info, CAROL, second.id)
    assert got["message"]["extendedTextMessage"]["contextInfo"]["mentionedJID"] == [
        f"{CAROL}@{PN}"
    ]
    store = client.messaging_store
    assert f"{CAROL}:0@{PN}" in await store.get_sender_key_devices(str(group))

    status, _ = await admin(info, "POST", f"/test-groups/{GROUP_ID}/remove", {"phone": CAROL})
    assert status == 200
    members.remove(JID(CAROL, PN))
    third = await client.send_message(group, mb.text("Carol is gone"))
    got = await _received(info, BOB, third.id)
    assert got["message"]["conversation"] == "Carol is gone"
    assert (await _received(info, OURS, third.id))["message"]["conversation"] == "Carol is gone"
    _, body = await admin(info, "GET", f"/accounts/{CAROL}/received")
    assert third.id not in {m["id"] for m in body["messages"]}
    # Our sender key was replaced and handed to the remaining devices only.
    assert await store.get_sender_key_devices(str(group)) == {f"{BOB}:0@{PN}", f"{OURS}:0@{PN}"}
    await client.disconnect()


async def test_an_event_handler_can_send_and_wait_for_the_ack(simulator: SimulatorInfo) -> None:  # noqa: F811
    """Acks are matched as they are read, so a handler (run by the stanza loop) may await one."""
    client, _ = await _linked(simulator)
    await client.disconnect()
    sent: asyncio.Future[SendResponse] = asyncio.get_running_loop().create_future()

    async def on_event(event: object) -> None:
        if isinstance(event, Connected) and not sent.done():
            try:
                sent.set_result(await client.send_message(JID(BOB, PN), mb.text("from a handler")))
            except Exception as e:
                sent.set_exception(e)

    client.add_event_handler(on_event)
    await client.connect()
    async with asyncio.timeout(10):
        response = await sent
    got = await _received(simulator, BOB, response.id)
    assert got["message"] == {"conversation": "from a handler"}
    await client.disconnect()


async def _send_across_a_reinstall(
    info: SimulatorInfo, client: Client, chat: JID, phone: str
) -> str:
    """Send to ``chat``, reinstall ``phone`` (our session and sender key become useless to it),
    send again: the phone's retry receipts must get it the second message. Its id."""
    first = await client.send_message(chat, mb.text("before"))
    await _received(info, phone, first.id)
    # No identity notification: were it handled before the next send, we would start a new
    # session at once and no retry would be needed (the test would prove nothing, or flake).
    status, _ = await admin(info, "POST", f"/accounts/{phone}/reset-identity", {"notify": False})
    assert status == 200
    second = await client.send_message(chat, mb.text("after"))
    assert (await _received(info, phone, second.id))["message"]["conversation"] == "after"
    assert client.resender.counts[(JID(phone, PN, 0), second.id)] >= 1
    return second.id


async def test_a_message_the_phone_cannot_read_is_recovered_by_retry(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    client, _ = await _linked(simulator)
    second = await _send_across_a_reinstall(simulator, client, JID(BOB, PN), BOB)
    _, body = await admin(simulator, "GET", f"/accounts/{BOB}/received")
    assert [m["id"] for m in body["messages"]].count(second) == 1
    await client.disconnect()


async def test_our_vote_on_our_poll_is_read_by_the_phone(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, _ = await _linked(simulator)
    bob = JID(BOB, PN)
    poll = await client.send_message(bob, mb.poll("Lunch?", ["pizza", "soup", "salad"], 2))
    await _received(simulator, BOB, poll.id)
    vote = await client.build_poll_vote(bob, poll.id, JID(OURS, PN), ["soup", "salad"])
    sent = await client.send_message(bob, vote)
    got = await _received(simulator, BOB, sent.id)
    assert got["type"] == "poll"
    assert sorted(got["poll_vote"]["options"]) == ["salad", "soup"]
    await client.disconnect()


async def test_a_group_member_that_lost_our_sender_key_gets_it_by_retry(
    group_simulator: SimulatorInfo,
) -> None:
    info = group_simulator
    client, group, _ = await _in_group(info)
    second = await _send_across_a_reinstall(info, client, group, CAROL)
    assert (await _received(info, BOB, second))["message"]["conversation"] == "after"
    await client.disconnect()
