"""The phone's memory and its history syncs, against a real simulator subprocess.

The phones record what they send and receive (messages, reactions, edits, revokes, reads); the
admin API imports a past in bulk and reads it back; a companion (a raw device: our Signal
library and socket, none of the client's history code) gets the first-login syncs and an
on-demand answer, decrypted and decoded here from the protobufs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
from mautrix_whatsapp.whatsapp.signal.padding import pad_message, unpad_message
from tests.simulator import history_encode as encode
from tests.simulator.media_crypto import decrypt_media
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import admin
from tests.whatsapp.test_simulator_people import RawDevice, _raw_device

pytestmark = pytest.mark.timeout(180)

HistorySync = wa_history_sync_pb2.HistorySync
HistorySyncConfig = encode.HistorySyncConfig
DAY = 86400
ANN = "15550008801"
BEN = "15550008802"
CAT = "15550008803"


async def _chats(info: SimulatorInfo, phone: str) -> dict[str, dict[str, Any]]:
    status, body = await admin(info, "GET", f"/accounts/{phone}/chats")
    assert status == 200, body
    return {chat["jid"]: chat for chat in body["chats"]}


async def _send(info: SimulatorInfo, phone: str, body: dict[str, Any]) -> str:
    status, sent = await admin(info, "POST", f"/accounts/{phone}/send", body)
    assert status == 200, sent
    return str(sent["id"])


async def _until(
    predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0
) -> None:
    """Poll the admin API until ``predicate()`` holds: the phones record asynchronously and
    the admin API has no event for it (a short poll, bounded, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_phones_remember_what_they_send_and_receive(simulator: SimulatorInfo) -> None:  # noqa: F811
    for phone, name in ((ANN, "Ann"), (BEN, "Ben")):
        status, body = await admin(
            simulator, "POST", "/accounts", {"phone": phone, "push_name": name}
        )
        assert status == 200, body
    ben_jid = f"{BEN}@s.whatsapp.net"
    ann_jid = f"{ANN}@s.whatsapp.net"
    first = await _send(simulator, ANN, {"to": BEN, "text": "hello Ben"})
    second = await _send(simulator, ANN, {"to": BEN, "text": "typo"})

    async def ben_has_both() -> bool:
        chat = (await _chats(simulator, BEN)).get(ann_jid)
        return chat is not None and chat["message_count"] == 2

    await _until(ben_has_both, "Ben's phone never stored Ann's two messages")
    await _send(
        simulator, BEN, {"to": ANN, "reaction": {"id": first, "sender": ann_jid, "emoji": "👍"}}
    )
    await _send(simulator, ANN, {"to": BEN, "edit": {"id": second, "text": "fixed"}})
    await _send(simulator, ANN, {"to": BEN, "revoke": {"id": first}})

    async def ben_saw_all() -> bool:
        messages = (await _chats(simulator, BEN))[ann_jid]["messages"]
        return bool(messages[0]["revoked"] and messages[1]["edited"])

    await _until(ben_saw_all, "Ben's phone never applied the edit and the revoke")
    ben = (await _chats(simulator, BEN))[ann_jid]
    assert [m["id"] for m in ben["messages"]] == [first, second]
    assert [m["from_me"] for m in ben["messages"]] == [False, False]
    assert ben["messages"][1]["text"] == "fixed" and ben["messages"][0]["text"] == ""
    assert ben["messages"][0]["push_name"] == "Ann" and ben["unread"] == 2
    assert ben["messages"][0]["reactions"] == [{"from": ben_jid, "emoji": "👍"}]

    async def ann_saw_reaction() -> bool:
        messages = (await _chats(simulator, ANN))[ben_jid]["messages"]
        return bool(messages[0]["reactions"])

    await _until(ann_saw_reaction, "Ann's phone never stored Ben's reaction")
    ann = (await _chats(simulator, ANN))[ben_jid]
    assert [m["from_me"] for m in ann["messages"]] == [True, True]
    assert ann["unread"] == 0 and ann["messages"][1]["text"] == "fixed"
    # Ben's phone reads both: his chat is no longer unread, and Ann's messages show as read.
    status, _ = await admin(
        simulator, "POST", f"/accounts/{BEN}/read", {"chat": ANN, "ids": [first, second]}
    )
    assert status == 200
    assert (await _chats(simulator, BEN))[ann_jid]["unread"] == 0

    async def ann_sees_read() -> bool:
        messages = (await _chats(simulator, ANN))[ben_jid]["messages"]
        return all(m["status"] == 4 for m in messages)

    await _until(ann_sees_read, "Ann's phone never saw the read receipt")
    status, names = await admin(simulator, "GET", f"/accounts/{BEN}/chats?messages=0")
    assert names["push_names"] == {ann_jid: "Ann"}
    assert "messages" not in names["chats"][0]


async def test_bulk_import_is_fast_and_reads_back(simulator: SimulatorInfo) -> None:  # noqa: F811
    status, body = await admin(simulator, "POST", "/accounts", {"phone": CAT, "push_name": "Cat"})
    assert status == 200, body
    now = int(time.time())
    chats = [
        {
            "with": str(16660000000 + c),
            "messages": [
                {
                    "from": "me" if m % 3 == 0 else str(16660000000 + c),
                    "t": now - 10000 + m,
                    "text": f"m{m}",
                }
                for m in range(100)
            ],
        }
        for c in range(1000)
    ]
    started = time.monotonic()
    status, body = await admin(simulator, "POST", f"/accounts/{CAT}/history", {"chats": chats})
    took = time.monotonic() - started
    assert status == 200, body
    assert body["messages"] == 100_000 and len(body["chats"]) == 1000
    print(
        f"bulk import: 1,000 chats x 100 messages in {took:.2f} s ({body['seconds']:.2f} s inside)"
    )
    assert took < 60, took
    status, read = await admin(simulator, "GET", f"/accounts/{CAT}/chats?messages=0")
    assert status == 200
    assert len(read["chats"]) == 1000
    assert {c["message_count"] for c in read["chats"]} == {100}
    status, error = await admin(
        simulator,
        "POST",
        f"/accounts/{CAT}/history",
        {"chats": [{"with": CAT, "messages": [{"t": 1}]}]},
        expect={400},
    )
    assert status == 400 and "text" in error["error"]


def _past(now: int) -> dict[str, Any]:
    """Three chats: a DM with a reply, an edit, reactions and an image; a group; and a DM whose
    only message is older than the recent window (a phone sends it only in a FULL sync)."""
    image = base64.b64encode(b"\x89PNG fake image bytes" * 10).decode()
    return {
        "chats": [
            {
                "with": "15550008811",
                "name": "Dora Contact",
                "unread": 1,
                "pinned": True,
                "messages": [
                    {"id": "D1", "from": "15550008811", "t": now - 300, "text": "hi"},
                    {
                        "id": "D2",
                        "from": "me",
                        "t": now - 200,
                        "text": "hey",
                        "reply_to": "D1",
                        "reactions": [{"from": "15550008811", "emoji": "❤️"}],
                    },
                    {
                        "id": "D3",
                        "from": "15550008811",
                        "t": now - 100,
                        "text": "tpyo",
                        "edits": ["typo"],
                    },
                    {
                        "id": "D4",
                        "from": "me",
                        "t": now - 50,
                        "media": {
                            "type": "image",
                            "data": image,
                            "mimetype": "image/png",
                            "caption": "pic",
                        },
                    },
                ],
            },
            {
                "group": {"subject": "Book club", "members": ["15550008811", "15550008812"]},
                "archived": True,
                "marked_unread": True,
                "muted_until": -1,
                "messages": [
                    {
                        "id": f"G{i}",
                        "from": ["me", "15550008811", "15550008812"][i % 3],
                        "t": now - 1000 + i,
                        "text": f"g{i}",
                    }
                    for i in range(30)
                ],
            },
            {
                "with": "15550008813",
                "messages": [
                    {"id": "OLD", "from": "15550008813", "t": now - 200 * DAY, "text": "long ago"}
                ],
            },
        ]
    }


async def _peer_messages(raw: RawDevice, count: int) -> list[tuple[str, wa_e2e_pb2.Message]]:
    found = []
    phone = SignalAddress(raw.jid.user, 0)
    for _ in range(count):
        node = await raw.next(lambda n: n.tag == "message" and n.attrs.get("category") == "peer")
        enc = node.get_child_by_tag("enc")
        plaintext = await SessionCipher(raw.store, phone).decrypt(
            str(enc.attrs["type"]), enc.content_bytes()
        )
        message = wa_e2e_pb2.Message()
        message.ParseFromString(unpad_message(plaintext))
        found.append((node.attr_str("id"), message))
    return found


async def _history(info: SimulatorInfo, message: wa_e2e_pb2.Message) -> HistorySync:
    """The sync a notification carries: inline, or downloaded from the media server by its
    direct path and checked as a companion would (both hashes, the MAC, the length)."""
    note = message.protocolMessage.historySyncNotification
    assert message.protocolMessage.type == wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
    if note.HasField("initialHistBootstrapInlinePayload"):
        payload = note.initialHistBootstrapInlinePayload
    else:
        url = info.media_url.rsplit("/mms", 1)[0] + note.directPath
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, ssl=info.ssl_context() or False) as response,
        ):
            assert response.status == 200, url
            blob = await response.read()
        assert hashlib.sha256(blob).digest() == note.fileEncSHA256
        payload = decrypt_media(blob, "md-msg-hist", note.mediaKey)
        assert hashlib.sha256(payload).digest() == note.fileSHA256
        assert len(payload) == note.fileLength
    sync = HistorySync()
    sync.ParseFromString(zlib.decompress(payload))
    assert int(sync.syncType) == int(note.syncType) and sync.chunkOrder == note.chunkOrder
    return sync


