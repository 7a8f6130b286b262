"""App-state pieces alone: mutations to typed events, and bad input to typed errors."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp.appstate import events as ev
from mautrix_whatsapp.whatsapp.appstate.decode import (
    Decoder,
    ExternalBlobError,
    Mutation,
    PatchList,
    parse_patch_list,
)
from mautrix_whatsapp.whatsapp.appstate.errors import KeyNotFoundError, MalformedAppStateError
from mautrix_whatsapp.whatsapp.appstate.hash import REMOVE, SET, HashState, content_mac, index_mac
from mautrix_whatsapp.whatsapp.appstate.keys import KeyCache, expand_keys
from mautrix_whatsapp.whatsapp.appstate.keyshare import KeyShares
from mautrix_whatsapp.whatsapp.appstate.lthash import subtract_then_add
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto.cbc import encrypt
from mautrix_whatsapp.whatsapp.message_info import MessageInfo
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2 as pb
from mautrix_whatsapp.whatsapp.proto import wa_sync_action_pb2 as sa
from mautrix_whatsapp.whatsapp.store import AppStateSyncKey, MemoryAppStateStore
from tests.whatsapp.test_client_helpers import offline_client

ALICE = "15550001@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
TS = 1_700_000_000_123


def mutation(index: list[str], value: sa.SyncActionValue, op: int = SET) -> Mutation:
    value.timestamp = TS
    return Mutation(op, index, value, 1, b"i" * 32, b"v" * 32, b"k", 3)


def test_mutations_become_typed_events() -> None:
    v = sa.SyncActionValue
    cases: list[tuple[list[str], sa.SyncActionValue]] = [
        (["contact", ALICE], v(contactAction=sa.ContactAction(fullName="A L", firstName="A"))),
        (["lid_contact", "1234@lid"], v(lidContactAction=sa.LidContactAction(fullName="L"))),
        (["setting_pushName"], v(pushNameSetting=sa.PushNameSetting(name="Me"))),
        (["pin_v1", ALICE], v(pinAction=sa.PinAction(pinned=True))),
        (["archive", GROUP], v(archiveChatAction=sa.ArchiveChatAction(archived=True))),
        (["mute", ALICE], v(muteAction=sa.MuteAction(muted=True, muteEndTimestamp=-1))),
        (["mute", ALICE], v(muteAction=sa.MuteAction(muted=True, muteEndTimestamp=TS))),
        (["mute", ALICE], v(muteAction=sa.MuteAction(muted=False))),
        (["markChatAsRead", ALICE], v(markChatAsReadAction=sa.MarkChatAsReadAction(read=False))),
        (["star", ALICE, "M1", "1", "0"], v(starAction=sa.StarAction(starred=True))),
        (["star", GROUP, "M2", "0", ALICE], v(starAction=sa.StarAction(starred=False))),
        (["deleteChat", ALICE, "1"], v(deleteChatAction=sa.DeleteChatAction())),
        (["clearChat", ALICE, "1", "0"], v(clearChatAction=sa.ClearChatAction())),
    ]
    got = [ev.to_event("c", mutation(i, val), full_sync=True) for i, val in cases]
    at = datetime.fromtimestamp(TS / 1000, UTC)
    alice, group = JID.parse(ALICE), JID.parse(GROUP)
    assert [type(e) for e in got] == [
        ev.Contact, ev.LIDContact, ev.PushNameSetting, ev.Pin, ev.Archive, ev.Mute, ev.Mute,
        ev.Mute, ev.MarkChatAsRead, ev.Star, ev.Star, ev.DeleteChat, ev.ClearChat,
    ]  # fmt: skip
    contact, lid, push, pin, archive, forever, until, unmuted, read, star1, star2, dc, cc = got
    assert isinstance(contact, ev.Contact)
    assert (contact.jid, contact.full_name, contact.first_name) == (alice, "A L", "A")
    assert contact.timestamp == at and contact.from_full_sync
    assert isinstance(lid, ev.LIDContact) and lid.jid.is_lid and lid.full_name == "L"
    assert isinstance(push, ev.PushNameSetting) and push.name == "Me"
    assert isinstance(pin, ev.Pin) and pin.pinned and pin.jid == alice
    assert isinstance(archive, ev.Archive) and archive.archived and archive.jid == group
    assert isinstance(forever, ev.Mute) and forever.muted_until == ev.MUTED_FOREVER
    assert isinstance(until, ev.Mute) and until.muted_until == at
    assert isinstance(unmuted, ev.Mute) and not unmuted.muted and unmuted.muted_until is None
    assert isinstance(read, ev.MarkChatAsRead) and not read.read
    assert isinstance(star1, ev.Star) and star1.sender is None and star1.is_from_me
    assert star1.message_id == "M1" and star1.starred
    assert isinstance(star2, ev.Star) and star2.sender == alice and not star2.starred
    assert isinstance(dc, ev.DeleteChat) and dc.delete_media
    assert isinstance(cc, ev.ClearChat) and not cc.delete_media


def test_other_mutations_stay_raw() -> None:
    value = sa.SyncActionValue(unarchiveChatsSetting=sa.UnarchiveChatsSetting(unarchiveChats=True))
    for index, op in [
        (["setting_unarchiveChats"], SET),  # no typed event for it
        (["pin_v1", ALICE], REMOVE),  # removals are raw
        (["pin_v1", "not a jid"], SET),  # an unusable target
        (["star", ALICE, "M1"], SET),  # too short
    ]:
        event = ev.to_event("regular_low", mutation(index, value, op), full_sync=False)
        assert isinstance(event, ev.AppStateMutation)
        assert (event.collection, event.operation, event.index) == ("regular_low", op, index)
        assert event.value.unarchiveChatsSetting.unarchiveChats


KEY_ID = b"\x00\x07"


async def _decoder() -> tuple[Decoder, bytes]:
    store = MemoryAppStateStore()
    data = os.urandom(32)
    await store.put_app_state_sync_key(AppStateSyncKey(KEY_ID, data, b"", 1))
    return Decoder(store, KeyCache(store)), data


def _record(data: bytes, index: bytes, plaintext: bytes | None = None) -> pb.SyncdRecord:
    """A record as the phone makes it, of ``index`` (raw bytes, maybe not JSON)."""
    keys = expand_keys(data)
    action = sa.SyncActionData(index=index, value=sa.SyncActionValue(), version=1)
    iv = os.urandom(16)
    body = plaintext if plaintext is not None else action.SerializeToString()
    content = iv + encrypt(keys.value_encryption, iv, body)
    return pb.SyncdRecord(
        index=pb.SyncdIndex(blob=index_mac(index, keys.index)),
        value=pb.SyncdValue(blob=content + content_mac(SET, content, KEY_ID, keys.value_mac)),
        keyID=pb.KeyId(ID=KEY_ID),
    )


def _snapshot(data: bytes, *records: pb.SyncdRecord) -> pb.SyncdSnapshot:
    state = HashState(version=1)
    state.hash = subtract_then_add(state.hash, [], [r.value.blob[-32:] for r in records])
    return pb.SyncdSnapshot(
        version=pb.SyncdVersion(version=1),
        records=list(records),
        mac=state.snapshot_mac("regular", expand_keys(data).snapshot_mac),
        keyID=pb.KeyId(ID=KEY_ID),
    )


async def test_snapshot_decodes() -> None:
    decoder, data = await _decoder()
    good = _record(data, json.dumps(["pin_v1", ALICE]).encode())
    mutations, state = await decoder.decode(
        PatchList("regular", False, [], _snapshot(data, good)), HashState()
    )
    assert [m.index for m in mutations] == [["pin_v1", ALICE]] and state.version == 1
    assert await decoder.store.get_app_state_version("regular") == (1, state.hash)


@pytest.mark.parametrize(
    ("index", "plaintext"),
    [
        (b"not json", None),
        (b'{"a": 1}', None),
        (b"[]", None),
        (b'["x", 1]', None),
        (b'["x"]', b"\x0a\xff\xff"),  # a truncated protobuf
    ],
)
async def test_bad_records_are_typed_errors(index: bytes, plaintext: bytes | None) -> None:
    decoder, data = await _decoder()
    bad = _record(data, index, plaintext)
    with pytest.raises(MalformedAppStateError):
        await decoder.decode(PatchList("regular", False, [], _snapshot(data, bad)), HashState())


async def test_value_not_whole_blocks_and_unknown_key() -> None:
    decoder, data = await _decoder()
    keys = expand_keys(data)
    content = os.urandom(16 + 17)
    record = pb.SyncdRecord(
        index=pb.SyncdIndex(blob=os.urandom(32)),
        value=pb.SyncdValue(blob=content + content_mac(SET, content, KEY_ID, keys.value_mac)),
        keyID=pb.KeyId(ID=KEY_ID),
    )
    with pytest.raises(MalformedAppStateError):
        await decoder.decode(PatchList("regular", False, [], _snapshot(data, record)), HashState())
    record.keyID.ID = b"\x09\x09"
    snapshot = _snapshot(data, record)
    with pytest.raises(KeyNotFoundError) as raised:
        await decoder.decode(PatchList("regular", False, [], snapshot), HashState())
    assert raised.value.key_id == b"\x09\x09"


async def _no_download(ref: pb.ExternalBlobReference) -> bytes:
    raise ConnectionError("media host down")


async def _empty_download(ref: pb.ExternalBlobReference) -> bytes:
    return b""


async def test_malformed_collections_are_typed_errors() -> None:
    def collection(*children: Node, **attrs: str) -> Node:
        return Node("collection", {"name": "regular", **attrs}, list(children) or None)

    with pytest.raises(MalformedAppStateError):
        await parse_patch_list(Node("collection", {}), _no_download)
    with pytest.raises(MalformedAppStateError):
        await parse_patch_list(collection(Node("snapshot", {}, b"\xff\xff")), _no_download)
    ref = pb.ExternalBlobReference(directPath="/v/x", mediaKey=os.urandom(32))
    with pytest.raises(ExternalBlobError):
        await parse_patch_list(
            collection(Node("snapshot", {}, ref.SerializeToString())), _no_download
        )
    patch = pb.SyncdPatch(version=pb.SyncdVersion(version=2), externalMutations=ref)
    patches = Node("patches", {}, [Node("patch", {}, patch.SerializeToString())])
    with pytest.raises(MalformedAppStateError):  # the blob holds no mutations
        await parse_patch_list(collection(patches), _empty_download)
    bad = Node("patches", {}, [Node("patch", {}, b"\x0a\x05")])
    with pytest.raises(MalformedAppStateError):
        await parse_patch_list(collection(bad), _no_download)
    parsed = await parse_patch_list(collection(has_more_patches="true"), _no_download)
    assert parsed.has_more_patches and parsed.patches == [] and parsed.snapshot is None


async def test_key_shares_skip_empty_keys_and_requests_are_rate_limited() -> None:
    store = MemoryAppStateStore()
    sent: list[object] = []
    arrived: list[bool] = []

    async def send_peer(message: object) -> None:
        sent.append(message)

    async def on_keys(answered: bool) -> None:
        arrived.append(answered)

    shares = KeyShares(store, send_peer, on_keys, logging.getLogger("test"))
    assert await shares.request([b"\x01", b"\x02"]) == [b"\x01", b"\x02"]
    assert await shares.request([b"\x02", b"\x03"]) == [b"\x03"]
    assert len(sent) == 2
    share = wa_e2e_pb2.ProtocolMessage(
        appStateSyncKeyShare=wa_e2e_pb2.AppStateSyncKeyShare(
            keys=[
                wa_e2e_pb2.AppStateSyncKey(keyID=wa_e2e_pb2.AppStateSyncKeyId(keyID=b"\x01")),
                wa_e2e_pb2.AppStateSyncKey(
                    keyID=wa_e2e_pb2.AppStateSyncKeyId(keyID=b"\x02"),
                    keyData=wa_e2e_pb2.AppStateSyncKeyData(keyData=b"k" * 32, timestamp=9),
                ),
            ]
        )
    )
    own = JID.parse(ALICE)
    info = MessageInfo(own, own, "S", datetime.now(UTC), True, False)
    await shares.handle_share(info, share)
    assert await store.get_app_state_sync_key(b"\x01") is None
    key = await store.get_app_state_sync_key(b"\x02")
    assert key is not None and key.data == b"k" * 32 and key.timestamp == 9
    assert arrived == [True]


async def test_key_shares_only_from_our_own_devices() -> None:
    """A share from someone else is not stored; one from our own phone is (through the
    message handler, as a decrypted message would go)."""
    own = JID.parse("15550000@s.whatsapp.net")
    client, _store, _log, _sent = offline_client()
    client.device.jid = JID.parse("15550000:4@s.whatsapp.net")
    fetched: list[bool] = []

    async def on_keys(answered: bool) -> None:
        fetched.append(answered)

    client.app_state.shares.on_keys = on_keys
    message = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE,
            appStateSyncKeyShare=wa_e2e_pb2.AppStateSyncKeyShare(
                keys=[
                    wa_e2e_pb2.AppStateSyncKey(
                        keyID=wa_e2e_pb2.AppStateSyncKeyId(keyID=b"\x05"),
                        keyData=wa_e2e_pb2.AppStateSyncKeyData(keyData=b"s" * 32, timestamp=3),
                    )
                ]
            ),
        )
    )
    stranger = JID.parse(ALICE)
    for sender, from_me in ((stranger, False), (own, True)):
        info = MessageInfo(sender, sender, f"M{from_me}", datetime.now(UTC), from_me, False)
        await client.messages._handle_decrypted(info, message, Node("enc", {}))
        stored = await client.app_state.store.get_app_state_sync_key(b"\x05")
        assert (stored is not None) is from_me
    assert fetched == [False]
