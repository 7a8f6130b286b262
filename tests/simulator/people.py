"""Every account's phone (device 0) as a real Signal peer, run by the simulator.

A :class:`Person` holds the primary device's Signal state in memory: the account's identity key
and registration id, a signed pre-key and one-time pre-keys (published in the pre-key server, so
clients can fetch ``phone@s.whatsapp.net`` device 0 like any other device), sessions and sender
keys. It decrypts what is routed to it (``pkmsg``/``msg``/``skmsg``, padding removed, sender-key
distribution messages processed, ``deviceSentMessage`` unwrapped) and keeps it for the admin API;
it encrypts what the phone sends (see :mod:`.phone_send`).

Sessions are keyed by the peer's phone-number address whatever addressing the stanza used: the
phone knows who everyone is, so a LID and a PN never split one peer's state here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
from mautrix_whatsapp.whatsapp.signal.cipher import CiphertextMessage, SessionCipher
from mautrix_whatsapp.whatsapp.signal.group_cipher import GroupCipher
from mautrix_whatsapp.whatsapp.signal.group_session import GroupSessionBuilder
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle, PreKeyRecord, SignedPreKeyRecord
from mautrix_whatsapp.whatsapp.signal.padding import pad_message, unpad_message
from mautrix_whatsapp.whatsapp.signal.sender_key import SenderKeyName
from mautrix_whatsapp.whatsapp.store import MemorySignalStore

from .accounts import Account
from .phone import PhoneWorld, get_world
from .prekeys import KeyBundle, get_prekeys
from .state import ServerState

log = logging.getLogger("simulator.people")

PRE_KEY_COUNT = 200
SIGNED_PRE_KEY_ID = 1
MAX_RECEIVED = 500


class UndecryptableError(Exception):
    """What was routed to a phone could not be decrypted or parsed (recorded, never raised out
    of routing: it is the sender's fault, or a missing session)."""


@dataclass
class ReceivedMessage:
    """One message a phone received, decrypted."""

    id: str
    sender: str
    """The sending device's JID (phone-number form)."""
    chat: str
    """The chat: the sender's user JID for a DM, the group JID, or the recipient for a DSM."""
    type: str
    category: str
    edit: str
    t: int
    message: wa_e2e_pb2.Message

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "chat": self.chat,
            "type": self.type,
            "category": self.category,
            "edit": self.edit,
            "t": self.t,
            "message": json_format.MessageToDict(self.message),
        }


@dataclass
class ReceivedReceipt:
    """A receipt that reached a phone (for its own messages)."""

    ids: list[str]
    sender: str
    type: str
    t: int

    def to_json(self) -> dict[str, Any]:
        return {"ids": self.ids, "from": self.sender, "type": self.type, "t": self.t}


@dataclass
class SentMessage:
    """What a phone sent, kept to answer retry receipts."""

    chat: str
    message: wa_e2e_pb2.Message
    type: str


