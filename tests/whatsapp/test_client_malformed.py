"""Malformed stanzas from the server are refused where they arrive and never end the connection.

Against the simulator, a logged-in client gets a batch of broken stanzas (missing attributes,
wrong content types, garbage pair-success/notifications/IQs, unknown tags) over its real socket,
then must still answer an IQ round trip on the same connection. Offline, an unpaired client gets
garbage pair-successes and must answer each with an error IQ and a typed PairError, unpaired.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp import login, pair_code
from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.errors import NodeError
from mautrix_whatsapp.whatsapp.binary.jid import JID, SERVER_JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import (
    Connected,
    Disconnected,
    PairError,
    PairingCode,
    PairSuccess,
    Receipt,
)
from mautrix_whatsapp.whatsapp.pair import PairError as PairFailure
from mautrix_whatsapp.whatsapp.pair import PairHMACMismatchError, PairProtoError
from mautrix_whatsapp.whatsapp.pair_flow import PairDataError
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import (
    EventLog,
    admin,
    link_by_qr,
    make_client,
    offline_client,
)

pytestmark = pytest.mark.timeout(60)

SERVER = {"jid": "s.whatsapp.net"}
CONTACT = "15550009999@s.whatsapp.net"


def _iq(iq_id: str, *children: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return {
        "tag": "iq",
        "attrs": {"type": "set", "id": iq_id, "from": SERVER, **attrs},
        "content": list(children),
    }


MALFORMED: list[dict[str, Any]] = [
    {"tag": "bogus-tag", "attrs": {"x": "1"}, "content": "?"},
    {"tag": "pair-success"},  # a known child tag at the top level
    _iq("m1", {"tag": "pair-success"}),
    _iq(
        "m2",
        {
            "tag": "pair-success",
            "content": [
                {"tag": "device-identity", "content": [{"tag": "x"}]},
                {"tag": "device", "attrs": {"jid": "not a jid"}},
            ],
        },
    ),
    _iq("m3", {"tag": "pair-device", "content": [{"tag": "ref", "content": [{"tag": "x"}]}]}),
    _iq("m4", {"tag": "pair-device", "content": {"hex": "00ff"}}),
    {"tag": "iq", "attrs": {"type": "result", "id": "nobody-asked"}},
    {"tag": "iq", "attrs": {"type": "get", "xmlns": "urn:xmpp:ping"}},  # no id
    {"tag": "iq", "content": {"hex": "deadbeef"}},
    {"tag": "notification"},
    {
        "tag": "notification",
        "attrs": {"type": "encrypt", "id": "n1", "from": SERVER},
        "content": [{"tag": "count", "attrs": {"value": "lots"}}],
    },
    {
        "tag": "notification",
        "attrs": {"type": "encrypt", "id": "n2", "from": SERVER},
        "content": [{"tag": "count"}],
    },
    {
        "tag": "notification",
        "attrs": {"type": "link_code_companion_reg", "id": "n3", "from": SERVER},
        "content": [{"tag": "link_code_companion_reg", "content": "junk"}],
    },
    {"tag": "ib", "content": {"hex": "0102"}},
    {"tag": "ib", "content": [{"tag": "offline", "attrs": {"count": "many"}}]},
    {"tag": "receipt", "attrs": {"from": {"jid": CONTACT}}},  # no id
    {"tag": "receipt", "attrs": {"id": "r1", "from": "not-a-jid", "t": "soon"}},
    {"tag": "message", "attrs": {"from": "garbage", "id": "x1", "t": "yesterday"}},
    {"tag": "message", "content": [{"tag": "enc", "content": "not bytes"}]},
]


async def test_malformed_stanzas_do_not_break_the_connection(
    simulator: SimulatorInfo,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, store, log = make_client(simulator)
    result = await link_by_qr(simulator, client, log)
    jid = result["jid"]
    caplog.set_level(logging.DEBUG, logger="mautrix_whatsapp.whatsapp")
    sentinel = {
        "tag": "receipt",
        "attrs": {"from": {"jid": CONTACT}, "id": "SENTINEL", "t": "1700000000"},
    }
    status, body = await admin(
        simulator, "POST", "/devices/raw", {"jid": jid, "nodes": [*MALFORMED, sentinel]}
    )
    assert status == 200 and body == {"sent": len(MALFORMED) + 1}, body
    # Stanzas are handled in order: once the sentinel's Receipt is out, the batch is through.
    receipt = await log.wait_for(Receipt)
    assert receipt.message_ids == ("SENTINEL",)

    # Same connection, still logged in, and it still answers: an IQ round trip.
    assert client.is_logged_in
    assert await client.get_server_pre_key_count() == 812
    await client.send_iq("w:p", "get")
    assert len(log.of(Connected)) == 1 and not log.of(Disconnected)
    assert not log.of(PairError) and len(log.of(PairSuccess)) == 1
    assert str(client.device.jid) == jid
    stored = await store.load_device()
    assert stored is not None and str(stored.jid) == jid

    # Each stanza was refused by the handler it reached: nothing fell through to the last-resort
    # catch of the handling loop, and nothing was logged as an error.
    records = [r for r in caplog.records if r.name.startswith("mautrix_whatsapp.whatsapp")]
    assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert not [r.getMessage() for r in records if r.getMessage().startswith("Failed to handle")]
    warned = " ".join(r.getMessage() for r in records if r.levelno == logging.WARNING)
    for expected in ("already paired", "pre-key count", "code-pairing", "receipt"):
        assert expected in warned, (expected, warned)
    _, acks = await admin(simulator, "GET", f"/devices/{jid}/acks")
    assert {"class": "receipt", "id": "", "to": CONTACT, "error": "487"} in [
        {k: a.get(k) for k in ("class", "id", "to", "error")} for a in acks["acks"]
    ]
    await client.disconnect()


# --- pair-success garbage on an unpaired client, fed straight to the dispatcher ----------------


def _pair_success(*children: Node) -> Node:
    node = Node(
        "iq",
        {"type": "set", "id": "ps", "from": SERVER_JID},
        [Node("pair-success", {}, list(children))],
    )
    return unmarshal(marshal(node))


GOOD_JID = JID("15550001111", "s.whatsapp.net", device=4)

GARBAGE_PAIR_SUCCESS: list[tuple[list[Node], type[PairFailure], str]] = [
    ([], PairDataError, "internal-error"),
    ([Node("device", {"jid": GOOD_JID})], PairDataError, "internal-error"),
    (
        [Node("device-identity", {}, [Node("x")]), Node("device", {"jid": GOOD_JID})],
        PairDataError,
        "internal-error",
    ),
    (
        [Node("device-identity", {}, b"\x01"), Node("device", {"jid": "15550001111"})],
        PairDataError,
        "internal-error",
    ),
    (  # a group JID is no device
        [Node("device-identity", {}, b"\x01"), Node("device", {"jid": JID("1-2", "g.us")})],
        PairDataError,
        "internal-error",
    ),
    (  # a LID whose user has no Signal address ('.' is not allowed in address names)
        [
            Node("device-identity", {}, b"\x01"),
            Node("device", {"jid": GOOD_JID, "lid": JID("12.5", "lid", device=4)}),
        ],
        PairDataError,
        "internal-error",
    ),
    (
        [Node("device-identity", {}, b"\xff\xff"), Node("device", {"jid": GOOD_JID})],
        PairProtoError,
        "internal-error",
    ),
    (
        [Node("device-identity", {}, b""), Node("device", {"jid": GOOD_JID})],
        PairHMACMismatchError,
        "hmac-mismatch",
    ),
]


@pytest.mark.parametrize(("children", "error_type", "text"), GARBAGE_PAIR_SUCCESS)
async def test_garbage_pair_success_is_refused_with_an_error_iq(
    children: list[Node], error_type: type[PairFailure], text: str
) -> None:
    client, store, log, sent = offline_client()
    keys_before = client.device.to_dict()
    assert await client._handle_node(_pair_success(*children)) is None
    [reply] = sent
    assert reply.attrs["type"] == "error" and reply.attrs["id"] == "ps"
    assert reply.get_child_by_tag("error").attrs["text"] == text
    [event] = log.of(PairError)
    assert isinstance(event.error, error_type)
    assert not client.device.is_paired and client.device.to_dict() == keys_before
    assert await store.load_device() is None and not log.of(PairSuccess)


# --- garbage answers to our own IQs ----------------------------------------------------------


def _answering_client(answer: Node) -> tuple[Client, EventLog, list[Node]]:
    """A paired client whose every IQ gets ``answer``; sent stanzas are collected."""
    client, _, log, sent = offline_client()
    client.device.jid = GOOD_JID

    async def send_iq(xmlns: str, iq_type: str, content: Any = None, **_: Any) -> Node:
        sent.append(Node("iq", {"xmlns": xmlns, "type": iq_type}, content))
        return answer

    client.send_iq = send_iq  # type: ignore[method-assign]
    return client, log, sent


async def test_garbage_pre_key_count_does_not_stop_the_login_steps(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, log, sent = _answering_client(Node("iq", {}, [Node("count", {"value": "many"})]))
    await login.after_login(client)
    assert log.of(Connected)  # active mode, unified session and Connected still happened
    assert [n.attrs.get("xmlns") for n in sent][:2] == ["encrypt", "passive"]
    assert "Failed to check or upload pre-keys" in caplog.text
    with pytest.raises(NodeError):  # the public call raises the typed error to its caller
        await client.get_server_pre_key_count()


async def test_garbage_companion_hello_answer_is_a_typed_error() -> None:
    client, log, _ = _answering_client(Node("iq", {}, "not a node list"))
    client.device.jid = None
    client._pair.pair_device_seen.set()  # as if the server had offered pairing
    with pytest.raises(pair_code.InvalidPairingDataError):
        await client.pair_phone("+15550001111")
    assert not log.of(PairingCode) and client._code_pairing.hello is None
