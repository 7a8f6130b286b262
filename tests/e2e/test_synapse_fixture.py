"""The Synapse fixture itself: real users talk, media round-trips, the bridge's AS is loaded."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import MakeUser
from tests.e2e.matrix_client import MatrixRequestError
from tests.e2e.synapse import SynapseInfo, SynapseStartError, run_synapse

pytestmark = pytest.mark.synapse


async def test_invite_join_and_message_via_sync(matrix_user: MakeUser) -> None:
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    room = await alice.create_room(name="fixture test")
    await alice.invite(room, bob.user_id)

    assert await bob.wait_for_invite(room) == room
    assert await bob.join(room) == room
    await alice.wait_for_join(room, bob.user_id)
    assert set(await alice.joined_members(room)) == {alice.user_id, bob.user_id}

    event_id = await alice.send_text(room, "hello bob")
    event = await bob.wait_for_event(
        room, lambda e: e["type"] == "m.room.message" and e["sender"] == alice.user_id
    )
    assert event["event_id"] == event_id
    assert event["content"] == {"msgtype": "m.text", "body": "hello bob"}
    fetched = await bob.get_event(room, event_id)
    assert fetched["content"]["body"] == "hello bob"

    # A matched event is returned once; the next wait needs a new event.
    second = await bob.send_text(room, "and back")
    again = await bob.wait_for_event(room, lambda e: e["type"] == "m.room.message")
    assert again["event_id"] == second


async def test_wait_for_event_times_out_with_what_it_saw(matrix_user: MakeUser) -> None:
    alice = await matrix_user("alice")
    room = await alice.create_room()
    await alice.send_text(room, "not it")
    with pytest.raises(TimeoutError, match="not it"):
        await alice.wait_for_event(room, lambda e: e["type"] == "m.never", timeout=0.5)


async def test_dm_is_direct(matrix_user: MakeUser) -> None:
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    room = await alice.create_dm(bob.user_id)
    await bob.wait_for_invite(room)
    await bob.join(room)
    member = await alice.wait_for_event(
        room,
        lambda e: (
            e["type"] == "m.room.member"
            and e["state_key"] == bob.user_id
            and e["content"]["membership"] == "invite"
        ),
    )
    assert member["content"].get("is_direct") is True


async def test_media_round_trip_through_authenticated_api(matrix_user: MakeUser) -> None:
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    payload = os.urandom(70_000)
    mxc = await alice.upload(payload, "application/octet-stream", "blob.bin")
    assert mxc.startswith("mxc://localhost/")
    assert await bob.download_media(mxc) == payload
    with pytest.raises(ValueError):
        await bob.download_media("https://example.com/x")


async def test_bridge_registration_is_loaded(synapse: SynapseInfo, matrix_user: MakeUser) -> None:
    headers = {"Authorization": f"Bearer {synapse.as_token}"}
    ghost = "whatsapp_fixtureprobe"
    async with aiohttp.ClientSession() as http:
        # The appservice may register users in its namespace with its as_token ...
        async with http.post(
            f"{synapse.base_url}/_matrix/client/v3/register",
            json={"type": "m.login.application_service", "username": ghost, "inhibit_login": True},
            headers=headers,
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["user_id"] == f"@{ghost}:localhost"
        # ... and act as its bot without registering it.
        async with http.get(
            f"{synapse.base_url}/_matrix/client/v3/account/whoami", headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["user_id"] == synapse.bot_mxid
        # A wrong token is not an appservice.
        async with http.get(
            f"{synapse.base_url}/_matrix/client/v3/account/whoami",
            headers={"Authorization": "Bearer not-the-as-token"},
        ) as resp:
            assert resp.status == 401

    # The namespace is exclusive: a real user cannot take a ghost's name.
    with pytest.raises(MatrixRequestError) as info:
        await synapse.register_user("whatsapp_123", "pw")
    assert info.value.status == 400
    assert synapse.registration_path.is_file()


async def test_synapse_pushes_to_the_reserved_bridge_port(synapse: SynapseInfo) -> None:
    """A stand-in appservice on ``bridge_port`` receives Synapse's ping with the hs_token."""
    from aiohttp import web

    received: list[tuple[str, str | None]] = []

    async def ping(request: web.Request) -> web.Response:
        received.append((request.path, request.headers.get("Authorization")))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/_matrix/app/v1/ping", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", synapse.bridge_port)
    await site.start()
    try:
        status, body = await synapse.ping_appservice("fixture")
        assert status == 200, body
    finally:
        await runner.cleanup()
    assert received == [("/_matrix/app/v1/ping", f"Bearer {synapse.hs_token}")]


def test_start_failure_reports_the_log(tmp_path: Path) -> None:
    broken = {"database": {"name": "no_such_engine", "args": {}}}
    with (
        pytest.raises(SynapseStartError, match="no_such_engine") as info,
        run_synapse(tmp_path, extra_config=broken, start_timeout=30),
    ):
        pass
    assert "exited with code" in str(info.value)
