"""Vectors from libsignal-node (and Baileys' group cipher on it) through our message path: a DM
pkmsg/msg and a group SKDM + skmsg, encrypted in node, arrive as Message events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.events import Message
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.padding import pad_message

from .message_peer import OWN, client_bundle, enc, paired_client, stanza, text
from .signal_session_harness import GroupHarness, SessionHarness, b64, unb64

pytestmark = pytest.mark.node

NODE_JID = JID("15557778888", "s.whatsapp.net", 2)
GROUP = JID("120363222222222222", "g.us")
OURS = SignalAddress(*OWN.signal_address)
_parties = itertools.count()


@pytest.fixture(scope="module")
def sessions(node_harness_dir: Path) -> Iterator[SessionHarness]:
    with SessionHarness(node_harness_dir) as h:
        yield h


@pytest.fixture(scope="module")
def groups(node_harness_dir: Path) -> Iterator[GroupHarness]:
    with GroupHarness(node_harness_dir) as h:
        yield h


def node_encrypt(
    sessions: SessionHarness, party: str, messages: list[wa_e2e_pb2.Message]
) -> list[tuple[str, bytes]]:
    plaintexts = [pad_message(m.SerializeToString()) for m in messages]
    return sessions.encrypt(party, OURS, plaintexts)


async def test_libsignal_node_dm_decrypts_through_the_message_handler(
    sessions: SessionHarness,
) -> None:
    client, log, sent = await paired_client()
    party = f"recv-{next(_parties)}"
    sessions.init(party)
    sessions.process_bundle(party, OURS, await client_bundle(client))
    encrypted = node_encrypt(sessions, party, [text("from node"), text("and again")])
    assert [t for t, _ in encrypted] == ["pkmsg", "pkmsg"]
    for enc_type, body in encrypted:
        await client._handle_node(stanza(NODE_JID, [enc(enc_type, body)], notify="Node"))
    assert [e.message.conversation for e in log.of(Message)] == ["from node", "and again"]
    assert log.of(Message)[0].info.sender == NODE_JID
    assert [n.tag for n in sent] == ["receipt", "receipt"]


async def test_baileys_group_message_after_skdm_from_libsignal_node(
    sessions: SessionHarness, groups: GroupHarness
) -> None:
    client, log, _sent = await paired_client()
    party = f"recv-group-{next(_parties)}"
    sessions.init(party)
    sessions.process_bundle(party, OURS, await client_bundle(client))
    node_sender = SignalAddress(*NODE_JID.signal_address)
    address = {"party": party, "group": str(GROUP), "name": node_sender.name}
    skdm = unb64(groups.call("create", **address, device=node_sender.device)["skdm"])
    distribution = wa_e2e_pb2.Message(
        senderKeyDistributionMessage=wa_e2e_pb2.SenderKeyDistributionMessage(
            groupID=str(GROUP), axolotlSenderKeyDistributionMessage=skdm
        )
    )
    ((pk_type, pk_body),) = node_encrypt(sessions, party, [distribution])
    contents = [text("group hello").SerializeToString(), text("group two").SerializeToString()]
    answer = groups.call(
        "encrypt",
        **address,
        device=node_sender.device,
        plaintexts=[b64(c) for c in contents],
        pad=True,
    )
    first, second = (unb64(c) for c in answer["ciphertexts"])
    await client._handle_node(
        stanza(GROUP, [enc(pk_type, pk_body), enc("skmsg", first)], participant=NODE_JID)
    )
    await client._handle_node(stanza(GROUP, [enc("skmsg", second)], participant=NODE_JID))
    events = log.of(Message)
    assert [e.message.conversation for e in events] == ["group hello", "group two"]
    assert all(e.info.chat == GROUP and e.info.sender == NODE_JID for e in events)
