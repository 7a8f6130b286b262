"""Sending: DM fan-out, groups with sender keys, peer messages, acks, retries (fake server)."""

from __future__ import annotations

import pytest

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.connection import NotConnectedError
from mautrix_whatsapp.whatsapp.msgsecret import decrypt_poll_vote, encrypt_poll_vote
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.send import (
    AckLostError,
    NotSentError,
    SendError,
    SendTimeoutError,
    ServerAckError,
    address_of,
    generate_message_id,
    migrate_session,
    participant_hash,
)
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.errors import NoSessionError
from tests.whatsapp.send_world import ACCOUNT, ME, ME_LID, PN, Peer, World, enc_for, recipients

BOB = JID("2000", PN)
CAROL = JID("3000", PN)
DAVE = JID("4000", PN)
GROUP = JID("120363000000000001", "g.us")


def test_message_ids_have_whatsapp_web_form() -> None:
    ids = {generate_message_id(ME) for _ in range(50)}
    assert len(ids) == 50
    for message_id in ids:
        assert message_id.startswith("3EB0") and len(message_id) == 22
        assert message_id == message_id.upper()
        int(message_id, 16)


async def test_dm_fans_out_to_recipient_and_own_devices() -> None:
    world = World()
    bob_phone, bob_web = world.add_user(BOB.user, [0, 7])
    own_phone, own_other = world.add_user(ME.user, [0, 5, 9])
    response = await world.client.send_message(BOB, mb.text("hello"))

    node = await world.next_message()
    assert node.attrs["to"] == BOB and node.attrs["type"] == "text"
    assert node.attrs["id"] == response.id and response.id.startswith("3EB0")
    assert response.timestamp.timestamp() == world.timestamp
    assert response.sender == ME
    assert recipients(node) == {bob_phone.jid, bob_web.jid, own_phone.jid, own_other.jid}
    assert node.get_child_by_tag("device-identity").content == ACCOUNT
    for bob in (bob_phone, bob_web):
        enc = enc_for(node, bob.jid)
        assert enc.attrs["type"] == "pkmsg" and enc.attrs["v"] == "2"
        assert (await bob.decrypt(enc)).conversation == "hello"
    for own in (own_phone, own_other):
        dsm = (await own.decrypt(enc_for(node, own.jid))).deviceSentMessage
        assert dsm.destinationJID == str(BOB) and dsm.message.conversation == "hello"
    assert len(world.iqs_of("encrypt")) == 1

    # Sessions now exist: no new pre-key fetch, and the devices still decrypt in order.
    await world.client.send_message(BOB, mb.text("again"))
    second = await world.next_message(2)
    assert len(world.iqs_of("encrypt")) == 1
    assert len(world.iqs_of("usync")) == 1, "device lists come from the cache"
    assert (await bob_web.decrypt(enc_for(second, bob_web.jid))).conversation == "again"


async def test_device_cache_invalidation_finds_a_new_device() -> None:
    world = World()
    world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    await world.client.send_message(BOB, mb.text("one"))
    (new_device,) = world.add_user(BOB.user, [3])
    await world.client.send_message(BOB, mb.text("two"))
    assert new_device.jid not in recipients(await world.next_message(2))
    world.client.devices.invalidate(JID(BOB.user, PN, 3))
    await world.client.send_message(BOB, mb.text("three"))
    third = await world.next_message(3)
    assert new_device.jid in recipients(third)
    assert (await new_device.decrypt(enc_for(third, new_device.jid))).conversation == "three"


async def test_error_ack_and_timeout_raise_typed_errors() -> None:
    world = World()
    world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    world.ack_error = "479"
    with pytest.raises(ServerAckError) as error:
        await world.client.send_message(BOB, mb.text("refused"))
    assert error.value.code == 479
    world.ack_error = None
    world.ack = False
    with pytest.raises(SendTimeoutError):
        await world.client.send_message(BOB, mb.text("lost"), timeout=0.2)
    assert world.client._requests.pending == 0


