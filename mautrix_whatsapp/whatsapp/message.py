"""Receiving messages: the ``<message>`` handler (whatsmeow ``message.go``, Baileys
``messages-recv.ts`` and ``decode-wa-message.ts``).

For each stanza, in arrival order (the offline queue is delivered before live traffic and the
client hands stanzas over one at a time, so nothing here runs concurrently or reorders):

1. read the attributes (:mod:`.message_info`); unreadable ones get ``<ack error=487>``;
2. report any LID ↔ phone-number pair the attributes reveal (``client.lids.learn``);
3. decrypt every ``<enc>``: ``pkmsg``/``msg`` with the sender device's session, ``skmsg`` with
   its sender key in the group, under the shared :class:`~.locks.SignalLocks`; strip the v2
   padding and parse the ``waE2E.Message``;
4. process what is meant for the protocol: a ``senderKeyDistributionMessage`` (store the
   sender's key for the group), a ``messageSecret`` (keep it for votes), a
   ``deviceSentMessage`` (sent by our own phone: its ``destinationJID`` is the chat);
5. emit one :class:`~.events.Message` per message id (redeliveries and resends are dropped by
   a bounded memory of recent ids) and answer with the delivery receipt (:mod:`.receipt_send`)
   only if every handler took it (:meth:`~.client.Client.dispatch_message`): otherwise WhatsApp
   redelivers it. Each plaintext is kept in the :mod:`.event_buffer`, saved with the Signal
   state, until then, so a redelivered ciphertext (that no longer decrypts) is not lost.

A message that cannot be decrypted gets a retry receipt (:mod:`.retry_request`) and an
:class:`~.events.UndecryptableMessage`; nothing a peer sends can stop the connection. A new
identity key in a ``pkmsg`` (the contact reinstalled) is trusted and replaces the session, as
whatsmeow does by default (:class:`~.events.IdentityChanged`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError

from .binary import BinaryError
from .binary.jid import JID
from .binary.node import Node
from .connection import NotConnectedError
from .event_buffer import BUFFER_MAX_AGE, ciphertext_hash
from .events import IdentityChanged, Message, UndecryptableMessage
from .message_info import MessageInfo, MessageInfoError, parse_message_info
from .msgsecret import MessageSecretError
from .proto import wa_e2e_pb2
from .receipt import NACK_PARSING_ERROR
from .receipt_send import build_message_receipt
from .retry_request import RetryRequester
from .send import migrate_session
from .signal.address import SignalAddress
from .signal.cipher import SessionCipher
from .signal.errors import (
    DuplicateMessageError,
    NoSessionError,
    SignalError,
    UntrustedIdentityError,
)
from .signal.group_cipher import GroupCipher
from .signal.group_session import GroupSessionBuilder
from .signal.padding import unpad_message
from .signal.sender_key import SenderKeyName
from .socket.errors import SocketError
from .store import SenderKeyStore

if TYPE_CHECKING:
    from .client import Client

NACK_UNRECOGNIZED_STANZA = 488
NACK_INVALID_PROTOBUF = 491
NACK_UNHANDLED_ERROR = 500
BUFFER_CLEAN_EVERY = 3600.0
"""Seconds between deletions of old hashes from the event buffer."""
HANDLE_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0)
"""Pauses before handling a failed ``<message>`` again (about 7.5 s in all)."""
RECENT_MESSAGES = 2048
"""Message keys remembered to drop duplicates (whatsmeow keeps 256 sent; we keep more)."""


ProtocolHandler = Callable[[MessageInfo, wa_e2e_pb2.ProtocolMessage], Awaitable[None]]
"""Called with a ``protocolMessage`` from one of our own devices (see ``add_protocol_handler``)."""


class AlreadyHandledError(Exception):
    """The event buffer knows this ciphertext as decrypted and handled."""


class DecryptError(Exception):
    """One ``<enc>`` could not be turned into a message (wraps the cause)."""


class MessageHandler:
    """Decrypts and reports one client's incoming messages (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.retries = RetryRequester(client)
        self._recent: OrderedDict[tuple[JID, JID, str], None] = OrderedDict()
        self._protocol_handlers: dict[int, list[ProtocolHandler]] = {}
        self._identity_changes: list[IdentityChanged] = []
        self._buffer_cleaned = -math.inf

    def add_protocol_handler(self, kind: int, handler: ProtocolHandler) -> None:
        """Run ``handler`` for each ``protocolMessage`` of type ``kind`` that our own account
        sent (history sync notifications, app-state key shares, peer data answers).

        Only our own devices may steer our state, so a peer's protocol message of these kinds
        never reaches a handler (whatsmeow checks ``IsFromMe`` the same way). Handlers run
        before the :class:`~.events.Message` event, in arrival order; one that raises is
        logged and the message is still acknowledged.
        """
        self._protocol_handlers.setdefault(kind, []).append(handler)

    def install(self) -> None:
        self.client.add_node_handler("message", self.handle)

    # --- the stanza ---------------------------------------------------------------------------

    async def handle(self, node: Node) -> None:
        """Handle one ``<message>``; whatever goes wrong, it is answered and the next one runs.

        A failure is retried a few times first (a store outage of a second or two, e.g. a
        database restart, must not cost the message: decryption runs in a store transaction
        that rolled back, and the event buffer and the handlers take a repeat as one)."""
        for pause in (*HANDLE_RETRY_PAUSES, None):
            try:
                await self._handle(node)
                return
            except Exception:
                if pause is None:
                    break
                self.client.log.warning(
                    "Failed to handle message %s, retrying in %.1fs",
                    node.attrs.get("id"),
                    pause,
                    exc_info=True,
                )
                await asyncio.sleep(pause)
        # A bug or a lasting store outage: whatsmeow recovers and acks too, so the server does
        # not redeliver a stanza that would fail again forever.
        self.client.log.exception("Failed to handle message %s", node.attrs.get("id"))
        await self.client._ack(node, NACK_UNHANDLED_ERROR)

    async def _handle(self, node: Node) -> None:
        client = self.client
        try:
            info = parse_message_info(node, client.device.jid, client.device.lid)
        except MessageInfoError as e:
            client.log.warning("Failed to parse message %s: %s", node.attrs.get("id"), e)
            await client._ack(node, NACK_PARSING_ERROR)
            return
        await self._note_lid_mappings(info)
        info = await self._with_known_lid(info)
        encs = node.children_by_tag("enc")
        unavailable = node.get_optional_child_by_tag("unavailable")
        plaintext_node = node.get_optional_child_by_tag("plaintext")
        if not encs and plaintext_node is not None and info.chat.is_newsletter:
            await self._handle_plaintext(node, info, plaintext_node)
            return
        if not encs:
            if unavailable is not None:
                kind = unavailable.attrs.get("type")
                await client.dispatch(
                    UndecryptableMessage(
                        info,
                        is_unavailable=True,
                        unavailable_type=kind if isinstance(kind, str) else "",
                    )
                )
                await client._ack(node)
            else:
                await client._ack(node, NACK_UNRECOGNIZED_STANZA)
            return
        await self._clean_event_buffer()
        protobuf_failed = False
        has_direct = False
        taken_over = True
        buffered: list[bytes] = []
        for enc in encs:
            enc_type = enc.attrs.get("type")
            if enc_type in ("pkmsg", "msg"):
                has_direct = True
            try:
                plaintext, hash_ = await self._buffered_decrypt(info, enc)
            except AlreadyHandledError:
                client.log.debug("Already handled %s (buffered hash)", info.describe())
                continue
            except DuplicateMessageError as e:
                client.log.debug("Ignoring already decrypted %s: %s", info.describe(), e)
                continue
            except DecryptError as e:
                client.log.warning("Failed to decrypt %s: %s", info.describe(), e)
                no_sender_key = enc_type == "skmsg" and isinstance(e.__cause__, NoSessionError)
                await self._undecryptable(
                    node, info, enc, str(e), no_sender_key and not has_direct
                )
                return
            if plaintext is None:
                continue
            if hash_:
                buffered.append(hash_)
            message = wa_e2e_pb2.Message()
            try:
                message.ParseFromString(plaintext)
            except DecodeError as e:
                client.log.warning("Invalid message protobuf in %s: %s", info.describe(), e)
                protobuf_failed = True
                continue
            protobuf_failed = False
            info, accepted = await self._handle_decrypted(info, message, enc)
            taken_over = taken_over and accepted
        if not taken_over:
            # No receipt: WhatsApp redelivers, and the buffer hands the plaintext over again.
            client.log.warning("A handler refused %s; not acknowledging it", info.describe())
            return
        for hash_ in buffered:
            await client.event_buffer.clear_plaintext(hash_)
        if protobuf_failed:
            await client._ack(node, NACK_INVALID_PROTOBUF)
        else:
            await self._send(build_message_receipt(info, node, active=self.active_receipts()))

    async def _handle_plaintext(self, node: Node, info: MessageInfo, plaintext: Node) -> None:
        """Channels (newsletters) send their messages unencrypted in ``<plaintext>``."""
        message = wa_e2e_pb2.Message()
        try:
            message.ParseFromString(plaintext.content_bytes())
        except (DecodeError, BinaryError) as e:
            self.client.log.warning("Invalid newsletter message %s: %s", info.describe(), e)
            await self.client._ack(node, NACK_INVALID_PROTOBUF)
            return
        _, accepted = await self._handle_decrypted(info, message, plaintext)
        if accepted:
            await self.client._ack(node)

    def active_receipts(self) -> bool:
        """Whether delivery receipts may say we are active (we announced ``available``).

        Until presence is its own module this follows what the login sends.
        """
        client = self.client
        return client.send_presence and bool(client.device.push_name)

    async def _undecryptable(
        self, node: Node, info: MessageInfo, enc: Node, error: str, unavailable: bool
    ) -> None:
        try:
            await self.retries.send(node, info, force_keys=unavailable)
        except (NotConnectedError, SocketError) as e:
            self.client.log.debug("Could not send a retry receipt for %s: %s", info.id, e)
        except Exception:
            # A store failure must not keep the message from being acked.
            self.client.log.exception("Failed to send a retry receipt for %s", info.id)
        await self.client._ack(node)
        fail_mode = enc.attrs.get("decrypt-fail")
        await self.client.dispatch(
            UndecryptableMessage(
                info,
                is_unavailable=unavailable,
                decrypt_fail_mode=fail_mode if isinstance(fail_mode, str) else "",
                error=error,
            )
        )

    async def _send(self, node: Node) -> None:
        try:
            await self.client.send_node(node)
        except (NotConnectedError, SocketError) as e:
            # The server redelivers what we did not answer.
            self.client.log.debug("Could not send <%s>: %s", node.tag, e)

    async def _note_lid_mappings(self, info: MessageInfo) -> None:
        for alt, jid in ((info.sender_alt, info.sender), (info.recipient_alt, info.chat)):
            if alt is None:
                continue
            if alt.is_lid and jid.is_pn:
                await self.client.lids.learn(alt.to_non_ad(), jid.to_non_ad())
            elif alt.is_pn and jid.is_lid:
                await self.client.lids.learn(jid.to_non_ad(), alt.to_non_ad())

    # --- decryption ---------------------------------------------------------------------------

    async def _with_known_lid(self, info: MessageInfo) -> MessageInfo:
        """``info`` with the sender's LID as ``sender_alt`` if the stanza did not name it."""
        if info.sender_alt is not None or not info.sender.is_pn:
            return info
        lid = await self.client.lids.get_lid(info.sender)
        if lid is None:
            return info
        return dataclasses.replace(info, sender_alt=JID(lid.user, lid.server, info.sender.device))

    @staticmethod
    def encryption_jid(info: MessageInfo) -> JID:
        """The device whose Signal state decrypts ``info``'s message: its LID when known, as
        whatsmeow does (a session kept under the phone number is moved over first)."""
        if info.sender.is_pn and info.sender_alt is not None and info.sender_alt.is_lid:
            return info.sender_alt
        return info.sender

    async def _buffered_decrypt(self, info: MessageInfo, enc: Node) -> tuple[bytes | None, bytes]:
        """``_decrypt`` through the event buffer: a ciphertext decrypted before (and not yet
        handled) gives its saved plaintext; a handled one raises AlreadyHandledError. Returns
        the plaintext and the ciphertext's hash."""
        try:
            hash_ = ciphertext_hash(enc.content_bytes())
        except BinaryError:
            hash_ = b""
        found = await self.client.event_buffer.get(hash_) if hash_ else None
        if found is not None:
            if found.plaintext is None:
                raise AlreadyHandledError
            return self._unpadded(enc, found.plaintext), hash_
        try:
            return await self._decrypt(info, enc, hash_), hash_
        finally:
            changes, self._identity_changes = self._identity_changes, []
            for change in changes:
                await self.client.dispatch(change)

    @contextlib.asynccontextmanager
    async def _kept(
        self, info: MessageInfo, hash_: bytes
    ) -> AsyncIterator[Callable[[bytes], Awaitable[None]]]:
        """The decryption's transaction, yielding what saves its plaintext in it.

        Entered under the Signal lock, never the other way round: a sender holds that lock
        while it reads the store, and a single-connection pool (SQLite) would deadlock.
        """

        async def keep(padded: bytes) -> None:
            if hash_:
                await self.client.event_buffer.put(hash_, padded, info.timestamp)

        async with self.client.event_buffer.decryption_txn():
            yield keep

    def _unpadded(self, enc: Node, padded: bytes) -> bytes:
        """The message bytes of a decrypted ``enc`` (v3 carries no padding)."""
        try:
            return padded if enc.attr_int_opt("v") == 3 else unpad_message(padded)
        except (SignalError, BinaryError, ValueError) as e:
            raise DecryptError(f"{enc.attrs.get('type')}: {type(e).__name__}: {e}") from e

    async def _clean_event_buffer(self) -> None:
        """Forget old handled hashes, at most once an hour."""
        now = time.monotonic()
        if now - self._buffer_cleaned < BUFFER_CLEAN_EVERY:
            return
        self._buffer_cleaned = now
        await self.client.event_buffer.delete_older_than(datetime.now(UTC) - BUFFER_MAX_AGE)

    async def _decrypt(self, info: MessageInfo, enc: Node, hash_: bytes) -> bytes | None:
        """The unpadded plaintext of ``enc``, None for a type we skip; raises DecryptError
        (or DuplicateMessageError for a replay, which needs no retry). The new Signal state
        and the plaintext (under ``hash_``, if any) are saved in one transaction."""
        enc_type = enc.attrs.get("type")
        try:
            ciphertext = enc.content_bytes()
            sender = self.encryption_jid(info)
            if enc_type in ("pkmsg", "msg"):
                padded = await self._decrypt_direct(info, sender, str(enc_type), ciphertext, hash_)
            elif enc_type == "skmsg" and info.is_group:
                padded = await self._decrypt_group(info, sender, ciphertext, hash_)
            else:
                self.client.log.warning("Unhandled <enc type=%s> in %s", enc_type, info.describe())
                return None
        except DuplicateMessageError:
            raise
        except (SignalError, BinaryError, ValueError) as e:
            raise DecryptError(f"{enc_type}: {type(e).__name__}: {e}") from e
        return self._unpadded(enc, padded)

    def _address(self, jid: JID) -> SignalAddress:
        return SignalAddress(*jid.signal_address)

    async def _decrypt_direct(
        self, info: MessageInfo, sender: JID, enc_type: str, ciphertext: bytes, hash_: bytes
    ) -> bytes:
        client = self.client
        store = client.signal_store
        address = self._address(sender)
        async with client.locks.session(address):
            await self._migrate_session(info, address)
            cipher = SessionCipher(store, address)
            async with self._kept(info, hash_) as keep:
                try:
                    padded = await cipher.decrypt(enc_type, ciphertext)
                    await keep(padded)
                    return padded
                except UntrustedIdentityError as e:
                    if enc_type != "pkmsg":
                        raise
                    # The contact reinstalled: trust the new key and start over (whatsmeow's
                    # AutoTrustIdentity), replacing the old session.
                    client.log.warning("New identity key for %s; trusting it", address)
                    await store.save_identity(address, e.identity_key)
                    await store.delete_session(address)
                    plaintext = await cipher.decrypt(enc_type, ciphertext)
                    await keep(plaintext)
        # Reported after the decryption's transaction (handlers must not run inside it).
        self._identity_changes.append(IdentityChanged(sender.to_non_ad(), datetime.now(UTC)))
        return plaintext

    async def _migrate_session(self, info: MessageInfo, lid_address: SignalAddress) -> None:
        """Move a session kept under the sender's phone number to its LID (first use only)."""
        if info.sender_alt is None or not info.sender.is_pn or not info.sender_alt.is_lid:
            return
        await migrate_session(self.client, self._address(info.sender), lid_address)

    def _sender_key_store(self) -> SenderKeyStore:
        store = self.client.signal_store
        if not isinstance(store, SenderKeyStore):
            raise NoSessionError("the signal store keeps no sender keys")
        return store

    async def _decrypt_group(
        self, info: MessageInfo, sender: JID, ciphertext: bytes, hash_: bytes
    ) -> bytes:
        name = SenderKeyName(str(info.chat), self._address(sender))
        async with self.client.locks.group(name.group_id), self._kept(info, hash_) as keep:
            padded = await GroupCipher(self._sender_key_store(), name).decrypt(ciphertext)
            await keep(padded)
            return padded

    # --- the decrypted message ----------------------------------------------------------------

    async def _handle_decrypted(
        self, info: MessageInfo, raw: wa_e2e_pb2.Message, enc: Node
    ) -> tuple[MessageInfo, bool]:
        """Process the protocol parts, emit the event; returns ``info`` with the DSM's chat
        and whether the handlers took the message over (False: hold back the receipt)."""
        client = self.client
        message = raw
        if raw.HasField("deviceSentMessage") and raw.deviceSentMessage.HasField("message"):
            info = self._device_sent_info(info, raw.deviceSentMessage)
            message = raw.deviceSentMessage.message
        await self._store_secret(info, raw)
        if message is not raw:
            await self._store_secret(info, message)
        if message.HasField("senderKeyDistributionMessage"):
            await self._process_skdm(info, message.senderKeyDistributionMessage)
        if message.HasField("protocolMessage") and info.is_from_me:
            await self._run_protocol_handlers(info, message.protocolMessage)
        if not _has_content(message):
            return info, True
        if info.key in self._recent:
            client.log.debug("Dropping duplicate %s", info.describe())
            return info, True
        self._recent[info.key] = None
        while len(self._recent) > RECENT_MESSAGES:
            self._recent.popitem(last=False)
        count = enc.attrs.get("count")
        accepted = await client.dispatch_message(
            _unwrap(
                info, message, raw, int(count) if isinstance(count, str) and count.isdigit() else 0
            )
        )
        if not accepted:
            del self._recent[info.key]  # the redelivery must be reported again
        return info, accepted

    async def _run_protocol_handlers(
        self, info: MessageInfo, protocol: wa_e2e_pb2.ProtocolMessage
    ) -> None:
        for handler in self._protocol_handlers.get(protocol.type, ()):
            try:
                await handler(info, protocol)
            except Exception:
                self.client.log.exception(
                    "Failed to handle protocol message %s (type %d)", info.id, protocol.type
                )

    def _device_sent_info(
        self, info: MessageInfo, dsm: wa_e2e_pb2.DeviceSentMessage
    ) -> MessageInfo:
        """A DSM is our own message from another device: the chat is its destination."""
        destination: JID | None = None
        if dsm.destinationJID:
            try:
                destination = JID.parse(dsm.destinationJID)
            except BinaryError:
                self.client.log.warning("Bad DSM destination in %s", info.describe())
        if not info.is_from_me or destination is None:
            return info
        chat = info.chat
        if chat.to_non_ad() == info.sender.to_non_ad():
            # No recipient attribute: the stanza only names us; the DSM names the chat.
            chat = destination.to_non_ad()
        return dataclasses.replace(info, chat=chat, device_sent_destination=destination)

    async def _store_secret(self, info: MessageInfo, message: wa_e2e_pb2.Message) -> None:
        secret = message.messageContextInfo.messageSecret
        if not secret:
            return
        try:
            await self.client.secrets.put(info.chat, info.sender, info.id, secret)
        except Exception:
            self.client.log.exception("Failed to store the message secret of %s", info.id)

    async def _process_skdm(
        self, info: MessageInfo, skdm: wa_e2e_pb2.SenderKeyDistributionMessage
    ) -> None:
        client = self.client
        if not info.is_group:
            client.log.warning("Sender key distribution outside a group from %s", info.sender)
            return
        name = SenderKeyName(str(info.chat), self._address(self.encryption_jid(info)))
        try:
            async with client.locks.group(name.group_id):
                await GroupSessionBuilder(self._sender_key_store()).process(
                    name, skdm.axolotlSenderKeyDistributionMessage
                )
        except SignalError as e:
            client.log.warning("Bad sender key distribution from %s: %s", info.sender, e)

    # --- poll votes ---------------------------------------------------------------------------

    async def decrypt_poll_vote(self, event: Message) -> wa_e2e_pb2.PollVoteMessage:
        """The options (SHA-256 of their names) chosen in a received ``pollUpdateMessage``.

        Needs the poll's secret: kept when we received the poll, or stored by the sender when we
        created it. Raises :class:`~.msgsecret.MessageSecretError`.
        """
        if not event.message.HasField("pollUpdateMessage"):
            raise MessageSecretError("not a poll update")
        update = event.message.pollUpdateMessage
        key = update.pollCreationMessageKey
        info = event.info
        # whatsmeow's getOrigSenderFromKey: fromMe means the voter created the poll.
        try:
            if key.fromMe:
                creator = info.sender
            elif not info.is_group:
                creator = JID.parse(key.remoteJID)
            else:
                creator = JID.parse(key.participant)
        except BinaryError as e:
            raise MessageSecretError(f"bad poll creator in the vote: {e}") from e
        return await self.client.secrets.decrypt_poll_vote(info.chat, info.sender, update, creator)


