"""Sending messages: DMs, groups and peer messages (whatsmeow ``send.go``, Baileys
``messages-send.ts``).

``await client.send_message(to, message)`` encrypts ``message`` (a ``waE2E.Message``) and
returns the server's :class:`SendResponse` once its ``<ack class="message" id t>`` arrives:

- **DM** (``to`` a user): one ``<to jid><enc/></to>`` per device of the recipient *and* of our
  own account (not this device); our devices get ``deviceSentMessage{destinationJID, message}``.
  Devices without a Signal session get one from a fetched pre-key bundle, and if any payload is a
  ``pkmsg`` our signed ADV identity goes along in ``<device-identity>``.
- **Group**: the message is encrypted once with our sender key (``<enc type="skmsg">``); devices
  that have not got our sender key yet get it in ``<participants>`` (a pairwise-encrypted
  ``senderKeyDistributionMessage``). Who has it is stored; when a device that had it is gone
  (member left/removed, device unlinked) our sender key is replaced first, so it cannot read on.
- **Peer** (``peer=True``, to our own phone): ``category="peer"``, ``<meta appdata="default"/>``.

An error ack raises :class:`ServerAckError`, no ack in time :class:`SendTimeoutError`. Sessions are
used under ``client.locks.session``, our sender keys under ``client.locks.group``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .binary import BinaryError
from .binary.jid import (
    DEFAULT_USER_SERVER,
    GROUP_SERVER,
    HIDDEN_USER_SERVER,
    HOSTED_LID_SERVER,
    HOSTED_SERVER,
    JID,
)
from .binary.node import Node
from .bundles import BundleError, fetch_bundles
from .connection import ClientError, NotConnectedError, NotPairedError
from .message_builders import Message, edit_attribute, media_type, message_type, poll_type
from .proto import wa_e2e_pb2
from .request import IQDisconnectedError
from .signal.address import SignalAddress
from .signal.builder import SessionBuilder
from .signal.cipher import SessionCipher
from .signal.errors import SignalError, UntrustedIdentityError
from .signal.group_cipher import GroupCipher, save_record
from .signal.group_session import GroupSessionBuilder, create_distribution
from .signal.keys import PreKeyBundle
from .signal.padding import pad_message
from .signal.sender_key import SenderKeyName, SenderKeyRecord

if TYPE_CHECKING:
    from .client import Client

RECENT_MESSAGES = 256
"""Sent messages kept for answering retry receipts (whatsmeow's ``recentMessagesSize``)."""

DEFAULT_SEND_TIMEOUT = 75.0


class SendError(ClientError):
    """A message could not be sent."""


class ServerAckError(SendError):
    """The server's ack carried an ``error`` code."""

    def __init__(self, message_id: str, code: int) -> None:
        super().__init__(f"server refused message {message_id}: error {code}")
        self.message_id = message_id
        self.code = code


class SendTimeoutError(SendError, TimeoutError):
    """No ack for the message in time (it may still have been delivered)."""


class NotSentError(SendError):
    """The connection was down before the message left: the server has nothing of it."""


class AckLostError(SendError):
    """The connection dropped after the message left, before its ack: it may have arrived."""


@dataclass(frozen=True)
class SendResponse:
    id: str
    timestamp: datetime
    """The server's time for the message (the ack's ``t``)."""
    sender: JID
    """Which of our JIDs sent it (our LID in LID-addressed groups)."""
    server_id: int | None = None


@dataclass(frozen=True)
class GroupMembers:
    """Whom a group message goes to, and whether the group is addressed by LID."""

    participants: tuple[JID, ...]
    addressing_mode: str = "pn"
    lid_pairs: tuple[tuple[JID, JID], ...] = ()
    """(LID, phone number) of members, where the group info names both."""


GetGroupMembers = Callable[[JID], Awaitable[GroupMembers]]


def generate_message_id(own: JID | None = None) -> str:
    """A WhatsApp Web style id: ``3EB0`` + 18 upper-case hex digits of a hash (whatsmeow's)."""
    data = struct.pack(">Q", int(time.time()))
    if own is not None:
        data += f"{own.user}@c.us".encode()
    data += os.urandom(16)
    return "3EB0" + hashlib.sha256(data).digest()[:9].hex().upper()


def device_key(jid: JID) -> str:
    """A device JID as text, always ``user:device@server`` (stored sender-key recipients)."""
    return f"{jid.user}:{jid.device}@{jid.server}"


def participant_hash(devices: Sequence[JID]) -> str:
    """whatsmeow's ``participantListHashV2``: the server echoes it back as ``phash``."""
    joined = "".join(sorted(f"{d.user}.{d.raw_agent}:{d.device}@{d.server}" for d in devices))
    digest = hashlib.sha256(joined.encode()).digest()[:6]
    return "2:" + base64.b64encode(digest).decode().rstrip("=")


def address_of(jid: JID) -> SignalAddress:
    return SignalAddress(*jid.signal_address)


async def migrate_session(client: Client, pn_address: SignalAddress, lid: SignalAddress) -> None:
    """Move a session kept under a phone-number address to the LID's, unless the LID has one
    (whatsmeow's ``MigratePNToLID``). The caller holds ``lid``'s session lock."""
    store = client.signal_store
    if await store.contains_session(lid):
        return
    record = await store.load_session(pn_address)
    if record is None:
        return
    async with client.locks.session(pn_address):
        await store.store_session(lid, record)
        await store.delete_session(pn_address)
    identity = await store.get_identity(pn_address)
    if identity is not None and await store.get_identity(lid) is None:
        await store.save_identity(lid, identity)


def parse_group_members(response: Node) -> GroupMembers:
    """The members in a ``w:g2`` group info answer (``<group><participant jid>``)."""
    group = response.get_child_by_tag("group")
    members: list[JID] = []
    pairs: list[tuple[JID, JID]] = []
    for participant in group.children_by_tag("participant"):
        jid = participant.attr_jid("jid").to_non_ad()
        members.append(jid)
        other = participant.attr_jid_opt("lid") or participant.attr_jid_opt("phone_number")
        if other is not None:
            pair = (other, jid) if jid.server == DEFAULT_USER_SERVER else (jid, other)
            pairs.append((pair[0].to_non_ad(), pair[1].to_non_ad()))
    mode = str(group.attrs.get("addressing_mode") or "pn")
    return GroupMembers(tuple(members), mode, tuple(pairs))


class Sender:
    """The sending half of one client (``client.sender``)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.recent: OrderedDict[tuple[JID, str], Message] = OrderedDict()
        self.get_group_members: GetGroupMembers = self.query_group_members
        """Who is in a group; the groups module may install a cached version."""
        self._send_lock = asyncio.Lock()

    # --- public ---

    async def send_message(
        self,
        to: JID,
        message: Message,
        *,
        message_id: str | None = None,
        edit: str | None = None,
        peer: bool = False,
        timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> SendResponse:
        own = self.client.device.jid
        if own is None:
            raise NotPairedError("not logged in")
        if to.device and not peer:
            raise SendError(f"send to a user or group, not to a device: {to}")
        message_id = message_id or generate_message_id(own)
        sender = self._own_identity(to) if to.server == HIDDEN_USER_SERVER else own
        if not peer:
            self._remember(to.to_non_ad(), message_id, message)
        waiter = self.client._requests.expect(message_id)
        after_ack: Callable[[], Awaitable[None]] | None = None
        phash: str | None = None
        try:
            # One send at a time: sessions are prepared for the whole fan-out (as whatsmeow).
            async with self._send_lock:
                if to.server == GROUP_SERVER:
                    node, sender, after_ack = await self._group_node(to, message_id, message, edit)
                    phash = str(node.attrs["phash"])
                elif peer:
                    node = await self._peer_node(to, message_id, message)
                elif to.server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
                    node, phash = await self._dm_node(to, message_id, message, edit)
                else:
                    raise SendError(f"cannot send to {to}")
                secret = message.messageContextInfo.messageSecret
                if secret:
                    # Votes on a poll of ours are encrypted with it (see msgsecret).
                    await self.client.secrets.put(to, sender, message_id, secret)
                await self.client.send_node(node)
        except (NotConnectedError, IQDisconnectedError) as e:
            self.client._requests.forget(message_id)
            raise NotSentError(f"not connected: {message_id} was not sent") from e
        except BaseException:
            self.client._requests.forget(message_id)
            raise
        ack = await self._wait_ack(message_id, waiter, timeout)
        error = ack.attrs.get("error")
        if error is not None:
            raise ServerAckError(message_id, _int(error))
        if after_ack is not None:
            await after_ack()
        expected = ack.attrs.get("phash")
        if expected is not None and phash is not None and expected != phash:
            # Our device lists are stale: the next send asks again.
            self.client.log.warning("Participant hash mismatch sending to %s", to)
            if to.server != GROUP_SERVER:
                self.client.devices.invalidate(to)
        timestamp = ack.attr_unix_time_opt("t") or datetime.now(UTC)
        server_id = ack.attrs.get("server_id")
        return SendResponse(
            message_id, timestamp, sender, _int(server_id) if server_id is not None else None
        )

    def recent_message(self, chat: JID, message_id: str) -> Message | None:
        return self.recent.get((chat.to_non_ad(), message_id))

    async def query_group_members(self, group: JID) -> GroupMembers:
        """A minimal ``w:g2`` group info query (``<query request="interactive"/>``)."""
        response = await self.client.send_iq(
            "w:g2", "get", [Node("query", {"request": "interactive"})], to=group
        )
        try:
            members = parse_group_members(response)
        except BinaryError as e:
            raise SendError(f"malformed group info for {group}: {e}") from e
        await self.client.lids.put_many(members.lid_pairs)
        return members

    # --- stanzas ---

    def _remember(self, chat: JID, message_id: str, message: Message) -> None:
        copy = Message()
        copy.CopyFrom(message)  # the caller may reuse its object
        self.recent[(chat, message_id)] = copy
        while len(self.recent) > RECENT_MESSAGES:
            self.recent.popitem(last=False)

    def _message_attrs(
        self, to: JID, message_id: str, message: Message, edit: str | None
    ) -> tuple[dict[str, str | JID], dict[str, str]]:
        attrs: dict[str, str | JID] = {"id": message_id, "type": message_type(message), "to": to}
        enc_attrs: dict[str, str] = {}
        edit = edit if edit is not None else edit_attribute(message)
        if edit:
            attrs["edit"] = edit
            enc_attrs["decrypt-fail"] = "hide"
        if attrs["type"] == "reaction" or message.HasField("pollUpdateMessage"):
            enc_attrs["decrypt-fail"] = "hide"
        return attrs, enc_attrs

    def _extra_content(self, message: Message, include_identity: bool) -> list[Node]:
        content: list[Node] = []
        if include_identity:
            content.append(self.device_identity_node())
        kind = poll_type(message)
        if kind is not None:
            content.append(Node("meta", {"polltype": kind}))
        return content

    def device_identity_node(self) -> Node:
        account = self.client.device.account
        if account is None:
            raise NotPairedError("no signed device identity")
        return Node("device-identity", {}, account)

    def _own_identity(self, to: JID) -> JID:
        """Our device JID as the chat knows us: the LID one for LID chats."""
        own = self.client.device.lid if to.server == HIDDEN_USER_SERVER else self.client.device.jid
        if own is None:
            raise SendError(f"our own JID for {to} is unknown")
        return own

    async def _dm_node(
        self, to: JID, message_id: str, message: Message, edit: str | None
    ) -> tuple[Node, str]:
        own = self._own_identity(to)
        attrs, enc_attrs = self._message_attrs(to, message_id, message, edit)
        mediatype = media_type(message)
        if mediatype:
            enc_attrs["mediatype"] = mediatype
        plaintext = message.SerializeToString()
        dsm = Message(
            deviceSentMessage=wa_e2e_pb2.DeviceSentMessage(destinationJID=str(to), message=message)
        )
        if message.HasField("messageContextInfo"):
            dsm.messageContextInfo.CopyFrom(message.messageContextInfo)
        devices = await self.client.devices.get_devices([to, own.to_non_ad()])
        nodes, include_identity = await self.encrypt_for_devices(
            devices, plaintext, dsm.SerializeToString(), enc_attrs
        )
        content = [
            Node("participants", {}, nodes),
            *self._extra_content(message, include_identity),
        ]
        return Node("message", attrs, content), participant_hash(devices)

    async def _peer_node(self, to: JID, message_id: str, message: Message) -> Node:
        attrs: dict[str, str | JID] = {
            "id": message_id,
            "type": "text",
            "category": "peer",
            "to": to.to_non_ad(),
        }
        protocol = message.protocolMessage
        if protocol.type == wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST:
            attrs["push_priority"] = "high"
        else:
            attrs["push_priority"] = "high_force"
        # To our phone (device 0 of our account) unless a device is named.
        bundle: PreKeyBundle | None = None
        if not await self.client.signal_store.contains_session(await self.session_address(to)):
            fetched = (await fetch_bundles(self.client.send_iq, [to]))[to]
            if isinstance(fetched, BundleError):
                raise SendError(f"no session with our phone and no pre-keys: {fetched}")
            bundle = fetched
        enc, is_pre_key = await self.encrypt_for_device(to, message.SerializeToString(), bundle)
        content = [Node("meta", {"appdata": "default"}), enc]
        if is_pre_key:
            content.append(self.device_identity_node())
        return Node("message", attrs, content)

    async def _group_node(
        self, to: JID, message_id: str, message: Message, edit: str | None
    ) -> tuple[Node, JID, Callable[[], Awaitable[None]]]:
        members = await self.get_group_members(to)
        own = self.client.device.jid
        assert own is not None
        sender = own
        attrs, enc_attrs = self._message_attrs(to, message_id, message, edit)
        if members.addressing_mode == "lid":
            if self.client.device.lid is None:
                raise SendError("LID-addressed group, but our LID is unknown")
            sender = self.client.device.lid
            attrs["addressing_mode"] = "lid"
        devices = [
            d
            for d in await self.client.devices.get_devices(members.participants)
            if d.server not in (HOSTED_SERVER, HOSTED_LID_SERVER)
        ]
        group_id = str(to)
        store = self.client.messaging_store
        name = SenderKeyName(group_id, address_of(sender))
        async with self.client.locks.group(group_id):
            had = await store.get_sender_key_devices(group_id)
            current = {device_key(d) for d in devices}
            if had - current:
                self.client.log.info("Rotating our sender key of %s: a device left", to)
                await self._rotate_sender_key(name)
                await store.clear_sender_key_devices(group_id)
                had = set()
            distribution = await GroupSessionBuilder(self.client.signal_store).create(name)
            ciphertext = await GroupCipher(self.client.signal_store, name).encrypt(
                pad_message(message.SerializeToString())
            )
        missing = [d for d in devices if device_key(d) not in had and not self._is_us(d)]
        skdm = Message(
            senderKeyDistributionMessage=wa_e2e_pb2.SenderKeyDistributionMessage(
                groupID=group_id, axolotlSenderKeyDistributionMessage=distribution.serialize()
            )
        )
        nodes, include_identity = await self.encrypt_for_devices(
            missing, skdm.SerializeToString(), None, enc_attrs
        )
        attrs["phash"] = participant_hash(devices)
        skmsg_attrs = {"v": "2", "type": "skmsg"}
        mediatype = media_type(message)
        if mediatype:
            skmsg_attrs["mediatype"] = mediatype
        content: list[Node] = [Node("participants", {}, nodes)] if nodes else []
        content.append(Node("enc", skmsg_attrs, ciphertext))
        content.extend(self._extra_content(message, include_identity))
        delivered = [str(node.attrs["jid"]) for node in nodes]
        by_key = {str(d): device_key(d) for d in missing}

        async def mark_delivered() -> None:
            await store.add_sender_key_devices(group_id, [by_key[jid] for jid in delivered])

        return Node("message", attrs, content), sender, mark_delivered

    async def _rotate_sender_key(self, name: SenderKeyName) -> None:
        record = SenderKeyRecord()
        create_distribution(record)
        await save_record(self.client.signal_store, name, record)

    # --- encryption ---

    def _is_us(self, device: JID) -> bool:
        own, own_lid = self.client.device.jid, self.client.device.lid
        return any(
            ours is not None and device.user == ours.user and device.device == ours.device
            for ours in (own, own_lid)
        )

    def _is_own_account(self, device: JID) -> bool:
        own, own_lid = self.client.device.jid, self.client.device.lid
        return any(ours is not None and device.user == ours.user for ours in (own, own_lid))

    async def encrypt_for_devices(
        self,
        devices: Sequence[JID],
        plaintext: bytes,
        dsm_plaintext: bytes | None,
        enc_attrs: dict[str, str],
    ) -> tuple[list[Node], bool]:
        """``<to jid><enc/></to>`` for each device (not us); whether any is a ``pkmsg``.

        Devices without a session get one from fetched bundles first; a device that cannot
        be encrypted for is left out (logged), as whatsmeow does.
        """
        targets = [d for d in devices if not self._is_us(d)]
        store = self.client.signal_store
        without = [
            d for d in targets if not await store.contains_session(await self.session_address(d))
        ]
        bundles: dict[JID, PreKeyBundle | BundleError] = {}
        if without:
            try:
                bundles = await fetch_bundles(self.client.send_iq, without)
            except (BundleError, BinaryError) as e:
                self.client.log.warning("Failed to fetch pre-keys for %s: %s", without, e)
        nodes: list[Node] = []
        include_identity = False
        for device in targets:
            body = plaintext
            if dsm_plaintext is not None and self._is_own_account(device):
                body = dsm_plaintext
            bundle = bundles.get(device)
            if isinstance(bundle, BundleError):
                self.client.log.warning("No pre-key bundle for %s: %s", device, bundle)
                continue
            try:
                enc, is_pre_key = await self.encrypt_for_device(device, body, bundle, enc_attrs)
            except SignalError as e:
                self.client.log.warning("Failed to encrypt for %s: %s", device, e)
                continue
            nodes.append(Node("to", {"jid": device}, [enc]))
            include_identity = include_identity or is_pre_key
        return nodes, include_identity

    async def session_address(self, device: JID) -> SignalAddress:
        """The Signal address that encrypts for ``device``: its LID's once the LID is known
        (whatsmeow's ``encryptionIdentity``), a session under the phone number moved there
        first. The receiving side decrypts under the LID too, so one session serves both ways
        (else each send after a reply would start a new session with a ``pkmsg``)."""
        if not device.is_pn:
            return address_of(device)
        lid = await self.client.lids.get_lid(device.to_non_ad())
        if lid is None:
            return address_of(device)
        lid_address = address_of(JID(lid.user, lid.server, device.device))
        async with self.client.locks.session(lid_address):
            await migrate_session(self.client, address_of(device), lid_address)
        return lid_address

    async def encrypt_for_device(
        self,
        device: JID,
        plaintext: bytes,
        bundle: PreKeyBundle | None,
        enc_attrs: dict[str, str] | None = None,
    ) -> tuple[Node, bool]:
        """The ``<enc>`` of ``plaintext`` (padded here) for one device, building its session
        from ``bundle`` if given; whether it is a ``pkmsg``."""
        address = await self.session_address(device)
        store = self.client.signal_store
        async with self.client.locks.session(address):
            if bundle is not None:
                builder = SessionBuilder(store, address)
                try:
                    await builder.process_bundle(bundle)
                except UntrustedIdentityError:
                    # The device re-installed: trust its new identity (whatsmeow's AutoTrust).
                    self.client.log.warning("Identity of %s changed; trusting the new one", device)
                    await store.save_identity(address, bundle.identity_key)
                    await builder.process_bundle(bundle)
            encrypted = await SessionCipher(store, address).encrypt(pad_message(plaintext))
        attrs = {"v": "2", "type": encrypted.type, **(enc_attrs or {})}
        return Node("enc", attrs, encrypted.serialized), encrypted.type == "pkmsg"

    async def _wait_ack(
        self, message_id: str, waiter: asyncio.Future[Node], timeout: float
    ) -> Node:
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            raise SendTimeoutError(f"no ack for message {message_id} in {timeout} s") from None
        except IQDisconnectedError as e:
            raise AckLostError(f"connection lost before the ack of {message_id}") from e
        finally:
            self.client._requests.forget(message_id)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1