async def test_first_syncs_and_on_demand_history(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await _raw_device(simulator)
    me = raw.jid.user
    now = int(time.time())
    status, imported = await admin(simulator, "POST", f"/accounts/{me}/history", _past(now))
    assert status == 200, imported
    group_jid = imported["chats"][1]["jid"]
    status, sent = await admin(
        simulator, "POST", "/devices/history-bootstrap", {"jid": str(raw.jid)}
    )
    assert status == 200, sent
    notes = await _peer_messages(raw, len(sent["ids"]))
    syncs = [await _history(simulator, m) for _, m in notes]
    # Only the first bootstrap chunk is inline (our client announces it can take it so).
    inline = [
        m.protocolMessage.historySyncNotification.HasField("initialHistBootstrapInlinePayload")
        for _, m in notes
    ]
    assert inline == [True, False, False, False]
    types = [s.syncType for s in syncs]
    assert types == [
        HistorySync.INITIAL_BOOTSTRAP,
        HistorySync.PUSH_NAME,
        HistorySync.NON_BLOCKING_DATA,
        HistorySync.RECENT,
    ]
    assert all(s.progress == 100 for s in syncs)
    bootstrap = {c.ID: c for c in syncs[0].conversations}
    dm = bootstrap["15550008811@s.whatsapp.net"]
    # Newest first; the edited one is kept as its last edit (MESSAGE_EDIT of itself, its final
    # text), the reply quotes, the reaction is attached.
    assert [m.message.key.ID for m in dm.messages] == ["D4", "D3", "D2", "D1"]
    d4, d3, d2, _ = (m.message for m in dm.messages)
    edit = d3.message.editedMessage.message.protocolMessage
    assert edit.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT and edit.key.ID == "D3"
    assert edit.editedMessage.conversation == "typo" and not d3.key.fromMe and d3.pushName
    assert d2.key.fromMe and d2.message.extendedTextMessage.contextInfo.stanzaID == "D1"
    assert [(r.text, r.key.fromMe) for r in d2.reactions] == [("❤️", False)]
    assert d4.message.imageMessage.caption == "pic" and d4.message.imageMessage.directPath
    assert dm.name == "Dora Contact" and dm.unreadCount == 1 and dm.pinned > 0
    assert dm.lidJID.endswith("@lid")
    group = bootstrap[group_jid]
    assert group.name == "Book club" and group.archived and group.markedAsUnread
    assert group.muteEndTime > 2**62 and not dm.markedAsUnread and not dm.muteEndTime
    assert len(group.messages) == 20  # the bootstrap holds a chat's last 20; RECENT the rest
    assert group.messages[1].message.key.participant == "15550008811@s.whatsapp.net"
    recent = {c.ID: c for c in syncs[3].conversations}
    assert [m.message.key.ID for m in recent[group_jid].messages] == [
        f"G{i}" for i in range(9, -1, -1)
    ]
    everything = [m.message.key.ID for s in syncs for c in s.conversations for m in c.messages]
    assert "OLD" not in everything  # older than the recent window: FULL sync only
    assert {p.ID for p in syncs[1].pushnames} >= {"15550008811@s.whatsapp.net"}
    mapped = {m.pnJID: m.lidJID for m in syncs[2].phoneNumberToLidMappings}
    assert {
        f"{me}@s.whatsapp.net",
        "15550008811@s.whatsapp.net",
        "15550008812@s.whatsapp.net",
    } <= set(mapped)

    # On demand: the 5 messages before G12 in the group, matched by the request's id.
    request = wa_e2e_pb2.Message()
    protocol = request.protocolMessage
    protocol.type = wa_e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_MESSAGE
    pdo = protocol.peerDataOperationRequestMessage
    pdo.peerDataOperationRequestType = wa_e2e_pb2.HISTORY_SYNC_ON_DEMAND
    ask = pdo.historySyncOnDemandRequest
    ask.chatJID, ask.oldestMsgID, ask.oldestMsgFromMe = group_jid, "G12", True
    ask.onDemandMsgCount, ask.oldestMsgTimestampMS = 5, now - 1000 + 12
    own = JID(me, "s.whatsapp.net")
    encrypted = await SessionCipher(raw.store, SignalAddress(me, 0)).encrypt(
        pad_message(request.SerializeToString())
    )
    attrs: dict[str, str | JID] = {"to": own, "id": "PDO1", "type": "text", "category": "peer"}
    enc = Node("enc", {"v": "2", "type": encrypted.type}, encrypted.serialized)
    await raw.client.send(Node("message", attrs, [enc]))
    (_, response), (_, answer) = await _peer_messages(raw, 2)
    reply = response.protocolMessage.peerDataOperationRequestResponseMessage
    assert reply.stanzaID == "PDO1"
    assert answer.protocolMessage.historySyncNotification.peerDataRequestSessionID == "PDO1"
    on_demand = await _history(simulator, answer)
    assert on_demand.syncType == HistorySync.ON_DEMAND
    [conv] = on_demand.conversations
    assert group_jid == conv.ID
    assert [m.message.key.ID for m in conv.messages] == ["G11", "G10", "G9", "G8", "G7"]
    await raw.client.close()