async def test_a_drop_before_the_send_and_one_before_the_ack_are_told_apart() -> None:
    """Nothing left when the socket was already down (safe to send again); a drop after the
    message left may have delivered it."""
    world = World()
    world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    receive = world.client.send_node

    async def socket_down(node: Node) -> None:
        raise NotConnectedError("not connected")

    world.client.send_node = socket_down  # type: ignore[method-assign]
    with pytest.raises(NotSentError):
        await world.client.send_message(BOB, mb.text("not sent"))
    assert world.messages == []

    async def drop_after_sending(node: Node) -> None:
        await receive(node)
        if node.tag == "message":
            world.client._requests.fail_all()

    world.ack = False
    world.client.send_node = drop_after_sending  # type: ignore[method-assign]
    with pytest.raises(AckLostError):
        await world.client.send_message(BOB, mb.text("maybe sent"))
    assert len(world.messages) == 1
    assert world.client._requests.pending == 0


async def test_edit_revoke_reaction_and_poll_attributes() -> None:
    world = World()
    (bob,) = world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    sent = await world.client.send_message(BOB, mb.text("tpyo"))
    cases: list[tuple[wa_e2e_pb2.Message, str, str | None]] = [
        (mb.edit(BOB, sent.id, mb.text("typo")), "text", "1"),
        (mb.revoke(BOB, sent.id), "text", "7"),
        (mb.reaction(BOB, sent.id, None, "👍"), "reaction", None),
        (mb.reaction(BOB, sent.id, None, mb.REMOVE_REACTION), "reaction", "7"),
        (mb.poll("Lunch?", ["pizza", "salad"]), "poll", None),
        (mb.contact("Ann", mb.vcard("Ann", "+15550100")), "media", None),
        (mb.location(52.5, 13.4, name="Berlin"), "text", None),
    ]
    for index, (message, kind, edit) in enumerate(cases, start=2):
        await world.client.send_message(BOB, message)
        node = await world.next_message(index)
        assert node.attrs["type"] == kind, message
        assert node.attrs.get("edit") == edit, message
        got = await bob.decrypt(enc_for(node, bob.jid))
        assert got == message
    poll_node = world.messages[5]
    assert poll_node.get_child_by_tag("meta").attrs == {"polltype": "creation"}
    assert enc_for(world.messages[6], bob.jid).attrs["mediatype"] == "vcard"
    assert enc_for(world.messages[3], bob.jid).attrs["decrypt-fail"] == "hide"


async def test_poll_secret_is_kept_and_votes_round_trip() -> None:
    world = World()
    (bob,) = world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    poll = mb.poll("Lunch?", ["pizza", "salad", "soup"])
    sent = await world.client.send_message(BOB, poll)
    secrets = world.client.secrets
    assert await secrets.get(BOB, ME, sent.id) == poll.messageContextInfo.messageSecret
    # Bob votes (with the secret he received in the poll); we decrypt his vote.
    got = await bob.decrypt(enc_for(await world.next_message(), bob.jid))
    vote = await _bob_votes(got.messageContextInfo.messageSecret, sent.id, ["soup"])
    decrypted = await secrets.decrypt_poll_vote(BOB, BOB, vote, ME)
    assert list(decrypted.selectedOptions) == [mb.poll_option_hash("soup")]
    # And our own vote message decrypts with the same rules.
    own_vote = await secrets.build_poll_vote(BOB, sent.id, ME, ME, ["pizza"], own=[ME])
    assert own_vote.pollUpdateMessage.pollCreationMessageKey.fromMe
    mine = await secrets.decrypt_poll_vote(BOB, ME, own_vote.pollUpdateMessage, ME)
    assert list(mine.selectedOptions) == [mb.poll_option_hash("pizza")]


