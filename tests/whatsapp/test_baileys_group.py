"""A Baileys group through the simulator (``w:g2`` and group fan-out): three real clients, one
group; members who join receive, members who were removed do not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.baileys_fixtures import alice, bob, carol, sim
from tests.baileys_peer import BaileysPeer, Event, text_of, user_of

__all__ = ["alice", "bob", "carol", "sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]


def members(metadata: dict[str, Any]) -> dict[str, str | None]:
    """Participants of group metadata by phone number (or LID user), with their admin level."""
    out: dict[str, str | None] = {}
    for participant in metadata["participants"]:
        jid = participant.get("phoneNumber") or participant["id"]
        out[user_of(jid)] = participant.get("admin")
    return out


def is_peer(peer: BaileysPeer, participant: dict[str, Any]) -> bool:
    """Whether a ``GroupParticipant`` (``id`` a LID or phone JID, maybe ``phoneNumber``) is
    ``peer``."""
    return peer.is_me(participant.get("id")) or peer.is_me(participant.get("phoneNumber"))


def in_group(group: str, text: str) -> Any:
    def match(event: Event) -> bool:
        return event["key"]["remoteJid"] == group and text_of(event) == text

    return match


async def test_group_lifecycle(alice: BaileysPeer, bob: BaileysPeer, carol: BaileysPeer) -> None:
    created = await alice.group_create("Trio", [bob.jid])
    group = created["id"]
    assert group.endswith("@g.us") and created["subject"] == "Trio"
    assert members(created) == {user_of(alice.jid): "superadmin", user_of(bob.jid): None}
    upsert = await bob.wait_for(
        lambda e: e["event"] == "groups.upsert" and any(g["id"] == group for g in e["data"])
    )
    [seen] = [g for g in upsert["data"] if g["id"] == group]
    assert seen["subject"] == "Trio"

    # Subject and description changes reach the other member.
    await alice.group_update_subject(group, "Trio!")
    await bob.wait_for(
        lambda e: (
            e["event"] == "groups.update"
            and any(g["id"] == group and g.get("subject") == "Trio!" for g in e["data"])
        )
    )
    await alice.group_update_description(group, "three of us")
    await bob.wait_for(
        lambda e: (
            e["event"] == "groups.update"
            and any(g["id"] == group and g.get("desc") == "three of us" for g in e["data"])
        )
    )

    # A message reaches the other member, from Alice, in the group chat.
    key = await alice.send_text(group, "hi both")
    event = await bob.wait_message(in_group(group, "hi both"))
    assert event["key"]["id"] == key["id"] and alice.is_me(event["key"]["participant"])
    assert event["pushName"] == "Alice"

    # Carol is added, learns of it, and receives what follows (not what came before).
    [result] = await alice.group_participants_update(group, [carol.jid], "add")
    assert str(result["status"]) == "200", result
    await carol.wait_for(
        lambda e: (
            e["event"] in ("groups.upsert", "group-participants.update")
            and group in str(e["data"])
        )
    )
    key = await alice.send_text(group, "welcome Carol")
    for peer in (bob, carol):
        event = await peer.wait_message(in_group(group, "welcome Carol"))
        assert event["key"]["id"] == key["id"]
    assert not carol.unconsumed(
        lambda e: e["event"] == "messages.upsert" and text_of(e) == "hi both"
    )
    metadata = await carol.group_metadata(group)
    assert set(members(metadata)) == {user_of(p.jid) for p in (alice, bob, carol)}

    # Bob is removed: he is told, and no longer receives the group's messages.
    [result] = await alice.group_participants_update(group, [bob.jid], "remove")
    assert str(result["status"]) == "200", result
    removal = await bob.wait_for(
        lambda e: (
            e["event"] == "group-participants.update"
            and e["data"]["id"] == group
            and e["data"]["action"] == "remove"
        )
    )
    assert any(is_peer(bob, p) for p in removal["data"]["participants"])
    await alice.send_text(group, "just us now")
    await carol.wait_message(in_group(group, "just us now"))
    # Sent after the group message: once Bob has it, the group message would have come first.
    marker = await alice.send_text(bob.jid, "after the group message")
    await bob.wait_message(lambda m: m["key"]["id"] == marker["id"])
    assert not bob.unconsumed(
        lambda e: e["event"] == "messages.upsert" and text_of(e) == "just us now"
    )
    assert set(members(await alice.group_metadata(group))) == {
        user_of(alice.jid),
        user_of(carol.jid),
    }


def participants_update(group: str, action: str, peer: BaileysPeer) -> Any:
    def match(event: Event) -> bool:
        data = event["data"] if event["event"] == "group-participants.update" else {}
        return (
            data.get("id") == group
            and data.get("action") == action
            and any(is_peer(peer, p) for p in data["participants"])
        )

    return match


async def test_admins_invite_and_leave(
    alice: BaileysPeer, bob: BaileysPeer, carol: BaileysPeer
) -> None:
    group = (await alice.group_create("Admins", [bob.jid]))["id"]
    await bob.wait_for(
        lambda e: e["event"] == "groups.upsert" and any(g["id"] == group for g in e["data"])
    )

    for action, level in (("promote", "admin"), ("demote", None)):
        [result] = await alice.group_participants_update(group, [bob.jid], action)
        assert str(result["status"]) == "200", result
        await bob.wait_for(participants_update(group, action, bob))
        assert members(await bob.group_metadata(group))[user_of(bob.jid)] == level

    code = await alice.group_invite_code(group)
    assert code
    assert await carol.group_accept_invite(code) == group
    await alice.wait_for(participants_update(group, "add", carol))
    assert group in await carol.group_fetch_all()

    await carol.group_leave(group)
    await alice.wait_for(participants_update(group, "remove", carol))
    assert set(members(await alice.group_metadata(group))) == {
        user_of(alice.jid),
        user_of(bob.jid),
    }
