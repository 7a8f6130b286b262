"""The simulated phone as a Signal peer, against a real simulator subprocess: a raw device (our
socket layer and Signal library, none of the client's messaging code) and a phone exchange
encrypted DMs; malformed stanzas cost nothing but a protocol error record."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client_payload import ClientConfig, login_payload
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle, PreKeyRecord
from mautrix_whatsapp.whatsapp.signal.padding import pad_message, unpad_message
from mautrix_whatsapp.whatsapp.store import MemorySignalStore
from tests.simulator_fixture import SimulatorClient, SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import admin, link_by_qr, make_client

pytestmark = pytest.mark.timeout(90)

PHONE = "15550007777"


class RawDevice:
    """A linked companion driven stanza by stanza, with its own Signal store."""

    def __init__(self, client: SimulatorClient, device: DeviceIdentity, store: MemorySignalStore):
        self.client = client
        self.device = device
        self.store = store
        assert device.jid is not None
        self.jid = device.jid

    async def next(self, predicate: Callable[[Node], bool], timeout: float = 10.0) -> Node:
        async with asyncio.timeout(timeout):
            while True:
                node = await self.client.receive(timeout)
                if predicate(node):
                    return node


async def _raw_device(info: SimulatorInfo) -> RawDevice:
    """Link with our client (it uploads pre-keys from ``store``), then log in raw."""
    device = DeviceIdentity.generate()
    store = MemorySignalStore(device.identity_key, device.registration_id)
    await store.store_signed_pre_key(device.signed_pre_key)
    client, device_store, log = make_client(info, device, signal_store=store)
    await link_by_qr(info, client, log)
    await client.upload_pre_keys(10)
    await client.disconnect()
    paired = await device_store.load_device()
    assert paired is not None and paired.jid is not None
    payload = login_payload(paired, ClientConfig()).SerializeToString()
    raw = RawDevice(await SimulatorClient.connect(info, paired.noise_key, payload), paired, store)
    await raw.next(lambda n: n.tag == "success")
    await raw.next(lambda n: n.tag == "ib" and n.get_optional_child_by_tag("offline") is not None)
    return raw


def _dm(to: JID, message_id: str, enc_type: str, data: bytes) -> Node:
    enc = Node("enc", {"v": "2", "type": enc_type}, data)
    to_node = Node("to", {"jid": to}, [enc])
    return Node(
        "message",
        {"to": to, "id": message_id, "type": "text"},
        [Node("participants", {}, [to_node])],
    )


async def _other_person(info: SimulatorInfo, raw: RawDevice) -> None:
    """The account whose phone talks to the raw device (made after linking: a scan links to
    the first account when none is marked default)."""
    status, body = await admin(info, "POST", "/accounts", {"phone": PHONE, "push_name": "Phil"})
    assert status == 200 and body["phone"] != raw.jid.user, body


async def _received(info: SimulatorInfo, phone: str, message_id: str) -> dict[str, Any]:
    status, body = await admin(
        info, "GET", f"/accounts/{phone}/received?id={message_id}&timeout=10"
    )
    assert status == 200, body
    [message] = body["messages"]
    return dict(message)


async def test_raw_device_and_phone_exchange_encrypted_dms(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await _raw_device(simulator)
    await _other_person(simulator, raw)
    phone_jid = JID(PHONE, "s.whatsapp.net")

    # The device starts the session: the phone's keys are on the pre-key server like anyone's.
    keys = await raw.client.request(
        Node(
            "iq",
            {"id": "k1", "type": "get", "xmlns": "encrypt", "to": JID.parse("s.whatsapp.net")},
            [Node("key", {}, [Node("user", {"jid": phone_jid})])],
        )
    )
    user = keys.get_child_by_tag("list", "user")
    skey = user.get_child_by_tag("skey")
    key = user.get_child_by_tag("key")
    bundle = PreKeyBundle(
        registration_id=int.from_bytes(
            user.get_child_by_tag("registration").content_bytes(), "big"
        ),
        device_id=0,
        identity_key=user.get_child_by_tag("identity").content_bytes(),
        signed_pre_key_id=int.from_bytes(skey.get_child_by_tag("id").content_bytes(), "big"),
        signed_pre_key=skey.get_child_by_tag("value").content_bytes(),
        signed_pre_key_signature=skey.get_child_by_tag("signature").content_bytes(),
        pre_key_id=int.from_bytes(key.get_child_by_tag("id").content_bytes(), "big"),
        pre_key=key.get_child_by_tag("value").content_bytes(),
    )
    address = SignalAddress(PHONE, 0)
    await SessionBuilder(raw.store, address).process_bundle(bundle)
    hello = wa_e2e_pb2.Message(conversation="hello phone")
    encrypted = await SessionCipher(raw.store, address).encrypt(
        pad_message(hello.SerializeToString())
    )
    assert encrypted.type == "pkmsg"
    await raw.client.send(_dm(phone_jid, "RAW1", "pkmsg", encrypted.serialized))
    ack = await raw.next(lambda n: n.tag == "ack" and n.attrs.get("id") == "RAW1")
    assert ack.attrs["class"] == "message" and int(str(ack.attrs["t"])) > 0
    got = await _received(simulator, PHONE, "RAW1")
    assert got["message"] == {"conversation": "hello phone"}
    assert got["from"] == str(raw.jid) and got["chat"] == f"{raw.jid.user}@s.whatsapp.net"

    # The phone answers over the session the device started: a plain msg, with its push name.
    status, sent = await admin(
        simulator, "POST", f"/accounts/{PHONE}/send", {"to": raw.jid.user, "text": "hi device"}
    )
    assert status == 200, sent
    message = await raw.next(lambda n: n.tag == "message" and n.attrs.get("id") == sent["id"])
    assert message.attrs["from"] == phone_jid and message.attrs["notify"] == "Phil"
    assert message.attrs["t"] == str(sent["t"])
    enc = message.get_child_by_tag("enc")
    assert enc.attrs["type"] == "msg"
    plaintext = await SessionCipher(raw.store, address).decrypt("msg", enc.content_bytes())
    reply = wa_e2e_pb2.Message()
    reply.ParseFromString(unpad_message(plaintext))
    assert reply.conversation == "hi device"

    # A reply quoting it: the phone shows it as JSON, the quote's stanza id intact.
    quote = wa_e2e_pb2.Message(
        extendedTextMessage=wa_e2e_pb2.ExtendedTextMessage(
            text="re", contextInfo=wa_e2e_pb2.ContextInfo(stanzaID=sent["id"])
        )
    )
    encrypted = await SessionCipher(raw.store, address).encrypt(
        pad_message(quote.SerializeToString())
    )
    await raw.client.send(_dm(phone_jid, "RAW2", encrypted.type, encrypted.serialized))
    got = await _received(simulator, PHONE, "RAW2")
    assert got["message"]["extendedTextMessage"]["contextInfo"]["stanzaID"] == sent["id"]
    await raw.client.close()


async def test_phone_starts_the_session_with_a_pkmsg(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await _raw_device(simulator)
    await _other_person(simulator, raw)
    status, sent = await admin(
        simulator,
        "POST",
        f"/accounts/{PHONE}/send",
        {"to": raw.jid.user, "text": "first", "mentions": [str(raw.jid.user)]},
    )
    assert status == 200, sent
    message = await raw.next(lambda n: n.tag == "message" and n.attrs.get("id") == sent["id"])
    enc = message.get_child_by_tag("enc")
    assert enc.attrs["type"] == "pkmsg"
    plaintext = await SessionCipher(raw.store, SignalAddress(PHONE, 0)).decrypt(
        "pkmsg", enc.content_bytes()
    )
    decoded = wa_e2e_pb2.Message()
    decoded.ParseFromString(unpad_message(plaintext))
    assert decoded.extendedTextMessage.text == "first"
    assert list(decoded.extendedTextMessage.contextInfo.mentionedJID) == [
        f"{raw.jid.user}@s.whatsapp.net"
    ]
    # The phone types, then reads what the device sent it: both reach the device.
    chat = raw.jid.user
    status, _ = await admin(
        simulator, "POST", f"/accounts/{PHONE}/typing", {"chat": chat, "state": "recording"}
    )
    assert status == 200
    typing = await raw.next(lambda n: n.tag == "chatstate")
    assert typing.attrs["from"] == JID(PHONE, "s.whatsapp.net")
    assert typing.children[0].tag == "composing" and typing.children[0].attrs["media"] == "audio"
    status, _ = await admin(
        simulator, "POST", f"/accounts/{PHONE}/read", {"chat": chat, "ids": ["X1", "X2"]}
    )
    assert status == 200
    read = await raw.next(lambda n: n.tag == "receipt" and n.attrs.get("type") == "read")
    assert read.attrs["id"] == "X1" and read.attrs["from"] == JID(PHONE, "s.whatsapp.net")
    assert read.get_child_by_tag("list", "item").attrs["id"] == "X2"
    status, body = await admin(
        simulator,
        "POST",
        f"/accounts/{PHONE}/typing",
        {"chat": chat, "state": "dancing"},
        expect=(400,),
    )
    assert status == 400, body
    await raw.client.close()


@pytest.mark.simulator_protocol_errors()
async def test_malformed_stanzas_are_recorded_and_the_connection_goes_on(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    raw = await _raw_device(simulator)
    bad = [
        Node("message", {"id": "B1"}, [Node("enc", {"type": "msg"}, b"x")]),  # no "to"
        Node(
            "receipt", {"id": "B2", "to": JID.parse("120363000000000001@g.us")}
        ),  # no participant
        Node("presence", {"type": "dancing"}),
        Node("chatstate", {}, [Node("composing")]),  # no "to"
    ]
    for node in bad:
        await raw.client.send(node)
    # Still served: a usync query is answered after the bad stanzas.
    reply = await raw.client.request(
        Node(
            "iq",
            {"id": "u1", "type": "get", "xmlns": "usync", "to": JID.parse("s.whatsapp.net")},
            [
                Node(
                    "usync",
                    {"sid": "s", "mode": "query", "context": "interactive"},
                    [
                        Node("query", {}, [Node("contact")]),
                        Node("list", {}, [Node("user", {}, [Node("contact", {}, f"+{PHONE}")])]),
                    ],
                )
            ],
        )
    )
    assert reply.get_child_by_tag("usync", "list", "user", "contact").attrs["type"] == "out"
    status, body = await admin(simulator, "GET", "/status")
    assert status == 200
    errors = body["protocol_errors"]
    assert len(errors) == len(bad), errors
    assert all("malformed" in e for e in errors)
    assert body["internal_errors"] == []
    await raw.client.close()


async def test_history_bootstrap_is_an_inline_peer_message(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await _raw_device(simulator)
    status, sent = await admin(
        simulator, "POST", "/devices/history-bootstrap", {"jid": str(raw.jid)}
    )
    assert status == 200, sent
    message = await raw.next(lambda n: n.tag == "message" and n.attrs.get("id") == sent["id"])
    own_phone = JID(raw.jid.user, "s.whatsapp.net")
    assert message.attrs["from"] == own_phone and message.attrs["category"] == "peer"
    enc = message.get_child_by_tag("enc")
    plaintext = await SessionCipher(raw.store, SignalAddress(raw.jid.user, 0)).decrypt(
        str(enc.attrs["type"]), enc.content_bytes()
    )
    decoded = wa_e2e_pb2.Message()
    decoded.ParseFromString(unpad_message(plaintext))
    notification = decoded.protocolMessage.historySyncNotification
    assert decoded.protocolMessage.type == wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
    assert notification.syncType == wa_e2e_pb2.INITIAL_BOOTSTRAP
    history = wa_history_sync_pb2.HistorySync()
    history.ParseFromString(zlib.decompress(notification.initialHistBootstrapInlinePayload))
    assert history.syncType == wa_history_sync_pb2.HistorySync.INITIAL_BOOTSTRAP
    assert history.phoneNumberToLidMappings[0].pnJID == str(own_phone)
    # App state: a collection the phone never wrote comes back empty at version 0; one the
    # client is up to date with (the phone's push name setting, version 1) has nothing new.
    reply = await raw.client.request(
        Node(
            "iq",
            {
                "id": "a1",
                "type": "set",
                "xmlns": "w:sync:app:state",
                "to": JID.parse("s.whatsapp.net"),
            },
            [
                Node(
                    "sync",
                    {},
                    [
                        Node(
                            "collection",
                            {"name": "regular", "version": "0", "return_snapshot": "true"},
                        ),
                        Node("collection", {"name": "critical_block", "version": "1"}),
                    ],
                )
            ],
        )
    )
    collections = reply.get_child_by_tag("sync").children
    assert [(c.attrs["name"], c.attrs["version"], c.children) for c in collections] == [
        ("regular", "0", []),
        ("critical_block", "1", []),
    ]
    await raw.client.close()


async def test_retry_receipts_both_ways(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await _raw_device(simulator)
    await _other_person(simulator, raw)
    phone_jid = JID(PHONE, "s.whatsapp.net")
    status, sent = await admin(
        simulator, "POST", f"/accounts/{PHONE}/send", {"to": raw.jid.user, "text": "again?"}
    )
    assert status == 200, sent
    await raw.next(lambda n: n.tag == "message" and n.attrs.get("id") == sent["id"])
    # The device "cannot decrypt" it and asks again, with fresh keys: the phone starts over.
    pre_key = PreKeyRecord.generate(9000)
    await raw.store.store_pre_key(pre_key)
    signed = raw.device.signed_pre_key
    keys = Node(
        "keys",
        {},
        [
            Node("type", {}, b"\x05"),
            Node("identity", {}, raw.device.identity_key.public),
            Node(
                "key",
                {},
                [
                    Node("id", {}, (9000).to_bytes(3, "big")),
                    Node("value", {}, pre_key.key_pair.public),
                ],
            ),
            Node(
                "skey",
                {},
                [
                    Node("id", {}, signed.key_id.to_bytes(3, "big")),
                    Node("value", {}, signed.key_pair.public),
                    Node("signature", {}, signed.signature),
                ],
            ),
        ],
    )
    await raw.client.send(
        Node(
            "receipt",
            {"to": phone_jid, "id": sent["id"], "type": "retry"},
            [
                Node("retry", {"count": "2", "id": sent["id"], "t": str(sent["t"]), "v": "1"}),
                Node("registration", {}, raw.device.registration_id.to_bytes(4, "big")),
                keys,
            ],
        )
    )
    again = await raw.next(lambda n: n.tag == "message" and n.attrs.get("id") == sent["id"])
    enc = again.get_child_by_tag("enc")
    assert enc.attrs["count"] == "2" and enc.attrs["type"] == "pkmsg"
    plaintext = await SessionCipher(raw.store, SignalAddress(PHONE, 0)).decrypt(
        "pkmsg", enc.content_bytes()
    )
    decoded = wa_e2e_pb2.Message()
    decoded.ParseFromString(unpad_message(plaintext))
    assert decoded.conversation == "again?"
    assert not await raw.store.contains_pre_key(9000)  # the new session used it

    # The other way: the phone cannot read what the device sent, and says so.
    for attempt in (1, 2):
        await raw.client.send(_dm(phone_jid, "BROKEN", "msg", b"\x33" + bytes(40)))
        retry = await raw.next(lambda n: n.tag == "receipt" and n.attrs.get("type") == "retry")
        assert retry.attrs["id"] == "BROKEN" and retry.attrs["from"] == phone_jid
        assert retry.get_child_by_tag("retry").attrs["count"] == str(attempt)
        registration = retry.get_child_by_tag("registration").content_bytes()
        assert len(registration) == 4
        assert (retry.get_optional_child_by_tag("keys") is not None) == (attempt > 1)
    await raw.client.close()
