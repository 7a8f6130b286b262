"""``client.app_state`` against a scripted app-state server: snapshots and patches fetched,
``has_more_patches`` followed, external blobs downloaded, MAC failures cured by a snapshot
resync, missing keys requested and the collection retried when they arrive, server_sync
notifications acked and followed, our own patches sent and the state caught up after.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp.appstate import PatchName
from mautrix_whatsapp.whatsapp.appstate import events as ev
from mautrix_whatsapp.whatsapp.appstate.encode import (
    MutationInfo,
    PatchInfo,
    build_archive,
    build_mark_chat_as_read,
    build_mute,
    build_pin,
    build_setting_push_name,
)
from mautrix_whatsapp.whatsapp.appstate.errors import (
    AppStateError,
    MalformedAppStateError,
    MismatchingContentMACError,
    MismatchingIndexMACError,
    MismatchingLTHashError,
    MismatchingPatchMACError,
    MissingKeysError,
    NoAppStateKeyError,
)
from mautrix_whatsapp.whatsapp.appstate.keys import INDEX_CONTACT
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.connection import NotConnectedError
from mautrix_whatsapp.whatsapp.message_info import MessageInfo
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2 as pb
from mautrix_whatsapp.whatsapp.proto import wa_sync_action_pb2 as sa
from mautrix_whatsapp.whatsapp.store import AppStateSyncKey
from tests.whatsapp.appstate_server import AppStateServer
from tests.whatsapp.canned_server import Answer, CannedServer, result

pytestmark = pytest.mark.timeout(60)

OWN = JID.parse("15550000:7@s.whatsapp.net")
ALICE = JID.parse("15550001@s.whatsapp.net")
BOB = JID.parse("15550002@s.whatsapp.net")


class World:
    """A client whose app-state IQs the scripted server answers."""

    def __init__(self) -> None:
        self.canned = CannedServer(own=OWN)
        self.client = self.canned.client
        self.log = self.canned.log
        self.server = AppStateServer()
        self.key_id = self.server.new_key()
        self.client.app_state.download = self.server.download
        self.key_requests: list[wa_e2e_pb2.Message] = []

        async def send_peer(message: wa_e2e_pb2.Message) -> None:
            self.key_requests.append(message)

        self.client.app_state.shares.send_peer = send_peer
        self.canned.answers = _Always(self.server.answer)

    async def give_key(self, key_id: bytes, timestamp: int = 1) -> None:
        """Our phone shares ``key_id``, as a protocol message from our own device 0."""
        share = wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE,
            appStateSyncKeyShare=wa_e2e_pb2.AppStateSyncKeyShare(
                keys=[
                    wa_e2e_pb2.AppStateSyncKey(
                        keyID=wa_e2e_pb2.AppStateSyncKeyId(keyID=key_id),
                        keyData=wa_e2e_pb2.AppStateSyncKeyData(
                            keyData=self.server.keys[key_id], timestamp=timestamp
                        ),
                    )
                ]
            ),
        )
        phone = OWN.to_non_ad()
        info = MessageInfo(phone, phone, "KEYSHARE", datetime.now(UTC), True, False)
        await self.client.messages._run_protocol_handlers(info, share)

    async def store_key(self, key_id: bytes) -> None:
        key = AppStateSyncKey(key_id, self.server.keys[key_id], b"", 1)
        await self.client.app_state.store.put_app_state_sync_key(key)

    async def state(self, name: str) -> tuple[int, bytes]:
        return await self.client.app_state.store.get_app_state_version(name)

    async def in_sync(self, name: str) -> bool:
        coll = self.server.collection(name)
        return await self.state(name) == (coll.state.version, coll.state.hash)


class _Always(list):  # type: ignore[type-arg]
    """An answer queue that never runs out: ``first`` answers, then ``answer`` for ever."""

    def __init__(self, answer: Answer, *first: Answer) -> None:
        super().__init__()
        self.answer = answer
        self.first = list(first)

    def __bool__(self) -> bool:
        return True

    def pop(self, _index: int = -1) -> Answer:  # type: ignore[override]
        return self.first.pop(0) if self.first else self.answer


def contact(jid: JID, full: str, first: str) -> PatchInfo:
    value = sa.SyncActionValue(contactAction=sa.ContactAction(fullName=full, firstName=first))
    return PatchInfo(
        PatchName.CRITICAL_UNBLOCK_LOW, [MutationInfo([INDEX_CONTACT, str(jid)], 2, value)]
    )


async def test_full_sync_from_snapshot_then_patches_with_more() -> None:
    world = World()
    server = world.server
    await world.store_key(world.key_id)
    await server.add(contact(ALICE, "Alice Liddell", "Alice"), world.key_id)
    await server.add(contact(BOB, "Bob", "Bob"), world.key_id)
    await server.add(build_setting_push_name("Me"), world.key_id)

    await world.client.app_state.fetch("critical_unblock_low")
    contacts = world.log.of(ev.Contact)
    assert {(c.jid, c.full_name, c.first_name) for c in contacts} == {
        (ALICE, "Alice Liddell", "Alice"),
        (BOB, "Bob", "Bob"),
    }
    assert all(c.from_full_sync for c in contacts)
    done = world.log.of(ev.AppStateSyncComplete)[-1]
    assert (done.name, done.version, done.full_sync) == ("critical_unblock_low", 2, True)
    snapshot_request = server.requests[-1].get_child_by_tag("sync", "collection")
    assert snapshot_request.attrs["return_snapshot"] == "true"
    assert await world.in_sync("critical_unblock_low")

    # Five more patches, pages of two: fetched from our version, following has_more_patches.
    await server.add(contact(ALICE, "Alice L.", "Alice"), world.key_id)
    for jid in (ALICE, BOB):
        await server.add(build_pin(jid, True), world.key_id)
    await world.client.app_state.fetch("regular_low")  # its first sync: a snapshot
    await server.add(build_pin(BOB, False), world.key_id)
    await server.add(build_archive(ALICE, True), world.key_id)
    await server.add(build_mark_chat_as_read(BOB, False), world.key_id)
    before = len(server.requests)
    await world.client.app_state.fetch("regular_low")
    versions = [
        r.get_child_by_tag("sync", "collection").attrs["version"] for r in server.requests[before:]
    ]
    assert versions == ["2", "4"]
    pins = [e for e in world.log.of(ev.Pin) if not e.from_full_sync]
    assert [(p.jid, p.pinned) for p in pins] == [(BOB, False), (ALICE, False)]
    archive = world.log.of(ev.Archive)[-1]
    assert archive.jid == ALICE and archive.archived and not archive.from_full_sync
    read = world.log.of(ev.MarkChatAsRead)[-1]
    assert read.jid == BOB and not read.read
    assert await world.in_sync("regular_low")


async def test_server_sync_notification_is_acked_and_followed() -> None:
    world = World()
    await world.store_key(world.key_id)
    await world.server.add(build_pin(ALICE, True), world.key_id)
    await world.client.app_state.fetch("regular_low")
    await world.server.add(build_mute(ALICE, True), world.key_id)
    world.server.external_patches = True
    notification = Node(
        "notification",
        {"id": "N1", "type": "server_sync", "from": "s.whatsapp.net", "t": "1700000000"},
        [Node("collection", {"name": "regular_high", "version": "1"})],
    )
    await world.canned.feed(notification)
    ack = world.canned.sent[-1]
    assert ack.tag == "ack" and ack.attrs["id"] == "N1"
    mute = await world.log.wait_for(ev.Mute)
    assert mute.jid == ALICE and mute.muted and mute.muted_until == ev.MUTED_FOREVER
    # regular_high was never synced: a snapshot. Then a patch with external mutations.
    await world.server.add(build_mute(ALICE, False), world.key_id)
    await world.canned.feed(notification)
    unmute = await world.log.wait_for(ev.Mute, count=2)
    assert not unmute.muted and not unmute.from_full_sync
    assert await world.in_sync("regular_high")


@pytest.mark.parametrize(
    "corruption",
    ["patch_mac", "snapshot_mac", "value_mac", "index_mac", "value_truncated"],
)
async def test_corrupt_patch_triggers_snapshot_resync(corruption: str) -> None:
    world = World()
    server = world.server
    await world.store_key(world.key_id)
    await server.add(build_pin(ALICE, True), world.key_id)
    await world.client.app_state.fetch("regular_low")
    coll = server.collection("regular_low")
    await server.add(build_pin(BOB, True), world.key_id)
    # The patch as served is corrupted; the server's records (and so its snapshot) stay sound.
    bad = pb.SyncdPatch()
    bad.CopyFrom(coll.patches[-1])
    coll.patches[-1] = bad
    record = bad.mutations[0].record
    if corruption == "patch_mac":
        bad.patchMAC = bytes(32)
    elif corruption == "snapshot_mac":
        bad.snapshotMAC = bytes(32)
    elif corruption == "value_mac":
        record.value.blob = record.value.blob[:20] + b"\xff" + record.value.blob[21:]
    elif corruption == "index_mac":
        record.index.blob = os.urandom(32)
    else:
        record.value.blob = record.value.blob[:40]
    await world.client.app_state.fetch("regular_low")
    error = world.log.of(ev.AppStateSyncError)[0]
    assert error.resyncing and error.name == "regular_low"
    expected = {
        "patch_mac": MismatchingPatchMACError,
        "snapshot_mac": MismatchingLTHashError,
        "value_mac": MismatchingContentMACError,
        "index_mac": MismatchingIndexMACError,
        "value_truncated": AppStateError,
    }[corruption]
    assert isinstance(error.error, expected)
    done = world.log.of(ev.AppStateSyncComplete)[-1]
    assert done.full_sync and done.version == coll.state.version
    assert await world.in_sync("regular_low")
    final = {p.jid: p.pinned for p in world.log.of(ev.Pin) if p.from_full_sync}
    assert final[BOB] is True and final[ALICE] is True


async def test_malformed_answers_are_typed_errors() -> None:
    world = World()
    await world.store_key(world.key_id)

    def no_collection(request: Node) -> Node:
        return result(request, Node("sync", {}))

    world.canned.answers = _Always(world.server.answer, no_collection, no_collection)
    with pytest.raises(MalformedAppStateError):
        await world.client.app_state.fetch("regular")
    errors = world.log.of(ev.AppStateSyncError)
    assert [e.resyncing for e in errors] == [True, False]

    def bad_patch(request: Node) -> Node:
        coll = Node(
            "collection",
            {"name": "regular", "version": "3"},
            [Node("patches", {}, [Node("patch", {}, b"\xff\xff\xff")])],
        )
        return result(request, Node("sync", {}, [coll]))

    await world.server.add(build_pin(ALICE, True), world.key_id)
    await world.client.app_state.fetch("regular_low")
    world.canned.answers = _Always(world.server.answer, bad_patch)
    await world.server.add(build_pin(BOB, True), world.key_id)
    await world.client.app_state.fetch("regular_low")  # cured by the snapshot
    assert isinstance(world.log.of(ev.AppStateSyncError)[-1].error, MalformedAppStateError)
    assert await world.in_sync("regular_low")


async def test_missing_key_is_requested_and_collection_retried_on_share() -> None:
    world = World()
    server = world.server
    await server.add(contact(ALICE, "Alice Liddell", "Alice"), world.key_id)
    with pytest.raises(MissingKeysError) as raised:
        await world.client.app_state.fetch("critical_unblock_low")
    assert raised.value.key_ids == [world.key_id]
    missing = world.log.of(ev.AppStateKeysMissing)[0]
    assert missing.key_ids == [world.key_id]
    request = world.key_requests[0].protocolMessage
    assert request.type == wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST
    assert [k.keyID for k in request.appStateSyncKeyRequest.keyIDs] == [world.key_id]
    # Asked once a day at most.
    with pytest.raises(MissingKeysError):
        await world.client.app_state.fetch("critical_unblock_low")
    assert len(world.key_requests) == 1

    await world.give_key(world.key_id)
    found = await world.log.wait_for(ev.Contact)
    assert found.jid == ALICE and found.full_name == "Alice Liddell"
    assert await world.in_sync("critical_unblock_low")


async def test_send_our_patch_and_catch_up() -> None:
    world = World()
    server = world.server
    old = world.key_id
    await world.give_key(old, timestamp=1)
    await server.add(build_pin(ALICE, True), old)
    await world.client.app_state.fetch("regular_low")
    newer = server.new_key()
    await world.give_key(newer, timestamp=5)

    await world.client.app_state.send(build_archive(BOB, True))
    sent = server.received[-1]
    assert {m.record.keyID.ID for m in sent.mutations} == {newer}
    assert await world.in_sync("regular_low")
    archive = await world.log.wait_for(ev.Archive)
    assert archive.jid == BOB and archive.archived and not archive.from_full_sync

    # Someone else got there first (409): caught up, then our patch goes on top.
    await server.add(build_mute(ALICE, True), old)
    server.conflicts = 1
    await world.client.app_state.send(build_mute(BOB, True))
    assert await world.in_sync("regular_high")
    assert {(m.jid, m.muted) for m in world.log.of(ev.Mute)} == {(ALICE, True), (BOB, True)}
    assert len(server.received) == 2


async def test_send_without_keys_is_refused() -> None:
    world = World()
    with pytest.raises(NoAppStateKeyError):
        await world.client.app_state.send(build_pin(ALICE, True))


async def test_lost_connection_stops_the_sync_quietly() -> None:
    world = World()
    await world.store_key(world.key_id)
    tried: list[Node] = []

    async def down(node: Node) -> None:
        tried.append(node)
        raise NotConnectedError("not connected")

    world.client.send_node = down  # type: ignore[method-assign]
    await world.client.app_state.fetch_all()
    assert len(tried) == 1  # the first collection, then it stopped
    with pytest.raises(NotConnectedError):
        await world.client.app_state.fetch("regular")
    assert not world.log.of(ev.AppStateSyncError)


async def test_patches_verified_before_a_missing_key_are_reported() -> None:
    world = World()
    server = world.server
    await world.store_key(world.key_id)
    await server.add(build_pin(ALICE, True), world.key_id)
    await world.client.app_state.fetch("regular_low")
    other = server.new_key()
    await server.add(build_pin(BOB, True), world.key_id)  # v2: a key we have
    await server.add(build_pin(ALICE, False), other)  # v3: one we lack (same page)
    with pytest.raises(MissingKeysError):
        await world.client.app_state.fetch("regular_low")
    assert [(p.jid, p.pinned) for p in world.log.of(ev.Pin) if not p.from_full_sync] == [
        (BOB, True)
    ]
    assert (await world.state("regular_low"))[0] == 2
    await world.give_key(other)
    unpinned = await world.log.wait_for(ev.Pin, count=3)
    assert (unpinned.jid, unpinned.pinned, unpinned.from_full_sync) == (ALICE, False, False)
    assert await world.in_sync("regular_low")
