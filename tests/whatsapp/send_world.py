"""A fake WhatsApp server for the sending side's unit tests (no tests of its own).

It runs in-process behind an offline client's ``send_node``: it answers usync device queries,
pre-key fetches and group info from its own records, acks every ``<message>`` with a ``t`` (or
an error, or not at all), and keeps what was sent. Its peers are real Signal parties (our Signal
library, which libsignal-node vouches for), so a test decrypts what the client produced exactly as
a receiving device would: the stanza handling here is the test's own, not the client's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
from mautrix_whatsapp.whatsapp.signal.group_cipher import GroupCipher
from mautrix_whatsapp.whatsapp.signal.group_session import GroupSessionBuilder
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyRecord, SignedPreKeyRecord
from mautrix_whatsapp.whatsapp.signal.padding import unpad_message
from mautrix_whatsapp.whatsapp.signal.sender_key import SenderKeyName
from mautrix_whatsapp.whatsapp.store import MemorySignalStore

PN = "s.whatsapp.net"
ME = JID("1000", PN, 5)
ME_LID = JID("9000", "lid", 5)
ACCOUNT = b"signed-adv-identity"


def addr(jid: JID) -> SignalAddress:
    return SignalAddress(*jid.signal_address)


@dataclass
class Peer:
    """One remote device: its Signal store and the pre-keys it has uploaded."""

    jid: JID
    store: MemorySignalStore = field(default_factory=MemorySignalStore.generate)
    next_pre_key: int = 1
    signed: SignedPreKeyRecord | None = None

    def __post_init__(self) -> None:
        self.signed = SignedPreKeyRecord.generate(self.store.identity_key_pair, 1)
        self.store.signed_pre_keys[1] = self.signed.serialize()

    def bundle_node(self, tag: str = "user") -> Node:
        """This device's bundle as the server hands it out (a fresh one-time pre-key)."""
        pre_key = PreKeyRecord.generate(self.next_pre_key)
        self.next_pre_key += 1
        self.store.pre_keys[pre_key.key_id] = pre_key.serialize()
        assert self.signed is not None
        children = [
            Node("registration", {}, self.store.registration_id.to_bytes(4, "big")),
            Node("type", {}, b"\x05"),
            Node("identity", {}, self.store.identity_key_pair.public),
            Node(
                "key",
                {},
                [
                    Node("id", {}, pre_key.key_id.to_bytes(3, "big")),
                    Node("value", {}, pre_key.key_pair.public),
                ],
            ),
            Node(
                "skey",
                {},
                [
                    Node("id", {}, (1).to_bytes(3, "big")),
                    Node("value", {}, self.signed.key_pair.public),
                    Node("signature", {}, self.signed.signature),
                ],
            ),
        ]
        return Node(tag, {"jid": self.jid}, children)

    async def decrypt(self, enc: Node, sender: JID = ME) -> wa_e2e_pb2.Message:
        """Decrypt a pairwise ``<enc>`` from ``sender`` (our client's device)."""
        cipher = SessionCipher(self.store, addr(sender))
        padded = await cipher.decrypt(str(enc.attrs["type"]), enc.content_bytes())
        message = wa_e2e_pb2.Message()
        message.ParseFromString(unpad_message(padded))
        return message

    async def decrypt_group(self, group: JID, skmsg: Node, sender: JID = ME) -> wa_e2e_pb2.Message:
        cipher = GroupCipher(self.store, SenderKeyName(str(group), addr(sender)))
        message = wa_e2e_pb2.Message()
        message.ParseFromString(unpad_message(await cipher.decrypt(skmsg.content_bytes())))
        return message

    async def take_sender_key(
        self, group: JID, skdm: wa_e2e_pb2.Message, sender: JID = ME
    ) -> None:
        name = SenderKeyName(str(group), addr(sender))
        data = skdm.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage
        await GroupSessionBuilder(self.store).process(name, data)