async def _bob_votes(
    secret: bytes, poll_id: str, options: list[str]
) -> wa_e2e_pb2.PollUpdateMessage:
    return wa_e2e_pb2.PollUpdateMessage(
        vote=encrypt_poll_vote(
            secret, poll_id=poll_id, poll_sender=ME, voter=BOB, selected=options
        ),
        pollCreationMessageKey={"ID": poll_id, "remoteJID": str(ME), "fromMe": False},
    )


async def test_peer_message_goes_to_our_phone() -> None:
    world = World()
    (phone,) = world.add_user(ME.user, [0])
    request = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST
        )
    )
    await world.client.send_peer_message(request)
    node = await world.next_message()
    assert node.attrs["category"] == "peer" and node.attrs["push_priority"] == "high"
    assert node.attrs["to"] == ME.to_non_ad()
    assert node.get_child_by_tag("meta").attrs == {"appdata": "default"}
    assert await phone.decrypt(node.get_child_by_tag("enc")) == request


async def _group_world() -> tuple[World, list[Peer]]:
    world = World()
    peers = world.add_user(BOB.user, [0, 2]) + world.add_user(CAROL.user, [0])
    peers += world.add_user(ME.user, [0, 5])
    world.groups[GROUP] = [BOB, CAROL, ME.to_non_ad()]
    return world, peers


async def _receive_group(peer: Peer, node: Node) -> wa_e2e_pb2.Message:
    if peer.jid in recipients(node):
        skdm = await peer.decrypt(enc_for(node, peer.jid))
        assert skdm.senderKeyDistributionMessage.groupID == str(GROUP)
        await peer.take_sender_key(GROUP, skdm)
    return await peer.decrypt_group(GROUP, node.get_child_by_tag("enc"))


async def test_group_sends_skmsg_once_and_the_sender_key_to_new_devices_only() -> None:
    world, peers = await _group_world()
    await world.client.send_message(GROUP, mb.text("hi all"))
    first = await world.next_message()
    assert first.attrs["to"] == GROUP and str(first.attrs["phash"]).startswith("2:")
    assert first.get_child_by_tag("enc").attrs["type"] == "skmsg"
    assert recipients(first) == {peer.jid for peer in peers}
    assert first.get_optional_child_by_tag("device-identity") is not None
    for peer in peers:
        assert (await _receive_group(peer, first)).conversation == "hi all"

    await world.client.send_message(GROUP, mb.text("second"))
    second = await world.next_message(2)
    assert recipients(second) == set()
    for peer in peers:
        assert (await _receive_group(peer, second)).conversation == "second"

    # Dave joins: only his device gets our sender key.
    (dave,) = world.add_user(DAVE.user, [0])
    world.groups[GROUP].append(DAVE)
    await world.client.send_message(GROUP, mb.text("welcome"))
    third = await world.next_message(3)
    assert recipients(third) == {dave.jid}
    for peer in [*peers, dave]:
        assert (await _receive_group(peer, third)).conversation == "welcome"


async def test_sender_key_rotates_when_a_member_leaves() -> None:
    world, peers = await _group_world()
    carol = next(peer for peer in peers if peer.jid.user == CAROL.user)
    await world.client.send_message(GROUP, mb.text("before"))
    first = await world.next_message()
    for peer in peers:
        await _receive_group(peer, first)
    world.groups[GROUP].remove(CAROL)
    await world.client.send_message(GROUP, mb.text("after"))
    after = await world.next_message(2)
    stayed = [peer for peer in peers if peer is not carol]
    assert recipients(after) == {peer.jid for peer in stayed}
    for peer in stayed:
        assert (await _receive_group(peer, after)).conversation == "after"
    with pytest.raises(NoSessionError):
        await carol.decrypt_group(GROUP, after.get_child_by_tag("enc"))


