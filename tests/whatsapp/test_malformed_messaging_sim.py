"""Every messaging decoder gets malformed stanzas over the real simulator connection: message
attributes, receipts (plain and retry), ``w:gp2`` group notifications, ``devices``/``encrypt``
notifications, presence and chat states. Each batch is followed by a valid message from Bob's
phone, which must arrive on the same connection; nothing may reach the handling loop's
last-resort catch or be logged as an error, and what the server would redeliver is acked.

The malformed stanzas are the decoders' own unit-test cases (fed there to a canned server), sent
here through the simulator's ``POST /admin/devices/raw``; the simulator is not at fault when our
client refuses them, so its teardown only checks for internal errors.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from itertools import count

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import Disconnected
from mautrix_whatsapp.whatsapp.usync import UsyncError
from tests.simulator_fixture import SimulatorInfo, run_simulator
from tests.whatsapp import test_group, test_notification, test_presence
from tests.whatsapp.message_peer import Peer, enc, stanza, text
from tests.whatsapp.simulator_bad_usync_plugin import BAD_ANSWERS, WITHOUT_LIST
from tests.whatsapp.test_client_helpers import EventLog, admin
from tests.whatsapp.test_message_recv_simulator import (
    BOB,
    _bob_peer,
    _linked,
    _message,
    _post_raw,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

BAD_USYNC_PLUGIN = "tests.whatsapp.simulator_bad_usync_plugin"
BOB_JID = JID(BOB, "s.whatsapp.net")
BOB_PHONE = JID(BOB, "s.whatsapp.net", 0)
GROUP = JID("120363000000000077", "g.us")


def _message_attributes() -> list[Node]:
    """Message stanzas whose attributes cannot be read (the ciphertext never matters)."""
    body = [enc("msg", b"\x33" * 40)]
    return [
        Node("message", {"from": BOB_JID, "t": "1", "type": "text"}, body),  # no id
        stanza(BOB_JID, body, t="yesterday"),
        stanza(BOB_JID, body, **{"from": "not-a-jid"}),
        stanza(GROUP, body),  # a group message without participant
        stanza(GROUP, body, participant="nobody"),
        stanza(BOB_JID, body, sender_lid="not-a-lid"),
    ]


RECEIPTS = [
    Node("receipt", {"id": "X", "t": "1"}),  # no from
    Node("receipt", {"from": "15550002222@s.whatsapp.net", "id": "X"}),  # text, not a JID
    Node("receipt", {"from": BOB_JID, "t": "1"}),  # no id
    Node("receipt", {"from": BOB_JID, "id": "X", "t": "soon"}),
    Node("receipt", {"from": GROUP, "id": "X"}),  # grouped without participants
    Node("receipt", {"from": BOB_JID, "id": "X", "type": "read"}, [Node("list", None, b"\x00")]),
]

RETRY_RECEIPTS = [
    Node("receipt", {"from": BOB_PHONE, "id": "X", "type": "retry"}, children)
    for children in (
        [],
        [Node("retry", {"id": "X"})],
        [Node("retry", {"id": "X", "count": "many", "t": "1"})],
        [Node("retry", {"count": "1", "t": "1"})],
        [Node("retry", {"id": "X", "count": "1", "t": "1"}), Node("keys", None, [Node("x")])],
    )
]

CASES: dict[str, list[Node]] = {
    "message attributes": _message_attributes(),
    "receipts": RECEIPTS,
    "retry receipts": RETRY_RECEIPTS,
    "w:gp2": [node for _, node in test_group.MALFORMED_NOTIFICATIONS],
    "devices and encrypt": test_notification.MALFORMED,
    "presence and chatstate": test_presence.MALFORMED,
}
ACKED = {"message", "receipt", "notification"}
"""What a server redelivers until acked (presence and chat states it does not)."""

_ids = count()


def _with_unique_ids(nodes: list[Node]) -> list[Node]:
    """Copies with an id of their own where they have one, so each ack can be found."""
    out = []
    for node in nodes:
        attrs = {k: v for k, v in node.attrs.items() if v != ""}  # "" marks a dropped attribute
        if "id" in attrs:
            attrs["id"] = f"BAD{next(_ids):05d}"
        out.append(Node(node.tag, attrs, node.content))
    return out


class Linked:
    def __init__(self, client: Client, log: EventLog, bob: Peer) -> None:
        self.client = client
        self.log = log
        self.bob = bob


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    directory = tmp_path_factory.mktemp("simulator")
    with run_simulator(directory, extra_args=["--plugin", BAD_USYNC_PLUGIN]) as info:
        yield info


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def linked(sim: SimulatorInfo) -> AsyncIterator[Linked]:
    client, log = await _linked(sim)
    try:
        yield Linked(client, log, await _bob_peer(client))
    finally:
        await client.disconnect()


@pytest.mark.parametrize("case", CASES)
async def test_malformed_stanzas_leave_the_connection_up(
    sim: SimulatorInfo, linked: Linked, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, log = linked.client, linked.log
    caplog.set_level(logging.DEBUG, logger="mautrix_whatsapp.whatsapp")
    junk = _with_unique_ids(CASES[case])
    valid = await linked.bob.dm(text(f"after the {case}"))
    await _post_raw(sim, client, [*junk, valid])
    # Stanzas are handled in order: once the valid message is out, the junk was handled.
    event = await _message(log, valid.attr_str("id"))
    assert event.message.conversation == f"after the {case}"
    assert client.is_connected and not log.of(Disconnected)

    records = [r for r in caplog.records if r.name.startswith("mautrix_whatsapp.whatsapp")]
    assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert not [r.getMessage() for r in records if r.getMessage().startswith("Failed to handle")]
    status, acks = await admin(sim, "GET", f"/devices/{client.device.jid}/acks")
    assert status == 200, acks
    acked = {a.get("id") for a in acks["acks"]}
    unacked = [
        n for n in junk if n.tag in ACKED and "id" in n.attrs and n.attrs["id"] not in acked
    ]
    assert unacked == []


@pytest.mark.parametrize("phone", BAD_ANSWERS)
async def test_malformed_usync_answers_are_typed_errors_or_skipped(
    sim: SimulatorInfo, linked: Linked, phone: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A usync answer (device list, contact, LID) the client cannot read is a typed error or
    leaves that user out; the connection and the next message do not notice."""
    client, log = linked.client, linked.log
    caplog.set_level(logging.DEBUG, logger="mautrix_whatsapp.whatsapp")
    user = JID(phone, "s.whatsapp.net")
    if phone in WITHOUT_LIST:
        with pytest.raises(UsyncError):
            await client.get_user_devices([user])
        with pytest.raises(UsyncError):
            await client.is_on_whatsapp([f"+{phone}"])
    else:
        # The broken entry is left out (a real answer for an unknown number has one entry).
        assert await client.get_user_devices([user]) == []
        assert await client.is_on_whatsapp([f"+{phone}"]) == []

    valid = await linked.bob.dm(text(f"after usync {phone}"))
    await _post_raw(sim, client, [valid])
    event = await _message(log, valid.attr_str("id"))
    assert event.message.conversation == f"after usync {phone}"
    assert client.is_connected and not log.of(Disconnected)
    assert BOB_PHONE in await client.get_user_devices([BOB_JID])  # a good answer still reads
    records = [r for r in caplog.records if r.name.startswith("mautrix_whatsapp.whatsapp")]
    assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR]