@dataclass(repr=False)
class Person:
    """The primary device of one account, as a Signal peer."""

    account: Account
    store: MemorySignalStore
    signed_pre_key: SignedPreKeyRecord
    pre_keys: list[PreKeyRecord]
    received: list[ReceivedMessage] = field(default_factory=list)
    receipts: list[ReceivedReceipt] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Why stanzas routed to this phone could not be read (not secret: no key material)."""
    sent: dict[str, SentMessage] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    """Retry receipts sent so far, by the id of a message this phone could not decrypt."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Serialises Signal operations of this phone."""
    waiters: list[tuple[Callable[[ReceivedMessage], bool], asyncio.Future[ReceivedMessage]]] = (
        field(default_factory=list)
    )

    def __repr__(self) -> str:
        return f"Person({self.account.phone})"

    @classmethod
    def create(cls, account: Account) -> Person:
        store = MemorySignalStore(account.identity, account.registration_id)
        signed = SignedPreKeyRecord.generate(account.identity, SIGNED_PRE_KEY_ID)
        pre_keys = [PreKeyRecord.generate(i) for i in range(1, PRE_KEY_COUNT + 1)]
        store.signed_pre_keys[signed.key_id] = signed.serialize()
        for record in pre_keys:
            store.pre_keys[record.key_id] = record.serialize()
        return cls(account, store, signed, pre_keys)

    def key_bundle(self) -> KeyBundle:
        """The bundle the pre-key server hands out for ``phone`` device 0."""
        return KeyBundle(
            registration_id=self.account.registration_id,
            identity=self.account.identity.public,
            signed_id=self.signed_pre_key.key_id,
            signed_public=self.signed_pre_key.key_pair.public,
            signed_signature=self.signed_pre_key.signature,
            one_time={r.key_id: r.key_pair.public for r in self.pre_keys},
        )

    # --- receiving ---

    async def decrypt(self, sender: SignalAddress, enc_type: str, data: bytes) -> bytes:
        """Decrypt a 1:1 ``pkmsg``/``msg`` payload and remove the padding."""
        async with self.lock:
            padded = await SessionCipher(self.store, sender).decrypt(enc_type, data)
        return unpad_message(padded)

    async def decrypt_group(self, group: str, sender: SignalAddress, data: bytes) -> bytes:
        async with self.lock:
            padded = await GroupCipher(self.store, SenderKeyName(group, sender)).decrypt(data)
        return unpad_message(padded)

    async def process_message(
        self, sender: SignalAddress, message: wa_e2e_pb2.Message
    ) -> wa_e2e_pb2.Message:
        """Process a sender-key distribution message inside ``message``; unwrap a DSM."""
        skdm = message.senderKeyDistributionMessage
        if skdm.groupID and skdm.axolotlSenderKeyDistributionMessage:
            async with self.lock:
                await GroupSessionBuilder(self.store).process(
                    SenderKeyName(skdm.groupID, sender), skdm.axolotlSenderKeyDistributionMessage
                )
        if message.HasField("deviceSentMessage"):
            inner = wa_e2e_pb2.Message()
            inner.CopyFrom(message.deviceSentMessage.message)
            return inner
        return message

    async def fresh_pre_key(self) -> PreKeyRecord:
        """A new one-time pre-key (for the ``<keys>`` of a retry receipt)."""
        record = PreKeyRecord.generate(PRE_KEY_COUNT + len(self.retries) + len(self.pre_keys))
        self.pre_keys.append(record)
        await self.store.store_pre_key(record)
        return record

    def remember(self, received: ReceivedMessage) -> None:
        self.received.append(received)
        del self.received[:-MAX_RECEIVED]
        for waiter in list(self.waiters):
            predicate, future = waiter
            if not future.done() and predicate(received):
                future.set_result(received)
                self.waiters.remove(waiter)

    # --- sending ---

    async def encrypt(
        self, world: PhoneWorld, target: SignalAddress, plaintext: bytes
    ) -> CiphertextMessage | None:
        """Encrypt (padded) for one device, fetching its bundle when there is no session."""
        async with self.lock:
            cipher = SessionCipher(self.store, target)
            if not await cipher.has_session():
                bundle = take_bundle(world.state, target)
                if bundle is None:
                    log.info("%r: no keys for %s, not sending to it", self, target)
                    return None
                await SessionBuilder(self.store, target).process_bundle(bundle)
            return await cipher.encrypt(pad_message(plaintext))

    async def group_distribution(self, group: str) -> tuple[SenderKeyName, bytes]:
        """Our sender key's distribution message for ``group`` (created on first use)."""
        name = SenderKeyName(group, SignalAddress(self.account.phone, 0))
        async with self.lock:
            distribution = await GroupSessionBuilder(self.store).create(name)
        return name, distribution.serialize()

    async def encrypt_group(self, group: str, plaintext: bytes) -> tuple[bytes, bytes]:
        """Our ``skmsg`` for ``group`` and the distribution message to hand out with it."""
        name, distribution = await self.group_distribution(group)
        async with self.lock:
            ciphertext = await GroupCipher(self.store, name).encrypt(pad_message(plaintext))
        return ciphertext, distribution