_PROTOCOL_ONLY = ("senderKeyDistributionMessage", "messageContextInfo")


def _has_content(message: wa_e2e_pb2.Message) -> bool:
    """Whether anything but key distribution and context is in ``message``: a field our
    schema doesn't know is content too (a newer kind the receiver should hear about)."""
    if len(unknown_fields.UnknownFieldSet(message)) > 0:
        return True
    return any(field.name not in _PROTOCOL_ONLY for field, _ in message.ListFields())


def strip_wrappers(message: wa_e2e_pb2.Message) -> tuple[wa_e2e_pb2.Message, bool, bool, bool]:
    """The content inside the ephemeral, view-once, document-with-caption and edit wrappers,
    taken off in whatsmeow's order (``UnwrapRaw``); with whether it was ephemeral, view-once
    and an edit. History sync messages come in the same wrappers as live ones."""
    ephemeral = view_once = edit = False
    if message.ephemeralMessage.HasField("message"):
        message, ephemeral = message.ephemeralMessage.message, True
    for wrapper in ("viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension"):
        if getattr(message, wrapper).HasField("message"):
            message, view_once = getattr(message, wrapper).message, True
    if message.documentWithCaptionMessage.HasField("message"):
        message = message.documentWithCaptionMessage.message
    if message.editedMessage.HasField("message"):
        message, edit = message.editedMessage.message, True
    return message, ephemeral, view_once, edit


def _unwrap(
    info: MessageInfo, message: wa_e2e_pb2.Message, raw: wa_e2e_pb2.Message, retry_count: int
) -> Message:
    """The event, with the wrappers taken off in whatsmeow's order (``UnwrapRaw``)."""
    message, ephemeral, view_once, edit = strip_wrappers(message)
    if not message.HasField("messageContextInfo") and raw.HasField("messageContextInfo"):
        unwrapped = wa_e2e_pb2.Message()
        unwrapped.CopyFrom(message)
        unwrapped.messageContextInfo.CopyFrom(raw.messageContextInfo)
        message = unwrapped
    return Message(
        info=info,
        message=message,
        raw=raw,
        is_ephemeral=ephemeral,
        is_view_once=view_once,
        is_edit=edit,
        retry_count=retry_count,
    )
