"""A misbehaving client costs the simulator only that client's connection.

One simulator (a real subprocess) serves every test here. In each test a well-behaved companion
(the bystander) stays connected while another connection sends garbage at one layer: the
connection header, the framing, the Noise handshake, the encrypted transport, the binary node,
or a stanza of the wrong shape for its handler. The misbehaving connection is closed or gets an
error reply; the fault is recorded in ``/admin/status`` ``protocol_errors``; the bystander keeps
getting answers; and the fixture fails the module if the simulator process died.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mautrix_whatsapp.whatsapp.binary import JID, Node
from mautrix_whatsapp.whatsapp.proto.wa_handshake_pb2 import HandshakeMessage
from mautrix_whatsapp.whatsapp.socket.errors import SocketClosedError
from mautrix_whatsapp.whatsapp.socket.frames import encode_frame
from mautrix_whatsapp.whatsapp.socket.noise_handshake import WA_CONN_HEADER
from tests.simulator_fixture import (
    ANY_PROTOCOL_ERROR,
    SimulatorClient,
    SimulatorInfo,
    admin,
    run_simulator,
)

from .simulator_strict_plugin import BROKEN_XMLNS, STRICT_TAG, STRICT_XMLNS
from .test_simulator import register

PLUGIN = "tests.whatsapp.simulator_strict_plugin"
WAIT_STEPS = 250
WAIT_STEP = 0.02


@pytest.fixture(scope="module")
def strict_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorInfo]:
    directory: Path = tmp_path_factory.mktemp("strict-simulator")
    with run_simulator(
        directory,
        extra_args=["--plugin", PLUGIN],
        expected_internal_errors=[BROKEN_XMLNS],
        expected_protocol_errors=ANY_PROTOCOL_ERROR,  # every test here sends garbage
    ) as info:
        yield info


@pytest.fixture
async def bystander(strict_simulator: SimulatorInfo) -> AsyncIterator[SimulatorClient]:
    client, _, _ = await register(strict_simulator)
    yield client
    await client.close()


async def status(info: SimulatorInfo) -> dict[str, Any]:
    code, body = await admin(info, "GET", "/status")
    assert code == 200
    return dict(body)


async def new_entries(info: SimulatorInfo, key: str, before: int) -> list[str]:
    """The entries of ``status[key]`` after the first ``before``, once there is at least one."""
    for _ in range(WAIT_STEPS):
        entries: list[str] = (await status(info))[key]
        if len(entries) > before:
            return entries[before:]
        await asyncio.sleep(WAIT_STEP)
    pytest.fail(f"no new {key} recorded")


async def ping(client: SimulatorClient, stanza_id: str) -> Node:
    request = Node("iq", {"id": stanza_id, "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"})
    return await client.request(request)


async def assert_served(client: SimulatorClient, stanza_id: str) -> None:
    assert (await ping(client, stanza_id)).attrs["type"] == "result"


async def connections_settle(info: SimulatorInfo, count: int) -> None:
    """Wait until the simulator holds exactly ``count`` connections (closed ones are gone)."""
    for _ in range(WAIT_STEPS):
        if len((await status(info))["connections"]) == count:
            return
        await asyncio.sleep(WAIT_STEP)
    pytest.fail(f"the simulator still holds {(await status(info))['connections']}")


# --- garbage before or during the handshake: the connection is closed ----------------------

HELLO_WITHOUT_KEY = HandshakeMessage(
    clientFinish=HandshakeMessage.ClientFinish(static=b"\x01" * 48, payload=b"\x02" * 20)
).SerializeToString()

RAW_CASES: dict[str, tuple[list[bytes | str], str]] = {
    "bad_header": ([b"XY\x06\x03" + encode_frame(b"hello")], "bad connection header"),
    "bad_routing_prefix": ([b"EX\x00\x01\x00\x00\x02ab"], "malformed ED routing prefix"),
    "text_message": (["hello"], "text websocket message"),
    "header_then_text": ([WA_CONN_HEADER, "hello"], "text websocket message"),
    "non_protobuf_hello": (
        [WA_CONN_HEADER + encode_frame(b"\x0a\xff\xff\xff\xff\x0f")],
        "client hello is not a HandshakeMessage",
    ),
    "finish_instead_of_hello": (
        [WA_CONN_HEADER + encode_frame(HELLO_WITHOUT_KEY)],
        "client hello lacks a 32-byte ephemeral key",
    ),
    "hello_with_short_key": (
        [
            WA_CONN_HEADER[:1],
            WA_CONN_HEADER[1:]
            + encode_frame(
                HandshakeMessage(
                    clientHello=HandshakeMessage.ClientHello(ephemeral=b"\x09" * 31)
                ).SerializeToString()
            ),
        ],
        "client hello lacks a 32-byte ephemeral key",
    ),
    "low_order_ephemeral": (
        [
            WA_CONN_HEADER
            + encode_frame(
                HandshakeMessage(
                    clientHello=HandshakeMessage.ClientHello(ephemeral=bytes(32))
                ).SerializeToString()
            )
        ],
        "client sent an unusable Curve25519 key",
    ),
}


@pytest.mark.parametrize("case", RAW_CASES, ids=str)
async def test_garbage_before_the_session_closes_only_that_connection(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient, case: str
) -> None:
    messages, expected = RAW_CASES[case]
    before = len((await status(strict_simulator))["protocol_errors"])
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(strict_simulator.websocket_url) as ws,
    ):
        for message in messages:
            if isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_bytes(message)
        answer = await ws.receive(timeout=10)
        assert answer.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), answer
    [error] = await new_entries(strict_simulator, "protocol_errors", before)
    assert expected in error
    await assert_served(bystander, f"after-{case}")
    await connections_settle(strict_simulator, 1)


async def test_connection_closed_inside_a_frame_is_recorded(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient
) -> None:
    before = len((await status(strict_simulator))["protocol_errors"])
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(strict_simulator.websocket_url) as ws,
    ):
        await ws.send_bytes(WA_CONN_HEADER + b"\x00\x00\x64" + b"only ten b")
    [error] = await new_entries(strict_simulator, "protocol_errors", before)
    assert "inside a frame (13 bytes of it received)" in error
    await assert_served(bystander, "after-truncated-frame")
    await connections_settle(strict_simulator, 1)


# --- garbage inside the encrypted session ---------------------------------------------------


async def test_undecryptable_frame_closes_only_that_connection(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient
) -> None:
    client, _, _ = await register(strict_simulator)
    try:
        before = len((await status(strict_simulator))["protocol_errors"])
        # A frame that was never encrypted: AES-GCM authentication fails, and since the
        # counters can no longer be trusted the session ends.
        await client.noise.frame_socket.send_frame(b"\x00" * 40)
        with pytest.raises(SocketClosedError):
            await client.receive(timeout=10)
    finally:
        await client.close()
    [error] = await new_entries(strict_simulator, "protocol_errors", before)
    assert "transport frame failed authentication" in error
    await assert_served(bystander, "after-undecryptable")
    await connections_settle(strict_simulator, 1)


@pytest.fixture
async def misbehaving(strict_simulator: SimulatorInfo) -> AsyncIterator[SimulatorClient]:
    """A second registered companion, the one that misbehaves inside its session."""
    client, _, _ = await register(strict_simulator)
    yield client
    await client.close()


async def test_undecodable_node_is_skipped(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient, misbehaving: SimulatorClient
) -> None:
    before = len((await status(strict_simulator))["protocol_errors"])
    await misbehaving.noise.send_frame(b"\x00\xf8\x05\x11")  # a list of 5 that stops after its tag
    [error] = await new_entries(strict_simulator, "protocol_errors", before)
    assert "undecodable node" in error
    # Both sessions go on.
    await assert_served(misbehaving, "after-undecodable")
    await assert_served(bystander, "after-undecodable")


async def test_iq_of_the_wrong_shape_gets_400(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient, misbehaving: SimulatorClient
) -> None:
    before = len((await status(strict_simulator))["protocol_errors"])
    attrs = {"to": "s.whatsapp.net", "type": "get", "xmlns": STRICT_XMLNS}
    for stanza_id, children in (
        ("no-item", None),
        ("no-number", [Node("item")]),
        ("not-a-number", [Node("item", {"n": "forty-one"})]),
    ):
        response = await misbehaving.request(Node("iq", {**attrs, "id": stanza_id}, children))
        assert response.attrs["type"] == "error"
        [error] = response.children
        assert error.attrs == {"code": "400", "text": "bad-request"}
    # Each fault is recorded before its reply is sent, so all three are there by now.
    errors = (await status(strict_simulator))["protocol_errors"][before:]
    assert len(errors) == 3
    assert all(f'malformed <iq xmlns="{STRICT_XMLNS}" type="get"' in e for e in errors)
    # The handler itself works, for this client and the bystander.
    good = Node("iq", {**attrs, "id": "good"}, [Node("item", {"n": "41"})])
    for client in (misbehaving, bystander):
        response = await client.request(good)
        assert response.attrs["type"] == "result"
        assert response.get_child_by_tag("item").attrs == {"n": "42"}


async def test_stanza_of_the_wrong_shape_is_recorded(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient, misbehaving: SimulatorClient
) -> None:
    before = len((await status(strict_simulator))["protocol_errors"])
    await misbehaving.send(Node(STRICT_TAG, {"to": "not a JID"}))
    [error] = await new_entries(strict_simulator, "protocol_errors", before)
    assert f"malformed <{STRICT_TAG}>" in error and "is not a JID" in error
    target = JID.parse("15551234567@s.whatsapp.net")
    await misbehaving.send(Node(STRICT_TAG, {"to": target}))
    answer = await misbehaving.receive()
    assert (answer.tag, answer.attrs) == (f"{STRICT_TAG}-ok", {"to": target})
    await assert_served(bystander, "after-wrong-stanza")


async def test_iq_without_id_is_recorded(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient, misbehaving: SimulatorClient
) -> None:
    before = len((await status(strict_simulator))["protocol_errors"])
    await misbehaving.send(Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}))
    [error] = await new_entries(strict_simulator, "protocol_errors", before)
    assert 'malformed iq <iq xmlns="w:p" type="get">' in error
    await assert_served(misbehaving, "after-no-id")
    await assert_served(bystander, "after-no-id")


async def test_handler_bug_gets_500_and_is_kept_apart(
    strict_simulator: SimulatorInfo, bystander: SimulatorClient, misbehaving: SimulatorClient
) -> None:
    """A handler that raises something other than a codec/shape error is the simulator's bug:
    error 500, recorded in internal_errors, not blamed on the client."""
    before = await status(strict_simulator)
    request = Node("iq", {"id": "bug", "to": "s.whatsapp.net", "type": "set"}, [Node("x")])
    request.attrs["xmlns"] = BROKEN_XMLNS
    response = await misbehaving.request(request)
    [error] = response.children
    assert error.attrs == {"code": "500", "text": "internal-server-error"}
    [internal] = await new_entries(
        strict_simulator, "internal_errors", len(before["internal_errors"])
    )
    assert f'IQ handler failed for <iq xmlns="{BROKEN_XMLNS}" type="set" id="bug"><x>' in internal
    assert (await status(strict_simulator))["protocol_errors"] == before["protocol_errors"]
    await assert_served(misbehaving, "after-bug")
    await assert_served(bystander, "after-bug")