def take_bundle(state: ServerState, target: SignalAddress) -> PreKeyBundle | None:
    """Fetch (consuming a one-time key) the bundle of a device, as a phone's own fetch would;
    for a companion without uploaded keys, the keys it registered with."""
    bundle = get_prekeys(state).bundles.get((target.user, target.device))
    if bundle is None:
        return registration_bundle(state, target)
    pre_key_id: int | None = None
    pre_key: bytes | None = None
    if bundle.one_time:
        pre_key_id = min(bundle.one_time)
        pre_key = bundle.one_time.pop(pre_key_id)
    return PreKeyBundle(
        registration_id=bundle.registration_id,
        device_id=target.device,
        identity_key=bundle.identity,
        signed_pre_key_id=bundle.signed_id,
        signed_pre_key=bundle.signed_public,
        signed_pre_key_signature=bundle.signed_signature,
        pre_key_id=pre_key_id,
        pre_key=pre_key,
    )


def registration_bundle(state: ServerState, target: SignalAddress) -> PreKeyBundle | None:
    """A companion's keys from its registration (identity and signed pre-key, no one-time key):
    what its phone knows from linking, before the companion uploaded any pre-keys."""
    account = get_world(state).accounts.find(target.user)
    device = account.devices.get(target.device) if account is not None else None
    if device is None or not device.signed_pre_key_public:
        return None
    return PreKeyBundle(
        registration_id=device.registration_id,
        device_id=target.device,
        identity_key=device.identity_public,
        signed_pre_key_id=device.signed_pre_key_id,
        signed_pre_key=device.signed_pre_key_public,
        signed_pre_key_signature=device.signed_pre_key_signature,
    )


class People:
    """The persons of all accounts, created (and their keys published) on first use."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.world = get_world(state)
        self._by_phone: dict[str, Person] = {}

    def of(self, account: Account) -> Person:
        person = self._by_phone.get(account.phone)
        if person is None or person.account is not account:
            person = self._by_phone[account.phone] = Person.create(account)
            get_prekeys(self.state).put(account.phone, 0, person.key_bundle())
        return person

    def reset(self, account: Account) -> Person:
        """The phone was reinstalled: a fresh Signal state (the caller changes the identity)."""
        self._by_phone.pop(account.phone, None)
        get_prekeys(self.state).bundles.pop((account.phone, 0), None)
        return self.of(account)


def get_people(state: ServerState) -> People:
    people = state.extra.get("people")
    if not isinstance(people, People):
        people = state.extra["people"] = People(state)
    return people


def address_of(world: PhoneWorld, jid: JID) -> SignalAddress | None:
    """The phone-number Signal address of a device JID (PN or LID), if its account exists."""
    account = account_of(world, jid)
    if account is None:
        return None
    return SignalAddress(account.phone, jid.device)


def account_of(world: PhoneWorld, jid: JID) -> Account | None:
    if jid.server == "lid":
        return world.accounts.find_by_lid(jid.user)
    if jid.server == "s.whatsapp.net":
        return world.accounts.find(jid.user)
    return None


def parse_message(plaintext: bytes) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    try:
        message.ParseFromString(plaintext)
    except DecodeError as e:
        raise UndecryptableError(f"not a waE2E.Message: {e}") from e
    return message


def install(state: ServerState) -> None:
    """Phones publish their keys before anyone can ask for them: a key fetch first makes sure
    the person of every account asked for exists (then the pre-key server answers)."""
    from .connection import Connection
    from .prekeys import handle_fetch

    people = get_people(state)

    async def fetch(conn: Connection, node: Node) -> Node:
        key = node.get_optional_child_by_tag("key")
        for user in key.children_by_tag("user") if key is not None else []:
            jid = user.attrs.get("jid")
            if isinstance(jid, JID):
                account = account_of(people.world, jid)
                if account is not None:
                    people.of(account)
        return await handle_fetch(conn, node)

    state.iq_handlers.register("encrypt", fetch, type="get", child="key", replace=True)
