"""usync answers, pre-key bundle parsing and the LID map: good and malformed input."""

from __future__ import annotations

import asyncio

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.bundles import BundleError, fetch_bundles, parse_bundle
from mautrix_whatsapp.whatsapp.lid import LIDMap
from mautrix_whatsapp.whatsapp.store import MemoryMessagingStore
from mautrix_whatsapp.whatsapp.usync import Usync, UsyncError, parse_usync
from tests.whatsapp.send_world import Peer

PN = "s.whatsapp.net"
BOB = JID("2000", PN)
BOB_LID = JID("8000", "lid")


def _answer(*users: Node) -> Node:
    return Node("iq", {"type": "result"}, [Node("usync", {}, [Node("list", {}, list(users))])])


def _devices(*entries: dict[str, str], key_index: Node | None = None) -> Node:
    children = [Node("device-list", {}, [Node("device", attrs) for attrs in entries])]
    if key_index is not None:
        children.append(key_index)
    return Node("devices", {}, children)


def test_device_lists_with_key_indexes_and_hosted_devices() -> None:
    (info,) = parse_usync(
        _answer(
            Node(
                "user",
                {"jid": BOB},
                [
                    _devices(
                        {"id": "0"},
                        {"id": "3", "key-index": "2"},
                        {"id": "99", "is_hosted": "true"},
                        key_index=Node("key-index-list", {"ts": "1700000000"}, b"signed"),
                    ),
                    Node("lid", {"val": BOB_LID}),
                ],
            )
        )
    )
    assert info.jid == BOB and info.lid == BOB_LID
    assert info.devices is not None
    assert [str(d) for d in info.devices.devices] == [
        "2000:0@s.whatsapp.net",
        "2000:3@s.whatsapp.net",
        "2000:99@hosted",
    ]
    assert info.devices.key_indexes == {3: 2}
    assert info.devices.key_index is not None
    assert info.devices.key_index.timestamp == 1700000000
    assert info.devices.key_index.signed == b"signed"


def test_contact_answers() -> None:
    infos = parse_usync(
        _answer(
            Node("user", {"jid": BOB}, [Node("contact", {"type": "in"}, b"+2000")]),
            Node("user", {"jid": JID("2001", PN)}, [Node("contact", {"type": "out"})]),
        )
    )
    assert [(i.jid.user, i.is_on_whatsapp, i.query) for i in infos] == [
        ("2000", True, "+2000"),
        ("2001", False, None),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        Node("iq", {"type": "result"}),
        Node("iq", {"type": "result"}, [Node("usync", {}, [])]),
        Node("iq", {"type": "result"}, [Node("usync", {}, b"junk")]),
    ],
)
def test_answers_without_a_list_are_typed_errors(answer: Node) -> None:
    with pytest.raises(UsyncError):
        parse_usync(answer)


def test_malformed_user_entries_are_skipped_not_fatal() -> None:
    infos = parse_usync(
        _answer(
            Node("user", {}, [_devices({"id": "1"})]),  # no jid
            Node("user", {"jid": "not-a-jid-object"}),
            Node("user", {"jid": BOB}, [_devices({"id": "x"})]),
            Node("user", {"jid": BOB}, [_devices({"id": "70000"})]),
            Node("user", {"jid": BOB}, [Node("lid", {"val": JID("5", PN)})]),
            Node("user", {"jid": BOB}, [Node("devices", {}, [Node("error", {"code": "500"})])]),
            Node("user", {"jid": JID("2002", PN)}, [_devices({"id": "4"})]),
        )
    )
    assert [info.jid.user for info in infos] == ["2002"]


async def test_usync_cache_records_lids_and_invalidates() -> None:
    lids = LIDMap(MemoryMessagingStore())
    sent: list[Node] = []
    devices = {"0": [{"id": "0"}]}

    async def send_iq(xmlns: str, iq_type: str, content: list[Node], **_: object) -> Node:
        sent.append(content[0])
        await asyncio.sleep(0)
        return _answer(
            Node("user", {"jid": BOB}, [_devices(*devices["0"]), Node("lid", {"val": BOB_LID})])
        )

    usync = Usync(send_iq, lids)
    assert await usync.get_devices([JID("2000", PN, 4)]) == [JID("2000", PN, 0)]
    assert sent[0].attrs["context"] == "message"
    user = sent[0].get_child_by_tag("list").children[0]
    assert user.attrs["jid"] == BOB, "the user is asked for, not a device"
    assert await lids.get_lid(BOB) == BOB_LID and await lids.get_pn(BOB_LID) == BOB
    devices["0"] = [{"id": "0"}, {"id": "6"}]
    assert len(await usync.get_devices([BOB])) == 1 and len(sent) == 1
    usync.invalidate(JID("2000", PN, 6))
    assert len(await usync.get_devices([BOB])) == 2 and len(sent) == 2


async def test_lid_map_learns_and_replaces() -> None:
    store = MemoryMessagingStore()
    lids = LIDMap(store)
    await lids.learn(BOB_LID, None)
    await lids.learn(BOB, BOB_LID)  # wrong way round: ignored
    assert store.pn_by_lid == {}
    await lids.learn(JID("8000", "lid", 3), JID("2000", PN, 3))
    assert await LIDMap(store).get_pn(BOB_LID) == BOB, "kept by user, in the store"
    await lids.learn(JID("8001", "lid"), BOB)
    assert await lids.get_lid(BOB) == JID("8001", "lid")
    assert await lids.get_pn(BOB_LID) is None
    assert await lids.alternate(JID("8001", "lid")) == BOB
    assert await lids.alternate(JID("1-2", "g.us")) is None


def test_bundle_parsing_rejects_malformed_entries() -> None:
    peer = Peer(JID("2000", PN, 1, ad=True))
    good = peer.bundle_node()
    bundle = parse_bundle(1, good)
    assert bundle.registration_id == peer.store.registration_id and bundle.pre_key_id == 1
    broken = [
        Node("user", {}, [c for c in good.children if c.tag != "identity"]),
        Node(
            "user",
            {},
            [
                c if c.tag != "registration" else Node("registration", {}, b"\x01")
                for c in good.children
            ],
        ),
        Node("user", {}, [c for c in good.children if c.tag != "skey"]),
        Node("user", {}, [Node("error", {"code": "404"})]),
        Node(
            "user",
            {},
            [c if c.tag != "identity" else Node("identity", {}, "text") for c in good.children],
        ),
    ]
    for node in broken:
        with pytest.raises(BundleError):
            parse_bundle(1, node)


async def test_fetch_bundles_reports_each_device() -> None:
    peer = Peer(JID("2000", PN, 1, ad=True))
    missing = JID("2000", PN, 2, ad=True)

    async def send_iq(xmlns: str, iq_type: str, content: list[Node], **_: object) -> Node:
        assert xmlns == "encrypt" and content[0].tag == "key"
        return Node(
            "iq",
            {},
            [
                Node(
                    "list",
                    {},
                    [peer.bundle_node(), Node("user", {"jid": missing}, [Node("error", {})])],
                )
            ],
        )

    result = await fetch_bundles(send_iq, [peer.jid, missing, JID("2000", PN, 3)])
    assert not isinstance(result[peer.jid], BundleError)
    assert isinstance(result[missing], BundleError)
    assert isinstance(result[JID("2000", PN, 3)], BundleError)