async def test_retry_receipt_resends_with_the_keys_it_brings() -> None:
    world = World()
    (bob,) = world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    sent = await world.client.send_message(BOB, mb.text("lost in transit"))
    await world.next_message()
    # Bob lost his session (reinstalled): a new identity, and his keys in the receipt.
    fresh = Peer(bob.jid)
    world.peers[bob.jid] = fresh
    keys = fresh.bundle_node("keys")
    registration = keys.get_child_by_tag("registration")
    receipt = Node(
        "receipt",
        {"from": bob.jid, "id": sent.id, "type": "retry", "t": "1700000001"},
        [
            Node("retry", {"count": "2", "id": sent.id, "t": "1700000000", "v": "1"}),
            registration,
            Node("keys", {}, [c for c in keys.children if c.tag != "registration"]),
        ],
    )
    await world.client._handle_receipt(receipt)
    resent = await world.next_message(2)
    assert resent.attrs["id"] == sent.id and resent.attrs["to"] == bob.jid
    assert resent.attrs["device_fanout"] == "false"
    enc = resent.get_child_by_tag("enc")
    assert enc.attrs["count"] == "2" and enc.attrs["type"] == "pkmsg"
    assert resent.get_child_by_tag("device-identity").content == ACCOUNT
    assert (await fresh.decrypt(enc)).conversation == "lost in transit"


async def test_retry_receipts_are_answered_at_most_five_times() -> None:
    world = World()
    (bob,) = world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    sent = await world.client.send_message(BOB, mb.text("x"))
    receipt = Node(
        "receipt",
        {"from": bob.jid, "id": sent.id, "type": "retry"},
        [Node("retry", {"count": "1", "id": sent.id, "t": "1700000000"})],
    )
    answered = [await world.client.resender.handle_retry(receipt) for _ in range(7)]
    assert sum(stanza is not None for stanza in answered) == 5
    unknown = Node(
        "receipt",
        {"from": bob.jid, "id": "NOPE", "type": "retry"},
        [Node("retry", {"count": "1", "id": "NOPE", "t": "1700000000"})],
    )
    await world.client._handle_receipt(unknown)  # logged, not raised; the receipt is acked
    assert len(world.messages) == 1 + 5


async def test_group_retry_includes_the_sender_key() -> None:
    world, peers = await _group_world()
    sent = await world.client.send_message(GROUP, mb.text("group text"))
    await world.next_message()
    bob = peers[0]
    fresh = Peer(bob.jid)
    world.peers[bob.jid] = fresh
    keys = fresh.bundle_node("keys")
    receipt = Node(
        "receipt",
        {"from": GROUP, "participant": bob.jid, "id": sent.id, "type": "retry"},
        [
            Node("retry", {"count": "1", "id": sent.id, "t": "1700000000"}),
            keys.get_child_by_tag("registration"),
            Node("keys", {}, [c for c in keys.children if c.tag != "registration"]),
        ],
    )
    resent = await world.client.resender.handle_retry(receipt)
    assert resent is not None and resent.attrs["participant"] == bob.jid
    got = await fresh.decrypt(resent.get_child_by_tag("enc"))
    assert got.conversation == "group text"
    assert got.senderKeyDistributionMessage.groupID == str(GROUP)


def test_participant_hash_matches_whatsmeow_form() -> None:
    devices = [JID("2000", PN, 0, ad=True), JID("1000", PN, 9, ad=True)]
    assert participant_hash(devices) == participant_hash(list(reversed(devices)))
    assert participant_hash(devices).startswith("2:") and len(participant_hash(devices)) == 10


@pytest.mark.parametrize(
    "children",
    [
        [],
        [Node("retry", {"id": "X"})],
        [Node("retry", {"id": "X", "count": "many", "t": "1"})],
        [Node("retry", {"count": "1", "t": "1"})],
    ],
)
async def test_malformed_retry_receipts_are_refused_and_acked(children: list[Node]) -> None:
    world = World()
    (bob,) = world.add_user(BOB.user, [0])
    receipt = Node("receipt", {"from": bob.jid, "id": "X", "type": "retry"}, children)
    with pytest.raises((ValueError, KeyError)):
        await world.client.resender.handle_retry(receipt)
    acks: list[Node] = []

    async def collect(node: Node) -> None:
        acks.append(node)

    world.client.send_node = collect  # type: ignore[method-assign]
    await world.client._handle_receipt(receipt)
    assert [ack.attrs["class"] for ack in acks] == ["receipt"]
    world.client._finish_connection_tasks()


