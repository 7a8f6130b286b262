"""devices / encrypt identity / picture / privacy_token / account_sync notifications."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.events import (
    AccountSyncChanged,
    DevicesChanged,
    IdentityChanged,
    PictureChanged,
    PrivacyTokenReceived,
)
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from tests.whatsapp.canned_server import CannedServer

ALICE = JID.parse("15550001111@s.whatsapp.net")
ALICE_LID = JID.parse("81234567890123@lid")
BOB = JID.parse("15550002222@s.whatsapp.net")
GROUP = JID.parse("120363025246125888@g.us")
ME = JID.parse("15550009999:7@s.whatsapp.net")
ME_LID = JID.parse("4455667788:7@lid")
SERVER = JID("", "s.whatsapp.net")
T0 = 1_700_000_000


def notification(
    kind: str, *children: Node, sender: JID | None = None, **attrs: str | JID
) -> Node:
    base: dict[str, str | JID] = {"id": "123456", "type": kind, "t": str(T0)}
    if sender is not None:
        base["from"] = sender
    base.update(attrs)
    return Node("notification", base, list(children))


@pytest.fixture
def server() -> CannedServer:
    return CannedServer(own=ME, own_lid=ME_LID)


async def feed(server: CannedServer, node: Node) -> None:
    await server.feed(node)
    assert server.sent[-1].tag == "ack" and server.sent[-1].attrs["id"] == node.attrs["id"]


async def test_devices_add_remove_update(server: CannedServer) -> None:
    invalidated: list[JID] = []
    server.client.device_list_invalidators.append(invalidated.append)

    async def async_hook(user: JID) -> None:
        invalidated.append(user)

    server.client.device_list_invalidators.append(async_hook)
    add = Node(
        "add",
        {"device_hash": "2:AbCd", "device_lid_hash": "2:EfGh"},
        [
            Node(
                "device",
                {"jid": JID.parse("15550001111:4@s.whatsapp.net"), "key-index": "5"},
            ),
            Node("key-index-list", {"ts": str(T0)}, b"\x0a\x02signed"),
        ],
    )
    await feed(server, notification("devices", add, sender=ALICE, lid=ALICE_LID))
    event = server.log.of(DevicesChanged)[-1]
    assert event.user == ALICE and event.lid == ALICE_LID
    assert event.timestamp == datetime.fromtimestamp(T0, UTC)
    (change,) = event.changes
    assert change.action == "add" and change.key_index == 5
    assert change.devices == (JID.parse("15550001111:4@s.whatsapp.net"),)
    assert change.device_hash == "2:AbCd" and change.device_lid_hash == "2:EfGh"
    assert invalidated == [ALICE, ALICE_LID, ALICE, ALICE_LID]

    invalidated.clear()
    device = JID.parse("15550001111:4@s.whatsapp.net")
    remove = Node("remove", {"device_hash": "2:Xy"}, [Node("device", {"jid": device})])
    await feed(server, notification("devices", remove, sender=ALICE))
    event = server.log.of(DevicesChanged)[-1]
    assert event.lid is None and event.changes[0].action == "remove"
    assert event.changes[0].key_index is None
    assert invalidated == [ALICE, ALICE]

    await feed(server, notification("devices", Node("update", {"hash": "2:Zz"}), sender=BOB))
    event = server.log.of(DevicesChanged)[-1]
    assert event.changes[0].action == "update" and event.changes[0].devices == ()
    assert event.changes[0].device_hash == "2:Zz"


async def test_failing_hook_does_not_stop_the_event(server: CannedServer) -> None:
    def broken(user: JID) -> None:
        raise RuntimeError("cache down")

    server.client.device_list_invalidators.append(broken)
    await feed(server, notification("devices", Node("update"), sender=ALICE))
    assert server.log.of(DevicesChanged)[-1].user == ALICE


async def test_identity_change_drops_sessions_and_identities(server: CannedServer) -> None:
    store = server.client.signal_store
    alice0, alice3, bob0 = (
        SignalAddress("15550001111", 0),
        SignalAddress("15550001111", 3),
        SignalAddress("15550002222", 0),
    )
    alice_lid = SignalAddress(ALICE_LID.signal_address_user, 0)
    for address in (alice0, alice3, bob0, alice_lid):
        await store.store_session(address, b"session")
        await store.save_identity(address, bytes(32))
    await feed(server, notification("encrypt", Node("identity"), sender=ALICE))
    event = server.log.of(IdentityChanged)[-1]
    assert event.jid == ALICE and event.timestamp == datetime.fromtimestamp(T0, UTC)
    for address in (alice0, alice3):
        assert await store.load_session(address) is None
        assert await store.get_identity(address) is None
    for address in (bob0, alice_lid):
        assert await store.load_session(address) == b"session"
        assert await store.get_identity(address) == bytes(32)

    await feed(server, notification("encrypt", Node("identity"), sender=ALICE_LID))
    assert server.log.of(IdentityChanged)[-1].jid == ALICE_LID
    assert await store.load_session(alice_lid) is None


async def test_identity_change_drops_the_sessions_kept_under_the_other_address(
    server: CannedServer,
) -> None:
    """Once a contact's LID is known its sessions live there; a notification naming the phone
    number must still clear them (and one naming the LID those under the number)."""
    store = server.client.signal_store
    await server.client.lids.learn(ALICE_LID, ALICE)
    alice_lid = SignalAddress(ALICE_LID.signal_address_user, 0)
    alice_pn = SignalAddress(ALICE.signal_address_user, 0)
    for address in (alice_lid, alice_pn):
        await store.store_session(address, b"session")
    await feed(server, notification("encrypt", Node("identity"), sender=ALICE))
    assert await store.load_session(alice_lid) is None
    assert await store.load_session(alice_pn) is None


async def test_other_encrypt_notifications_are_ignored(server: CannedServer) -> None:
    await feed(server, notification("encrypt", Node("digest"), sender=SERVER))
    assert server.log.of(IdentityChanged) == []


async def test_picture(server: CannedServer) -> None:
    changes = [
        Node("set", {"jid": GROUP, "id": "1700000001", "author": ALICE}),
        Node("delete", {"jid": BOB}),
        Node("add", {"jid": ALICE, "id": "7"}),
        Node("request", {"jid": ALICE}),
    ]
    await feed(server, notification("picture", *changes, sender=GROUP))
    set_, deleted, added = server.log.of(PictureChanged)
    assert set_ == PictureChanged(
        jid=GROUP,
        author=ALICE,
        timestamp=datetime.fromtimestamp(T0, UTC),
        removed=False,
        picture_id="1700000001",
    )
    assert deleted.removed and deleted.jid == BOB and deleted.picture_id == ""
    assert added.picture_id == "7"


async def test_privacy_token(server: CannedServer) -> None:
    tokens = Node(
        "tokens",
        None,
        [
            Node("token", {"type": "trusted_contact", "t": str(T0)}, b"\x01\x02"),
            Node("token", {"type": "other"}, b"x"),
        ],
    )
    await feed(server, notification("privacy_token", tokens, sender=ALICE, sender_lid=ALICE_LID))
    (event,) = server.log.of(PrivacyTokenReceived)
    assert event.sender == ALICE and event.sender_lid == ALICE_LID and event.token == b"\x01\x02"
    assert "\\x01" not in repr(event)


async def test_account_sync(server: CannedServer) -> None:
    invalidated: list[JID] = []
    server.client.device_list_invalidators.append(invalidated.append)
    devices = Node(
        "devices",
        {"dhash": "2:Qq"},
        [
            Node("device", {"jid": ME.to_non_ad()}),
            Node("device", {"jid": ME}),
        ],
    )
    await feed(
        server, notification("account_sync", devices, Node("privacy"), sender=ME.to_non_ad())
    )
    event = server.log.of(AccountSyncChanged)[-1]
    assert event.what == ("devices", "privacy") and event.devices == (ME.to_non_ad(), ME)
    assert invalidated == [ME.to_non_ad(), ME_LID.to_non_ad()]
    await feed(server, notification("account_sync", Node("picture"), sender=ME.to_non_ad()))
    assert server.log.of(AccountSyncChanged)[-1].what == ("picture",)
    assert len(invalidated) == 2


MALFORMED = [
    notification("devices", Node("add")),
    notification("devices", Node("add"), sender=GROUP),
    notification("devices", Node("add", None, [Node("device")]), sender=ALICE),
    notification(
        "devices",
        Node("remove", None, [Node("device", {"jid": ALICE, "key-index": "x"})]),
        sender=ALICE,
    ),
    notification("devices", Node("update"), sender=ALICE, lid="lid?"),
    notification("encrypt", Node("identity")),
    notification("encrypt", Node("identity"), sender=GROUP),
    notification("encrypt", Node("identity"), sender=ALICE, t="later"),
    notification("picture", Node("set", {"jid": ALICE})),
    notification("picture", Node("delete")),
    notification("privacy_token", sender=ALICE),
    notification(
        "privacy_token",
        Node("tokens", None, [Node("token", {"type": "trusted_contact"})]),
        sender=ALICE,
    ),
    notification("account_sync", Node("devices", None, [Node("device")])),
]


@pytest.mark.parametrize("node", MALFORMED, ids=repr)
async def test_malformed_notifications_are_dropped(server: CannedServer, node: Node) -> None:
    await feed(server, node)
    assert server.log.events == []
    await feed(server, notification("devices", Node("update"), sender=ALICE))
    assert len(server.log.of(DevicesChanged)) == 1
