"""Bad input end to end: malformed Matrix events sent through the client-server API each get a
notice (replying to them, with the reason) and a failed delivery status, and the portal keeps
working; a WhatsApp message of a kind the bridge doesn't know gets a notice in the portal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import (
    TIMEOUT,
    DMWorld,
    dm_world,
    ghost_ids,
    notice_replying_to,
    status_of,
    text_event,
)
from tests.e2e.matrix_client import MatrixRequestError
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

pytestmark = [pytest.mark.synapse, pytest.mark.timeout(300)]

NOT_BRIDGED = "Your message was not bridged: "
WHATSAPP_LIMIT = 65536


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    return simulator_tls


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[DMWorld]:
    async for world in dm_world(synapse, simulator, matrix_user, tmp_path):
        yield world


def _nested_quote_html() -> str:
    """HTML under Synapse's 64 KiB event limit whose WhatsApp text is far over WhatsApp's
    65,536 characters: every line of 24 nested quotes gets 24 ``> `` prefixes."""
    depth = 24
    return "<blockquote>" * depth + "x<br>" * 11000 + "</blockquote>" * depth


BAD_EVENTS: list[tuple[str, dict[str, Any], str]] = [
    ("empty body", {"msgtype": "m.text", "body": ""}, "the message is empty"),
    ("unknown msgtype", {"msgtype": "m.hologram", "body": "3D"}, "m.hologram"),
    (
        "formatted_body too long for WhatsApp",
        {
            "msgtype": "m.text",
            "body": "quotes",
            "format": "org.matrix.custom.html",
            "formatted_body": _nested_quote_html(),
        },
        "too long for WhatsApp",
    ),
    (
        "m.in_reply_to not an object",
        {"msgtype": "m.text", "body": "x", "m.relates_to": {"m.in_reply_to": "$nope"}},
        "m.in_reply_to is not an object",
    ),
    (
        "m.relates_to not an object",
        {"msgtype": "m.text", "body": "x", "m.relates_to": "sideways"},
        "m.relates_to is not an object",
    ),
]


def _edit_of(event_id: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": "* fixed",
        "m.new_content": {"msgtype": "m.text", "body": "fixed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


@pytest.mark.parametrize("bridge_overrides", [{"bridge.message_status_events": True}])
async def test_malformed_matrix_events_get_a_notice_and_the_portal_keeps_working(
    world: DMWorld, synapse: SynapseInfo
) -> None:
    alice, user = world.alice, world.user
    await alice.send_text(world.our_jid, "hello")
    room = await user.wait_for_invite(timeout=TIMEOUT)
    await user.join(room)
    hello = await user.wait_for_event(room, text_event("hello"), TIMEOUT)
    ghost = hello["sender"]
    assert ghost in ghost_ids(synapse, alice)

    # Synapse itself refuses a 100 kB formatted_body (events are at most 64 KiB): it can't
    # reach the bridge, and the sender is told by their homeserver. The longest it lets through
    # is still cut short by WhatsApp's limit (below).
    huge = {"msgtype": "m.text", "body": "big", "formatted_body": "<b>x</b>" * 13000}
    huge["format"] = "org.matrix.custom.html"
    with pytest.raises(MatrixRequestError) as refused:
        await user.send_event(room, "m.room.message", huge)
    assert refused.value.status == 413
    # So does it a message without a body, with a number for one, or without a msgtype (the
    # bridge's answers to those, should another homeserver let them through, are in
    # tests/bridge/test_dms.py).
    for content, field in (
        ({"msgtype": "m.text"}, "'body'"),
        ({"msgtype": "m.text", "body": 42}, "'body'"),
        ({"body": "no type"}, "'msgtype'"),
    ):
        with pytest.raises(MatrixRequestError) as refused:
            await user.send_event(room, "m.room.message", content)
        assert refused.value.status == 400 and field in str(refused.value.body)

    # A relation to an event Synapse doesn't know is refused there too.
    with pytest.raises(MatrixRequestError) as refused:
        await user.send_event(room, "m.room.message", _edit_of("$no-such-event"))
    assert refused.value.status == 400

    not_bridged: list[str] = []
    for name, content, reason in BAD_EVENTS:
        event_id = await user.send_event(room, "m.room.message", content)
        not_bridged.append(event_id)
        notice = await user.wait_for_event(room, notice_replying_to(event_id), TIMEOUT)
        assert notice["sender"] == ghost, name
        body = notice["content"]["body"]
        assert body.startswith(NOT_BRIDGED) and reason in body, (name, body)
        status = await user.wait_for_event(room, status_of(event_id), TIMEOUT)
        assert status["content"]["status"] == "FAIL_PERMANENT", (name, status)
        assert status["content"]["reason"] == "com.beeper.unsupported_event", name
        assert status["content"]["error"] == body.removeprefix(NOT_BRIDGED), name

    # An edit of a Matrix event the bridge never sent (it was refused above): an m.relates_to
    # to an event unknown to the bridge.
    edit_id = await user.send_event(room, "m.room.message", _edit_of(not_bridged[0]))
    notice = await user.wait_for_event(room, notice_replying_to(edit_id), TIMEOUT)
    assert notice["content"]["body"].startswith(NOT_BRIDGED)
    status = await user.wait_for_event(room, status_of(edit_id), TIMEOUT)
    assert status["content"]["status"] == "FAIL_PERMANENT"

    # Media the homeserver can't serve: refused with a reason, nothing sent.
    missing = f"mxc://{synapse.server_name}/doesnotexist"
    image = {"msgtype": "m.image", "body": "cat.png", "url": missing, "info": {"size": 10}}
    event_id = await user.send_event(room, "m.room.message", image)
    notice = await user.wait_for_event(room, notice_replying_to(event_id), TIMEOUT)
    assert notice["content"]["body"].startswith(NOT_BRIDGED)
    await user.wait_for_event(room, status_of(event_id), TIMEOUT)

    # A reply to an event the bridge never saw goes out unquoted, and the sender is told.
    reply = {
        "msgtype": "m.text",
        "body": "answering nothing",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$never-bridged"}},
    }
    reply_id = await user.send_event(room, "m.room.message", reply)
    received = await alice.wait_message(lambda e: text_of(e) == "answering nothing", timeout=60)
    assert "stanzaId" not in str(received["message"])
    notice = await user.wait_for_event(room, notice_replying_to(reply_id), TIMEOUT)
    assert "without its reply" in notice["content"]["body"]

    # The portal still works, in order: Alice gets the next message, marked delivered; none
    # of the bad events reached her.
    ok_id = await user.send_text(room, "still working")
    await alice.wait_message(lambda e: text_of(e) == "still working", timeout=TIMEOUT)
    status = await user.wait_for_event(room, status_of(ok_id), TIMEOUT)
    assert status["content"]["status"] == "SUCCESS"
    assert status["sender"] == ghost
    from_us = [
        text_of(e)
        for e in alice.events
        if e["event"] == "messages.upsert" and not e["key"].get("fromMe")
    ]
    assert [t for t in from_us if t != "hello"] == ["answering nothing", "still working"]

    # WhatsApp → Matrix: a kind the bridge doesn't know (an event invitation) is a notice.
    await alice.request(
        "relay_raw",
        jid=world.our_jid,
        message={"eventMessage": {"name": "Picnic", "description": "Bring cake"}},
    )
    unknown = await user.wait_for_event(
        room,
        lambda e: (
            e.get("content", {}).get("msgtype") == "m.notice"
            and e.get("sender") == ghost
            and "Unknown message type" in e.get("content", {}).get("body", "")
        ),
        TIMEOUT,
    )
    assert unknown["content"]["body"] == (
        "Unknown message type, please view it on the WhatsApp app"
    )
    await alice.send_text(world.our_jid, "after the unknown one")
    await user.wait_for_event(room, text_event("after the unknown one"), TIMEOUT)