async def test_a_device_with_a_bad_bundle_is_left_out() -> None:
    world = World()
    good, bad = world.add_user(BOB.user, [0, 1])
    world.add_user(ME.user, [0, 5])
    bad.bundle_node = lambda tag="user": Node(tag, {"jid": bad.jid}, [Node("error", {})])  # type: ignore[method-assign]
    await world.client.send_message(BOB, mb.text("partial"))
    node = await world.next_message()
    assert bad.jid not in recipients(node) and good.jid in recipients(node)
    assert (await good.decrypt(enc_for(node, good.jid))).conversation == "partial"


BOB_LID = JID("8000", "lid")


async def test_dm_to_a_lid_fans_out_to_our_lid_devices() -> None:
    world = World()
    (bob,) = world.add_user(BOB_LID.user, [0], server="lid")
    (own_phone,) = world.add_user(ME_LID.user, [0, 5], server="lid")
    response = await world.client.send_message(BOB_LID, mb.text("by lid"))
    assert response.sender == ME_LID
    node = await world.next_message()
    assert recipients(node) == {bob.jid, own_phone.jid}
    assert (await bob.decrypt(enc_for(node, bob.jid), ME_LID)).conversation == "by lid"
    dsm = (await own_phone.decrypt(enc_for(node, own_phone.jid), ME_LID)).deviceSentMessage
    assert dsm.destinationJID == str(BOB_LID)


async def test_lid_group_sends_as_our_lid_and_learns_member_numbers() -> None:
    world = World()
    (bob,) = world.add_user(BOB_LID.user, [0], server="lid")
    world.add_user(ME_LID.user, [5], server="lid")
    world.groups[GROUP] = [BOB_LID, ME_LID.to_non_ad()]
    world.group_attrs[GROUP] = {"addressing_mode": "lid"}
    world.phone_numbers[BOB_LID] = BOB
    poll = mb.poll("Where?", ["here", "there"])
    response = await world.client.send_message(GROUP, poll)
    assert response.sender == ME_LID
    node = await world.next_message()
    assert node.attrs["addressing_mode"] == "lid"
    skdm = await bob.decrypt(enc_for(node, bob.jid), ME_LID)
    await bob.take_sender_key(GROUP, skdm, ME_LID)
    assert await bob.decrypt_group(GROUP, node.get_child_by_tag("enc"), ME_LID) == poll
    assert await world.client.lids.get_pn(BOB_LID) == BOB
    secret = await world.client.secrets.get(GROUP, ME_LID, response.id)
    assert secret == poll.messageContextInfo.messageSecret


async def test_client_builders_know_our_own_jids() -> None:
    world = World()
    (bob,) = world.add_user(BOB.user, [0])
    world.add_user(ME.user, [0, 5])
    client = world.client
    assert client.own_jids() == [ME, ME_LID]
    # Someone else's message in a group: an admin revoke naming its author.
    admin_revoke = client.build_revoke(GROUP, "X", BOB)
    assert mb.edit_attribute(admin_revoke) == "8"
    assert admin_revoke.protocolMessage.key.participant == str(BOB)
    # Our own message, named by our LID: still ours.
    assert mb.edit_attribute(client.build_revoke(GROUP, "X", ME_LID)) == "7"
    reaction = client.build_reaction(BOB, "Y", JID(ME.user, PN, 0), "🎉")
    assert reaction.reactionMessage.key.fromMe
    # Voting on Bob's poll (its secret came with it; the receiving side stores it so).
    secret = bytes(32)
    await client.secrets.put(BOB, BOB, "POLL", secret)
    vote = await client.build_poll_vote(BOB, "POLL", BOB, ["b"])
    await client.send_message(BOB, vote)
    node = await world.next_message()
    assert node.attrs["type"] == "poll"
    assert node.get_child_by_tag("meta").attrs == {"polltype": "vote"}
    assert enc_for(node, bob.jid).attrs["decrypt-fail"] == "hide"
    update = (await bob.decrypt(enc_for(node, bob.jid))).pollUpdateMessage
    assert not update.pollCreationMessageKey.fromMe
    chosen = decrypt_poll_vote(secret, poll_id="POLL", poll_sender=BOB, voter=ME, vote=update.vote)
    assert list(chosen.selectedOptions) == [mb.poll_option_hash("b")]


