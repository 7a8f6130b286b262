"""The simulator's status broadcast routing with hand-made stanzas, in process: the devices the
sender lists get the status from ``status@broadcast`` (their sender-key distribution, then the
shared ``skmsg``), nobody else does; a status's receipt goes back to its author."""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from tests.simulator.relay import route_receipt
from tests.simulator.routing import Sender, route_message
from tests.whatsapp.test_simulator_routing import (
    ALICE,
    BOB,
    CAROL,
    T,
    _enc,
    _person,
    _queue,
    _world,
)

STATUS = JID.parse("status@broadcast")


def _status(targets: dict[str, list[Node]]) -> Node:
    return Node(
        "message",
        {"to": STATUS, "id": "S1", "type": "text"},
        [
            Node(
                "participants",
                {},
                [Node("to", {"jid": JID.parse(j)}, encs) for j, encs in targets.items()],
            ),
            _enc("skmsg", b"status-ciphertext"),
            Node("device-identity", {}, b"adv"),
        ],
    )


async def test_status_goes_to_the_listed_devices_only() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice", devices=2)
    bob = _person(world, BOB, "Bob", devices=2)
    _person(world, CAROL, "Carol")
    node = _status(
        {
            f"{BOB}:1@s.whatsapp.net": [_enc("pkmsg", b"skdm-bob1")],
            f"{bob.lid}:2@lid": [],  # already has the sender key: only the skmsg
            f"{ALICE}:1@s.whatsapp.net": [_enc("pkmsg")],  # the sender itself: skipped
            "15559999999:1@s.whatsapp.net": [_enc("pkmsg")],  # nobody: skipped
        }
    )
    assert route_message(state, Sender(alice, 1), node, T) is None
    [to_bob1] = _queue(world, BOB, 1)
    assert to_bob1.attrs["from"] == STATUS
    assert to_bob1.attrs["participant"] == JID.parse(f"{ALICE}:1@s.whatsapp.net")
    assert to_bob1.attrs["participant_lid"] == JID.parse(f"{alice.lid}@lid")
    assert to_bob1.attrs["addressing_mode"] == "pn"
    assert to_bob1.attrs["notify"] == "Alice" and to_bob1.attrs["id"] == "S1"
    assert "to" not in to_bob1.attrs
    assert [(c.attrs.get("type", c.tag), c.content) for c in to_bob1.children] == [
        ("pkmsg", b"skdm-bob1"),
        ("skmsg", b"status-ciphertext"),
        ("device-identity", b"adv"),
    ]
    [to_bob2] = _queue(world, BOB, 2)
    assert to_bob2.attrs["participant"] == JID.parse(f"{alice.lid}:1@lid")
    assert to_bob2.attrs["participant_pn"] == JID.parse(f"{ALICE}@s.whatsapp.net")
    assert to_bob2.attrs["addressing_mode"] == "lid"
    assert [c.attrs["type"] for c in to_bob2.children] == ["skmsg"]
    # Not listed: Carol and Alice's other device see nothing (the server has no list of its own).
    assert _queue(world, CAROL, 1) == [] and _queue(world, ALICE, 2) == []


async def test_other_broadcasts_and_statuses_without_recipients_are_refused() -> None:
    state, world = _world()
    alice = _person(world, ALICE, "Alice")
    _person(world, BOB, "Bob")
    bare = Node("message", {"to": STATUS, "id": "S2", "type": "text"}, [_enc("skmsg")])
    assert route_message(state, Sender(alice, 1), bare, T) == "400"
    listed = _status({f"{BOB}:1@s.whatsapp.net": [_enc("pkmsg")]})
    listed.attrs["to"] = JID.parse("1234567890@broadcast")  # a broadcast list: not simulated
    assert route_message(state, Sender(alice, 1), listed, T) == "400"
    assert _queue(world, BOB, 1) == []


async def test_status_receipt_goes_to_its_author() -> None:
    state, world = _world()
    _person(world, ALICE, "Alice")
    bob = _person(world, BOB, "Bob")
    receipt = Node(
        "receipt",
        {"to": STATUS, "id": "S1", "participant": JID.parse(f"{ALICE}@s.whatsapp.net")},
    )
    route_receipt(state, Sender(bob, 1), receipt, T)
    [got] = _queue(world, ALICE, 1)
    assert got.tag == "receipt" and got.attrs["id"] == "S1"
    assert got.attrs["from"] == STATUS
    assert got.attrs["participant"] == JID.parse(f"{BOB}:1@s.whatsapp.net")
