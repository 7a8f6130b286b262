"""The Baileys peer harness itself: two Baileys accounts linked to one simulator, driven from
Python, surviving bad commands, and logging in again from saved credentials."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.baileys_fixtures import ALICE, BOB, alice, bob, sim
from tests.baileys_peer import BaileysPeer, BaileysPeerDied, BaileysPeerError
from tests.simulator_fixture import SimulatorInfo, admin

__all__ = ["alice", "bob", "sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]


async def test_two_accounts_linked(
    sim: SimulatorInfo, alice: BaileysPeer, bob: BaileysPeer
) -> None:
    assert alice.jid == f"{ALICE}@s.whatsapp.net" and bob.jid == f"{BOB}@s.whatsapp.net"
    assert alice.me["name"] == "Alice" and alice.lid and alice.lid.endswith("@lid")
    for phone, peer in ((ALICE, alice), (BOB, bob)):
        status, account = await admin(sim, "GET", f"/accounts/{phone}")
        assert status == 200
        [device] = account["devices"]
        assert device["jid"] == peer.me["id"] and device["connected"]


async def test_bad_commands_are_answered_not_fatal(alice: BaileysPeer) -> None:
    await alice.send_raw_line("this is not json")
    bad = await alice.wait_for(lambda e: e["event"] == "bad_command")
    assert "bad JSON" in bad["error"]
    with pytest.raises(BaileysPeerError, match="unknown command"):
        await alice.request("no_such_command")
    with pytest.raises(BaileysPeerError, match="unknown message"):
        await alice.vote({"id": "NOT-A-POLL", "remoteJid": alice.jid}, ["x"])
    with pytest.raises(BaileysPeerError):
        await alice.send("not a jid", {"text": "x"})
    assert await alice.request("ping") == "pong"


async def test_restart_keeps_account_and_sessions(
    sim: SimulatorInfo, alice: BaileysPeer, tmp_path: Path
) -> None:
    """A restarted peer logs in from its saved credentials (no QR) and its Signal sessions
    still work, both ways."""
    auth = tmp_path / "carol"
    async with BaileysPeer.start(
        sim, push_name="Carol", auth_dir=auth, phone="15550001009"
    ) as carol:
        first = carol.me
        assert any(e["event"] == "qr" for e in carol.events)
        key = await carol.send_text(alice.jid, "before the restart")
        await alice.wait_message(lambda m: m["key"]["id"] == key["id"])
    async with BaileysPeer.start(sim, push_name="Carol", auth_dir=auth) as again:
        assert again.me["id"] == first["id"]
        assert not any(e["event"] == "qr" for e in again.events)
        key = await again.send_text(alice.jid, "after the restart")
        event = await alice.wait_message(lambda m: m["key"]["id"] == key["id"])
        assert event["pushName"] == "Carol"
        key = await alice.send_text(again.jid, "welcome back")
        await again.wait_message(lambda m: m["key"]["id"] == key["id"])


async def test_connection_events_and_reconnect(sim: SimulatorInfo, tmp_path: Path) -> None:
    """A dropped connection is streamed as a close; with ``reconnect`` the peer opens again."""
    async with BaileysPeer.start(
        sim, push_name="Dave", auth_dir=tmp_path / "dave", phone="15550001008", reconnect=True
    ) as dave:
        await dave.wait_for(
            lambda e: e["event"] == "connection.update" and e["connection"] == "open"
        )
        status, body = await admin(
            sim, "POST", "/devices/drop", json.dumps({"jid": dave.me["id"]})
        )
        assert status == 200, body
        closed = await dave.wait_for(
            lambda e: e["event"] == "connection.update" and e["connection"] == "close"
        )
        assert closed["code"] is not None
        await dave.wait_for(
            lambda e: e["event"] == "connection.update" and e["connection"] == "open"
        )
        assert await dave.request("me") == dave.me


async def test_a_dead_peer_fails_waits_and_commands(sim: SimulatorInfo, tmp_path: Path) -> None:
    """If node dies, a pending wait and later commands fail at once (no hang until timeout)."""
    async with BaileysPeer.start(
        sim, push_name="Eve", auth_dir=tmp_path / "eve", phone="15550001007"
    ) as eve:
        waiting = asyncio.create_task(eve.wait_for(lambda e: e["event"] == "never", 30.0))
        eve.process.kill()
        with pytest.raises(BaileysPeerDied):
            await asyncio.wait_for(waiting, 10.0)
        with pytest.raises(BaileysPeerDied):
            await eve.request("ping")