@pytest.mark.parametrize(
    "group",
    [
        Node("nogroup"),
        Node("group", {}, [Node("participant", {})]),
        Node("group", {}, [Node("participant", {"jid": "text, not a JID"})]),
    ],
)
async def test_malformed_group_info_is_a_send_error(group: Node) -> None:
    world, _ = await _group_world()
    answer = world._answer_iq

    def malformed(iq: Node) -> Node:
        if iq.attrs.get("xmlns") == "w:g2":
            return Node("iq", {"id": iq.attrs["id"], "type": "result"}, [group])
        return answer(iq)

    world._answer_iq = malformed  # type: ignore[method-assign]
    with pytest.raises(SendError):
        await world.client.send_message(GROUP, mb.text("nobody hears this"))
    assert world.messages == [] and world.client._requests.pending == 0


async def test_a_session_moved_to_the_lid_is_used_for_the_phone_number() -> None:
    """Receiving from a device named by its LID moves our session there (message.py); the
    next send to the phone-number device must use it, not fetch pre-keys for a new one."""
    world = World()
    (bob,) = world.add_user(BOB.user, [7])
    world.add_user(ME.user, [5])
    await world.client.send_message(BOB, mb.text("first"))
    await bob.decrypt(enc_for(await world.next_message(), bob.jid))
    lid_device = JID(BOB_LID.user, "lid", 7)
    await world.client.lids.learn(BOB_LID, BOB)
    async with world.client.locks.session(address_of(lid_device)):
        await migrate_session(world.client, address_of(bob.jid), address_of(lid_device))

    await world.client.send_message(BOB, mb.text("second"))
    node = await world.next_message(2)
    assert len(world.iqs_of("encrypt")) == 1, "no new pre-key fetch"
    assert (await bob.decrypt(enc_for(node, bob.jid))).conversation == "second"
    store = world.client.signal_store
    assert await store.contains_session(address_of(lid_device))
    assert not await store.contains_session(address_of(bob.jid))


async def test_a_session_moves_to_the_lid_once_the_lid_is_known() -> None:
    """The receiving side keeps a contact's sessions under its LID once it knows it; sending
    must use that session too (whatsmeow), not build a new one under the number each time."""
    world = World()
    (bob,) = world.add_user(BOB.user, [7])
    world.add_user(ME.user, [5])
    await world.client.send_message(BOB, mb.text("first"))
    first = await world.next_message()
    assert enc_for(first, bob.jid).attrs["type"] == "pkmsg"
    assert (await bob.decrypt(enc_for(first, bob.jid))).conversation == "first"

    await world.client.lids.learn(BOB_LID, BOB)
    await world.client.send_message(BOB, mb.text("second"))
    second = await world.next_message(2)
    assert len(world.iqs_of("encrypt")) == 1, "no new pre-keys: the session was moved"
    assert (await bob.decrypt(enc_for(second, bob.jid))).conversation == "second"
    store = world.client.signal_store
    lid_device = SignalAddress(*JID(BOB_LID.user, "lid", 7, ad=True).signal_address)
    assert await store.contains_session(lid_device)
    assert not await store.contains_session(SignalAddress(*bob.jid.signal_address))
