"""A remote WhatsApp device for the receiving tests: our Signal library on the peer's side,
building ``<message>`` stanzas by hand (no client code), and a paired offline client to feed."""

from __future__ import annotations

import itertools
import time
from typing import Any

from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
from mautrix_whatsapp.whatsapp.signal.group_cipher import GroupCipher
from mautrix_whatsapp.whatsapp.signal.group_session import GroupSessionBuilder
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle, PreKeyRecord
from mautrix_whatsapp.whatsapp.signal.padding import pad_message
from mautrix_whatsapp.whatsapp.signal.sender_key import SenderKeyName
from mautrix_whatsapp.whatsapp.store import MemorySignalStore

from .test_client_helpers import EventLog, offline_client

OWN = JID("15550001111", "s.whatsapp.net", 4)
OWN_LID = JID("90000000000001", "lid", 4)
_ids = itertools.count(1)


def wire(node: Node) -> Node:
    """Through the codec and back, as the client sees it."""
    return unmarshal(marshal(node))


def message_id() -> str:
    return f"3EB0{next(_ids):016X}"


def text(body: str) -> wa_e2e_pb2.Message:
    return wa_e2e_pb2.Message(conversation=body)


async def paired_client(
    pre_keys: int = 5, push_name: str = ""
) -> tuple[Client, EventLog, list[Node]]:
    """A logged-in-looking offline client whose signal store holds its pre-keys."""
    device = DeviceIdentity.generate()
    device.jid, device.lid, device.push_name = OWN, OWN_LID, push_name
    device.account = b"\x0a\x02signed-device-identity"
    client, _store, log, sent = offline_client(device)
    await client.signal_store.store_signed_pre_key(device.signed_pre_key)
    records = [PreKeyRecord.generate(i) for i in range(1, pre_keys + 1)]
    await client.signal_store.store_pre_keys(records)
    device.next_pre_key_id = pre_keys + 1
    return client, log, sent


async def client_bundle(client: Client, pre_key_id: int | None = 1) -> PreKeyBundle:
    device = client.device
    pre_key = (
        await client.signal_store.load_pre_key(pre_key_id) if pre_key_id is not None else None
    )
    assert device.jid is not None
    return PreKeyBundle.from_records(
        device.registration_id,
        device.jid.device,
        device.identity_key,
        device.signed_pre_key,
        pre_key,
    )


class Peer:
    """One remote device (``jid``) that talks to our client (``OWN``, or ``target``)."""

    def __init__(self, jid: JID, target: JID = OWN) -> None:
        self.jid = jid
        self.target = target
        self.store = MemorySignalStore.generate()

    @property
    def target_address(self) -> SignalAddress:
        return SignalAddress(*self.target.signal_address)

    @property
    def address_on_client(self) -> SignalAddress:
        """Where the client keeps its session with this device."""
        return SignalAddress(*self.jid.signal_address)

    async def start(self, bundle: PreKeyBundle) -> None:
        await SessionBuilder(self.store, self.target_address).process_bundle(bundle)

    async def encrypt(
        self, message: wa_e2e_pb2.Message | bytes, pad: bool = True
    ) -> tuple[str, bytes]:
        plaintext = message if isinstance(message, bytes) else message.SerializeToString()
        result = await SessionCipher(self.store, self.target_address).encrypt(
            pad_message(plaintext) if pad else plaintext
        )
        return result.type, result.serialized

    async def dm(
        self,
        message: wa_e2e_pb2.Message | bytes,
        msg_id: str | None = None,
        **attrs: Any,
    ) -> Node:
        """A ``<message>`` from this device to our client with one ``<enc>``."""
        enc_type, body = await self.encrypt(message)
        return stanza(self.jid, [enc(enc_type, body)], msg_id, **attrs)

    # --- groups ---

    def sender_key_name(self, group: JID) -> SenderKeyName:
        return SenderKeyName(str(group), SignalAddress(*self.jid.signal_address))

    async def skdm(self, group: JID) -> wa_e2e_pb2.Message:
        distribution = await GroupSessionBuilder(self.store).create(self.sender_key_name(group))
        return wa_e2e_pb2.Message(
            senderKeyDistributionMessage=wa_e2e_pb2.SenderKeyDistributionMessage(
                groupID=str(group), axolotlSenderKeyDistributionMessage=distribution.serialize()
            )
        )

    async def group_enc(self, group: JID, message: wa_e2e_pb2.Message) -> Node:
        padded = pad_message(message.SerializeToString())
        body = await GroupCipher(self.store, self.sender_key_name(group)).encrypt(padded)
        return enc("skmsg", body)


def enc(enc_type: str, body: bytes | None, **attrs: str) -> Node:
    return Node("enc", {"v": "2", "type": enc_type, **attrs}, body)


def stanza(sender: JID, encs: list[Node], msg_id: str | None = None, **attrs: Any) -> Node:
    base: dict[str, Any] = {
        "from": sender,
        "id": msg_id or message_id(),
        "t": str(int(time.time())),
        "type": "text",
    }
    base.update(attrs)
    return wire(Node("message", base, encs))