class World:
    """The fake server; ``client`` sends into it."""

    def __init__(self) -> None:
        device = DeviceIdentity.generate()
        device.jid, device.lid, device.account = ME, ME_LID, ACCOUNT
        self.client = Client(device, _NoStore())
        self.client.send_node = self._receive  # type: ignore[method-assign]
        self.peers: dict[JID, Peer] = {}
        self.groups: dict[JID, list[JID]] = {}
        self.group_attrs: dict[JID, dict[str, str]] = {}
        self.phone_numbers: dict[JID, JID] = {}
        """LID → phone number, named in LID groups' participant lists."""
        self.iqs: list[Node] = []
        self.messages: list[Node] = []
        self.ack_error: str | None = None
        self.ack = True
        self.timestamp = 1_700_000_000
        self._arrived = asyncio.Condition()

    def add_user(self, user: str, devices: list[int], server: str = PN) -> list[Peer]:
        """A user with these devices (our own account: ``1000``/``9000@lid``; device 5 is us)."""
        peers = []
        for device in devices:
            jid = JID(user, server, device, ad=True)
            if jid in (ME, ME_LID):
                continue
            self.peers[jid] = Peer(jid)
            peers.append(self.peers[jid])
        return peers

    def devices_of(self, user: str) -> list[JID]:
        devices = [jid for jid in self.peers if jid.user == user]
        if user == ME.user:
            devices.append(ME)
        if user == ME_LID.user:
            devices.append(ME_LID)
        return sorted(devices, key=lambda jid: jid.device)

    async def next_message(self, count: int = 1) -> Node:
        async with asyncio.timeout(5), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return self.messages[count - 1]

    def iqs_of(self, xmlns: str) -> list[Node]:
        return [iq for iq in self.iqs if iq.attrs.get("xmlns") == xmlns]

    # --- the server side ---

    async def _receive(self, node: Node) -> None:
        if node.tag == "iq":
            self.iqs.append(node)
            answer = self._answer_iq(node)
            asyncio.get_running_loop().call_soon(self.client._requests.resolve, answer)
        elif node.tag == "message":
            async with self._arrived:
                self.messages.append(node)
                self._arrived.notify_all()
            if self.ack:
                attrs = {"class": "message", "id": node.attrs["id"], "t": str(self.timestamp)}
                if self.ack_error is not None:
                    attrs["error"] = self.ack_error
                ack = Node("ack", attrs)
                asyncio.get_running_loop().call_soon(self.client._requests.resolve, ack)

    def _answer_iq(self, iq: Node) -> Node:
        result = {"id": iq.attrs["id"], "type": "result", "from": iq.attrs.get("to", PN)}
        xmlns = iq.attrs.get("xmlns")
        if xmlns == "usync":
            users = []
            for user in iq.get_child_by_tag("usync", "list").children:
                jid = user.attr_jid("jid")
                device_list = [
                    Node("device", {"id": str(d.device)}) for d in self.devices_of(jid.user)
                ]
                users.append(
                    Node(
                        "user",
                        {"jid": jid},
                        [Node("devices", {}, [Node("device-list", {}, device_list)])],
                    )
                )
            return Node("iq", result, [Node("usync", {}, [Node("list", {}, users)])])
        if xmlns == "encrypt":
            bundles = [
                self.peers[user.attr_jid("jid")].bundle_node()
                for user in iq.get_child_by_tag("key").children
            ]
            return Node("iq", result, [Node("list", {}, bundles)])
        if xmlns == "w:g2":
            group = iq.attr_jid("to")
            participants = [
                Node("participant", {"jid": jid, **self._phone_attr(jid)})
                for jid in self.groups[group]
            ]
            attrs = {"id": group.user, **self.group_attrs.get(group, {})}
            return Node("iq", result, [Node("group", attrs, participants)])
        raise AssertionError(f"unexpected IQ {iq!r}")

    def _phone_attr(self, jid: JID) -> dict[str, JID]:
        phone = self.phone_numbers.get(jid)
        return {"phone_number": phone} if phone is not None else {}


class _NoStore:
    async def load_device(self) -> None:
        return None

    async def save_device(self, device: DeviceIdentity) -> None:
        pass

    async def delete_device(self) -> None:
        pass


def enc_for(message: Node, device: JID) -> Node:
    """The ``<enc>`` addressed to ``device`` in a message's ``<participants>``."""
    for to in message.get_child_by_tag("participants").children:
        if to.attrs["jid"] == device:
            return to.get_child_by_tag("enc")
    raise AssertionError(f"nothing for {device}")


def recipients(message: Node) -> set[JID]:
    participants = message.get_optional_child_by_tag("participants")
    if participants is None:
        return set()
    return {to.attr_jid("jid") for to in participants.children}
