"""The simulator's messaging core with hand-made stanzas, in process: usync answers, message
fan-out (PN and LID addressing, DSM, groups, the offline queue), receipts, chat states, presence
and ``devices`` notifications. Nothing is sent on a socket: every companion here is offline, so
what the server would deliver lands in its offline queue, in order."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import cast

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.errors import BinaryError
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2
from mautrix_whatsapp.whatsapp.proto.wa_companion_reg_pb2 import DeviceProps
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload
from tests.simulator.accounts import Account, LinkedDevice
from tests.simulator.connection import Connection
from tests.simulator.groups import Group, Participant, get_groups
from tests.simulator.history_sync import asked_for_history
from tests.simulator.notify import device_hash
from tests.simulator.people import get_people
from tests.simulator.phone import PhoneWorld, get_world, phone_for_push_name
from tests.simulator.privacy import handle_get, handle_set, handle_tokens
from tests.simulator.relay import get_presences, handle_presence, route_chatstate, route_receipt
from tests.simulator.routing import Sender, route_message
from tests.simulator.server import Simulator
from tests.simulator.state import PendingRegistration, ServerState
from tests.simulator.usync import handle_usync, watchers

ALICE, BOB, CAROL = "15550000101", "15550000202", "15550000303"
T = 1_800_000_000


def _world() -> tuple[ServerState, PhoneWorld]:
    state = Simulator().state
    return state, get_world(state)


def _person(world: PhoneWorld, phone: str, name: str, devices: int = 1) -> Account:
    account = world.accounts.create(phone, push_name=name)
    for _ in range(devices):
        device_id, key_index = account.allocate_device()
        account.devices[device_id] = LinkedDevice(
            device_id=device_id,
            noise_public=os.urandom(32),
            identity_public=os.urandom(32),
            registration_id=device_id,
            key_index=key_index,
            platform="test",
            confirmed=True,
        )
    return account


def _queue(world: PhoneWorld, phone: str, device: int) -> list[Node]:
    return world.offline_queues.get((phone, device), [])


def _conn(state: ServerState, account: Account | None = None, device: int = 1) -> Connection:
    extra = {}
    if account is not None:
        extra = {"account": account, "linked_device": account.devices[device]}
    return cast(Connection, SimpleNamespace(state=state, extra=extra, sent=[]))


def _enc(kind: str, data: bytes = b"ciphertext") -> Node:
    return Node("enc", {"v": "2", "type": kind}, data)


def _dm(to: str, targets: dict[str, str], *, identity: bool = True, **attrs: str) -> Node:
    content = [
        Node(
            "participants",
            {},
            [Node("to", {"jid": JID.parse(j)}, [_enc(k)]) for j, k in targets.items()],
        )
    ]
    if identity:
        content.append(Node("device-identity", {}, b"adv"))
    return Node("message", {"to": JID.parse(to), "id": "M1", "type": "text", **attrs}, content)


# --- usync ---


async def test_usync_answers_devices_contact_lid_and_unknown_protocols() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    bob = _person(world, BOB, "Bob", devices=2)
    bob.devices[2].confirmed = False  # linking not finished: not announced
    query = Node(
        "iq",
        {"id": "q1", "type": "get", "xmlns": "usync", "to": JID.parse("s.whatsapp.net")},
        [
            Node(
                "usync",
                {"sid": "s1", "mode": "query", "context": "message", "last": "true", "index": "0"},
                [
                    Node(
                        "query",
                        {},
                        [
                            Node("devices", {"version": "2"}),
                            Node("contact"),
                            Node("lid"),
                            Node("x-new"),
                        ],
                    ),
                    Node(
                        "list",
                        {},
                        [
                            Node("user", {"jid": JID.parse(f"{BOB}@s.whatsapp.net")}),
                            Node("user", {}, [Node("contact", {}, "+19995550000")]),
                        ],
                    ),
                ],
            )
        ],
    )
    reply = await handle_usync(_conn(state, alice), query)
    assert reply is not None and reply.attrs["type"] == "result" and reply.attrs["id"] == "q1"
    usync = reply.get_child_by_tag("usync")
    assert usync.attrs["sid"] == "s1" and usync.attrs["last"] == "true"
    known, unknown = usync.get_child_by_tag("list").children
    assert known.attrs["jid"] == JID.parse(f"{BOB}@s.whatsapp.net")
    devices = known.get_child_by_tag("devices")
    listed = devices.get_child_by_tag("device-list").children
    assert [(d.attrs["id"], d.attrs.get("key-index")) for d in listed] == [("0", None), ("1", "1")]
    signed = wa_adv_pb2.ADVSignedKeyIndexList()
    signed.ParseFromString(devices.get_child_by_tag("key-index-list").content_bytes())
    details = wa_adv_pb2.ADVKeyIndexList()
    details.ParseFromString(signed.details)
    assert list(details.validIndexes) == [1]
    assert xeddsa.verify(
        bob.identity.public, b"\x06\x02" + signed.details, signed.accountSignature
    )
    assert known.get_child_by_tag("contact").attrs["type"] == "in"
    assert known.get_child_by_tag("lid").attrs["val"] == JID.parse(f"{bob.lid}@lid")
    assert known.get_child_by_tag("x-new").get_child_by_tag("error").attrs["code"] == "501"
    # A number not on WhatsApp: contact "out", no devices, no LID.
    assert unknown.get_child_by_tag("contact").attrs["type"] == "out"
    assert unknown.get_child_by_tag("devices", "device-list").children == []
    assert "val" not in unknown.get_child_by_tag("lid").attrs
    # Alice's device fetched Bob's list: it will hear of his device changes.
    assert watchers(state)[BOB] == {(ALICE, 1)}


async def test_usync_without_query_children_is_a_bad_request() -> None:
    state, _ = _world()
    node = Node(
        "iq",
        {"id": "q", "type": "get", "xmlns": "usync"},
        [Node("usync", {}, [Node("query"), Node("list")])],
    )
    reply = await handle_usync(_conn(state), node)
    assert reply is not None and reply.get_child_by_tag("error").attrs["code"] == "400"
    with pytest.raises(BinaryError):  # no <list>: the dispatcher records a protocol error
        await handle_usync(
            _conn(state), Node("iq", {"id": "q"}, [Node("usync", {}, [Node("query")])])
        )


# --- messages ---


async def test_dm_fan_out_pn_addressing_dsm_and_device_identity() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice", devices=2)
    _person(world, BOB, "Bob")
    node = _dm(
        f"{BOB}@s.whatsapp.net",
        {
            f"{BOB}:1@s.whatsapp.net": "pkmsg",
            f"{ALICE}:2@s.whatsapp.net": "msg",
            f"{BOB}:7@s.whatsapp.net": "msg",  # no such device: dropped
        },
        edit="1",
        phash="2:abc",
    )
    assert route_message(state, Sender(alice, 1), node, T) is None
    [to_bob] = _queue(world, BOB, 1)
    assert to_bob.attrs == {
        "id": "M1",
        "type": "text",
        "edit": "1",
        "t": str(T),
        "notify": "Alice",
        "from": JID.parse(f"{ALICE}:1@s.whatsapp.net"),
        "sender_lid": JID.parse(f"{alice.lid}@lid"),
    }
    assert [c.tag for c in to_bob.children] == ["enc", "device-identity"]
    [own] = _queue(world, ALICE, 2)
    assert own.attrs["recipient"] == JID.parse(f"{BOB}@s.whatsapp.net")
    assert own.attrs["peer_recipient_lid"] == JID.parse(f"{world.accounts.get(BOB).lid}@lid")
    # A msg (not pkmsg) carries no device identity.
    assert [c.tag for c in own.children] == ["enc"]
    assert _queue(world, ALICE, 1) == []  # never echoed to the sending device


async def test_dm_lid_addressing() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    bob = _person(world, BOB, "Bob")
    node = _dm(f"{bob.lid}@lid", {f"{bob.lid}:1@lid": "msg"}, identity=False)
    route_message(state, Sender(alice, 1), node, T)
    [to_bob] = _queue(world, BOB, 1)
    assert to_bob.attrs["from"] == JID.parse(f"{alice.lid}:1@lid")
    assert to_bob.attrs["sender_pn"] == JID.parse(f"{ALICE}@s.whatsapp.net")
    assert "sender_lid" not in to_bob.attrs


async def test_offline_queue_keeps_order() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    _person(world, BOB, "Bob")
    for n in range(20):
        node = _dm(f"{BOB}@s.whatsapp.net", {f"{BOB}:1@s.whatsapp.net": "msg"}, identity=False)
        node.attrs["id"] = f"M{n}"
        route_message(state, Sender(alice, 1), node, T)
    assert [n.attrs["id"] for n in _queue(world, BOB, 1)] == [f"M{n}" for n in range(20)]


async def test_group_fan_out() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice", devices=2)
    bob = _person(world, BOB, "Bob")
    _person(world, CAROL, "Carol")
    group = Group(id="120363000000000001", subject="G", creator=ALICE, addressing_mode="lid")
    for account in (alice, bob):
        group.participants[account.phone] = Participant(account.phone, account.lid)
    get_groups(state).add(group)
    node = Node(
        "message",
        {"to": JID.parse(group.jid), "id": "G1", "type": "text"},
        [
            Node(
                "participants",
                {},
                [Node("to", {"jid": JID.parse(f"{bob.lid}:1@lid")}, [_enc("pkmsg")])],
            ),
            _enc("skmsg", b"group-ciphertext"),
            Node("device-identity", {}, b"adv"),
        ],
    )
    assert route_message(state, Sender(alice, 1), node, T) is None
    [to_bob] = _queue(world, BOB, 1)
    assert to_bob.attrs["from"] == JID.parse(group.jid)
    assert to_bob.attrs["participant"] == JID.parse(f"{alice.lid}:1@lid")
    assert to_bob.attrs["participant_pn"] == JID.parse(f"{ALICE}@s.whatsapp.net")
    assert to_bob.attrs["addressing_mode"] == "lid"
    # The sender key distribution comes before the skmsg it unlocks.
    assert [c.attrs.get("type", c.tag) for c in to_bob.children] == [
        "pkmsg",
        "skmsg",
        "device-identity",
    ]
    [to_alice2] = _queue(world, ALICE, 2)
    assert [c.attrs["type"] for c in to_alice2.children] == ["skmsg"]
    assert _queue(world, CAROL, 1) == []  # not a member
    # Not a member: refused (the ack carries the error).
    carol = world.accounts.get(CAROL)
    assert route_message(state, Sender(carol, 1), node, T) == "403"
    node.attrs["to"] = JID.parse("1203630000@g.us")
    assert route_message(state, Sender(alice, 1), node, T) == "404"


# --- receipts, chat states, presence ---


async def test_receipts_go_to_the_author_and_read_self_to_own_devices() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice", devices=2)
    bob = _person(world, BOB, "Bob", devices=2)
    receipt = Node(
        "receipt",
        {"to": JID.parse(f"{ALICE}@s.whatsapp.net"), "id": "M1", "type": "read"},
        [Node("list", {}, [Node("item", {"id": "M2"})])],
    )
    route_receipt(state, Sender(bob, 1), receipt, T)
    for device in (1, 2):
        [got] = _queue(world, ALICE, device)
        assert got.attrs == {
            "id": "M1",
            "t": str(T),
            "type": "read",
            "from": JID.parse(f"{BOB}:1@s.whatsapp.net"),
        }
        assert got.get_child_by_tag("list", "item").attrs["id"] == "M2"
    [own] = _queue(world, BOB, 2)
    assert own.attrs["type"] == "read-self"
    assert own.attrs["recipient"] == JID.parse(f"{ALICE}@s.whatsapp.net")
    assert _queue(world, BOB, 1) == []
    # The phone (device 0) of Alice kept it too.
    assert get_people(state).of(alice).receipts[0].ids == ["M1", "M2"]


async def test_retry_receipt_goes_to_the_one_device_with_its_children() -> None:
    state, world = _world()
    _person(world, ALICE, "Alice", devices=2)
    bob = _person(world, BOB, "Bob")
    children = [
        Node("retry", {"count": "1", "id": "M1", "t": str(T), "v": "1"}),
        Node("registration", {}, b"\x00\x00\x00\x07"),
    ]
    receipt = Node(
        "receipt",
        {"to": JID.parse(f"{ALICE}:2@s.whatsapp.net"), "id": "M1", "type": "retry"},
        children,
    )
    route_receipt(state, Sender(bob, 1), receipt, T)
    assert _queue(world, ALICE, 1) == []
    [got] = _queue(world, ALICE, 2)
    assert [c.tag for c in got.children] == ["retry", "registration"]
    assert got.attrs["from"] == JID.parse(f"{BOB}:1@s.whatsapp.net")


async def test_group_receipt_and_chatstate() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    bob = _person(world, BOB, "Bob")
    group = Group(id="120363000000000009", subject="G", creator=ALICE)
    for account in (alice, bob):
        group.participants[account.phone] = Participant(account.phone, account.lid)
    get_groups(state).add(group)
    receipt = Node(
        "receipt",
        {
            "to": JID.parse(group.jid),
            "id": "G1",
            "participant": JID.parse(f"{ALICE}@s.whatsapp.net"),
        },
    )
    route_receipt(state, Sender(bob, 1), receipt, T)
    [got] = _queue(world, ALICE, 1)
    assert got.attrs["from"] == JID.parse(group.jid)
    assert got.attrs["participant"] == JID.parse(f"{BOB}:1@s.whatsapp.net")
    with pytest.raises(BinaryError):  # a group receipt must name the author
        route_receipt(
            state, Sender(bob, 1), Node("receipt", {"to": JID.parse(group.jid), "id": "x"}), T
        )

    route_chatstate(
        state, Sender(bob, 1), Node("chatstate", {"to": JID.parse(group.jid)}, [Node("composing")])
    )
    typing = _queue(world, ALICE, 1)[-1]
    assert typing.tag == "chatstate" and typing.attrs["participant"] == JID.parse(
        f"{BOB}@s.whatsapp.net"
    )
    route_chatstate(
        state,
        Sender(bob, 1),
        Node("chatstate", {"to": JID.parse(f"{ALICE}@s.whatsapp.net")}, [Node("paused")]),
    )
    paused = _queue(world, ALICE, 1)[-1]
    assert (
        paused.attrs == {"from": JID.parse(f"{BOB}@s.whatsapp.net")}
        and paused.children[0].tag == "paused"
    )


async def test_presence_name_and_subscription() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    bob = _person(world, BOB, "Bob")
    sent: list[Node] = []

    async def send_node(node: Node) -> None:
        sent.append(node)

    conn = _conn(state, alice)
    conn.send_node = send_node  # type: ignore[method-assign]
    await handle_presence(conn, Node("presence", {"type": "subscribe", "to": JID.parse(bob.jid)}))
    assert sent[-1].attrs["type"] == "unavailable" and "last" in sent[-1].attrs
    bob_conn = _conn(state, bob)
    await handle_presence(bob_conn, Node("presence", {"type": "available", "name": "Bobby"}))
    assert bob.push_name == "Bobby" and get_presences(state).available[BOB]
    # Alice's device is offline: presence updates are not queued for later.
    assert _queue(world, ALICE, 1) == []
    with pytest.raises(BinaryError):
        await handle_presence(bob_conn, Node("presence", {"type": "dancing"}))


# --- devices notifications, accounts from push names ---


async def test_devices_notification_reaches_own_devices_and_watchers() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice", devices=2)
    _person(world, BOB, "Bob")
    watchers(state).setdefault(ALICE, set()).add((BOB, 1))
    world.unlink(alice, alice.devices[2], notify=False)
    for phone, device in ((ALICE, 1), (BOB, 1)):
        [note] = _queue(world, phone, device)
        assert note.attrs["type"] == "devices" and note.attrs["from"] == JID.parse(alice.jid)
        change = note.get_child_by_tag("remove")
        assert change.get_child_by_tag("device").attrs["jid"] == JID.parse(
            f"{ALICE}:2@s.whatsapp.net"
        )
        remaining = [JID.parse(f"{ALICE}@s.whatsapp.net"), JID.parse(f"{ALICE}:1@s.whatsapp.net")]
        assert change.attrs["device_hash"] == device_hash(remaining)


def test_phone_numbers_from_push_names_are_deterministic() -> None:
    first = phone_for_push_name("baileys-e2e-1")
    assert first == phone_for_push_name("baileys-e2e-1") != phone_for_push_name("baileys-e2e-2")
    assert first.isdigit() and len(first) == 11


def test_history_is_for_companions_that_ask_for_it() -> None:
    device = LinkedDevice(1, b"", b"", 1, 1, "test")
    assert not asked_for_history(device)
    device.device_props = DeviceProps(requireFullSync=True).SerializeToString()
    assert asked_for_history(device)
    device.device_props = b"\xff\xff"  # not a protobuf: treated as not asking
    assert not asked_for_history(device)


async def test_privacy_token_reaches_the_contact() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    _person(world, BOB, "Bob", devices=2)
    request = Node(
        "iq",
        {"id": "p1", "type": "set", "xmlns": "privacy"},
        [
            Node(
                "tokens",
                {},
                [
                    Node(
                        "token",
                        {
                            "jid": JID.parse(f"{BOB}@s.whatsapp.net"),
                            "t": "1800000000",
                            "type": "trusted_contact",
                        },
                    )
                ],
            )
        ],
    )
    reply = await handle_tokens(_conn(state, alice), request)
    assert reply.attrs["type"] == "result"
    for device in (1, 2):
        [note] = _queue(world, BOB, device)
        assert note.attrs["type"] == "privacy_token"
        assert note.attrs["from"] == JID.parse(f"{ALICE}@s.whatsapp.net")
        token = note.get_child_by_tag("tokens", "token")
        assert token.attrs["t"] == "1800000000" and len(token.content_bytes()) == 24
    request.get_child_by_tag("tokens", "token").attrs["type"] = "other"
    assert (await handle_tokens(_conn(state, alice), request)).attrs["type"] == "error"


async def test_privacy_settings_get_and_set() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    conn = _conn(state, alice)
    get = Node("iq", {"id": "g", "type": "get", "xmlns": "privacy"}, [Node("privacy")])
    before = {
        c.attrs["name"]: c.attrs["value"]
        for c in (await handle_get(conn, get)).get_child_by_tag("privacy").children
    }
    assert before["readreceipts"] == "all"
    change = Node("category", {"name": "readreceipts", "value": "none"})
    await handle_set(conn, Node("iq", {"id": "s", "type": "set"}, [Node("privacy", {}, [change])]))
    after = (await handle_get(conn, get)).get_child_by_tag("privacy").children
    assert {c.attrs["name"]: c.attrs["value"] for c in after}["readreceipts"] == "none"
    assert (await handle_get(_conn(state), get)).attrs["type"] == "error"  # not logged in


def test_a_scan_links_to_the_person_the_push_name_names() -> None:
    _, world = _world()
    registration = PendingRegistration(os.urandom(32), os.urandom(32), 1, 1, b"", b"", b"", b"")
    payload = ClientPayload(pushName="baileys-e2e-alice")
    registration.connection = cast(Connection, SimpleNamespace(payload=payload))
    alice = world.scanning_account(registration)
    assert alice.phone == phone_for_push_name("baileys-e2e-alice")
    assert alice.push_name == "baileys-e2e-alice"
    assert world.scanning_account(registration) is alice  # the same person every time
    # No push name: the first account, as before.
    registration.connection = cast(Connection, SimpleNamespace(payload=ClientPayload()))
    assert world.scanning_account(registration) is alice
    # A default account wins over the push name.
    world.scan_phone = world.accounts.create("15550009999").phone
    registration.connection = cast(Connection, SimpleNamespace(payload=payload))
    assert world.scanning_account(registration).phone == "15550009999"
