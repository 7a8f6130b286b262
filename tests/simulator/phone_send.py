"""The simulated phone sends messages: stanzas and ``waE2E.Message`` protobufs of its own making.

A DM goes to every device of the recipient (encrypted for each) and, as a ``deviceSentMessage``,
to the sender's own companions; a group message is one ``skmsg`` plus the phone's sender-key
distribution message to every member device that has not had it yet. The stanza is then routed
exactly like a companion's (:func:`.routing.route_message`) with the phone (device 0) as sender.

Message builders (text, mentions, replies, reactions, edits, revokes, polls and votes, location,
contact) follow the shapes whatsmeow and Baileys produce; poll votes are encrypted with the
poll's ``messageSecret`` as in whatsmeow ``msgsecret.go``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_common_pb2, wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress

from .accounts import Account
from .groups import get_groups
from .people import SentMessage, account_of, get_people
from .phone import get_world
from .phone_record import record_sent
from .routing import GROUP_SERVER, PN_SERVER, Sender, devices_of, member_devices, route_message
from .state import ServerState


class SendError(ValueError):
    """The phone cannot send that (unknown recipient, not a member…)."""


@dataclass
class GroupKeys:
    """Which devices got a phone's sender key, per group."""

    sent_to: dict[str, set[tuple[str, int]]] = field(default_factory=dict)


def new_message_id() -> str:
    """A message id in the form phones use (``3EB0`` + 18 hex digits is Web's; phones differ,
    any unique upper-case hex works)."""
    return "3EB0" + secrets.token_hex(9).upper()


def message_type(message: wa_e2e_pb2.Message) -> str:
    """The stanza ``type``: ``reaction``, ``poll``, ``media`` or ``text`` (whatsmeow
    ``getTypeFromMessage``)."""
    if message.HasField("reactionMessage"):
        return "reaction"
    if message.HasField("pollUpdateMessage") or any(
        message.HasField(f)
        for f in ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3")
    ):
        return "poll"
    media = ("imageMessage", "videoMessage", "audioMessage", "documentMessage", "stickerMessage")
    if any(message.HasField(f) for f in media):
        return "media"
    return "text"


def edit_attribute(message: wa_e2e_pb2.Message) -> str:
    """The stanza ``edit`` attribute (whatsmeow ``getEditAttribute``)."""
    protocol = message.protocolMessage
    if message.HasField("protocolMessage") and protocol.HasField("key"):
        if protocol.type == wa_e2e_pb2.ProtocolMessage.REVOKE:
            return "8" if protocol.key.fromMe is False and protocol.key.participant else "7"
        if protocol.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT and protocol.HasField(
            "editedMessage"
        ):
            return "1"
    if message.HasField("reactionMessage") and not message.reactionMessage.text:
        return "7"
    return ""


def _group_keys(state: ServerState) -> dict[str, GroupKeys]:
    found = state.extra.get("phone_group_keys")
    if not isinstance(found, dict):
        found = state.extra["phone_group_keys"] = {}
    return found


async def send(
    state: ServerState,
    account: Account,
    chat: JID,
    message: wa_e2e_pb2.Message,
    message_id: str | None = None,
) -> tuple[str, int]:
    """The phone of ``account`` sends ``message`` to ``chat``; returns (id, server time)."""
    message_id = message_id or new_message_id()
    world = get_world(state)
    people = get_people(state)
    person = people.of(account)
    plaintext = message.SerializeToString()
    attrs: dict[str, str | JID] = {
        "to": chat,
        "id": message_id,
        "type": message_type(message),
    }
    edit = edit_attribute(message)
    if edit:
        attrs["edit"] = edit
    enc_attrs = {"v": "2"}
    if message.HasField("reactionMessage") or edit:
        enc_attrs["decrypt-fail"] = "hide"
    content: list[Node] = []
    if chat.server == GROUP_SERVER:
        group = get_groups(state).get(str(chat))
        if group is None or not group.is_member(account.phone):
            raise SendError(f"{account.phone} is not in {chat}")
        ciphertext, distribution = await person.encrypt_group(str(chat), plaintext)
        keys = _group_keys(state).setdefault(account.phone, GroupKeys())
        sent_to = keys.sent_to.setdefault(str(chat), set())
        skdm = wa_e2e_pb2.Message()
        skdm.senderKeyDistributionMessage.groupID = str(chat)
        skdm.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = distribution
        participants: list[Node] = []
        for member, device in member_devices(world, group):
            if (member.phone, device) in sent_to or (member is account and device == 0):
                continue
            people.of(member)  # its phone's keys are published
            target = SignalAddress(member.phone, device)
            encrypted = await person.encrypt(world, target, skdm.SerializeToString())
            if encrypted is None:
                continue
            sent_to.add((member.phone, device))
            participants.append(_to(target, encrypted.type, encrypted.serialized, enc_attrs))
        if participants:
            content.append(Node("participants", {}, participants))
        content.append(Node("enc", {**enc_attrs, "type": "skmsg"}, ciphertext))
    else:
        target_account = account_of(world, chat)
        if target_account is None:
            raise SendError(f"{chat} is not on WhatsApp")
        people.of(target_account)  # its phone's keys are published
        chat = JID(chat.user, chat.server)
        dsm = wa_e2e_pb2.Message()
        dsm.deviceSentMessage.destinationJID = str(JID(target_account.phone, PN_SERVER))
        dsm.deviceSentMessage.message.CopyFrom(message)
        if message.HasField("messageContextInfo"):
            dsm.messageContextInfo.CopyFrom(message.messageContextInfo)
        targets = [(target_account, d, plaintext) for d in devices_of(target_account)]
        if target_account is not account:
            own = dsm.SerializeToString()
            targets += [(account, d, own) for d in devices_of(account) if d != 0]
        participants = []
        for target_account_, device, payload in targets:
            target = SignalAddress(target_account_.phone, device)
            encrypted = await person.encrypt(world, target, payload)
            if encrypted is not None:
                participants.append(_to(target, encrypted.type, encrypted.serialized, enc_attrs))
        content.append(Node("participants", {}, participants))
    t = int(time.time())
    person.sent[message_id] = SentMessage(str(chat), message, str(attrs["type"]))
    error = route_message(state, Sender(account, 0), Node("message", attrs, content), t)
    if error is not None:
        raise SendError(f"the server refused the message: {error}")
    record_sent(state, account, chat, message_id, message, t)
    return message_id, t


async def send_peer(
    state: ServerState, account: Account, device: int, message: wa_e2e_pb2.Message
) -> str | None:
    """The phone sends a peer message (``category="peer"``: history sync, app state keys…) to
    one of its own companions; returns its id, or None without keys for that device."""
    person = get_people(state).of(account)
    target = SignalAddress(account.phone, device)
    encrypted = await person.encrypt(get_world(state), target, message.SerializeToString())
    if encrypted is None:
        return None
    message_id = new_message_id()
    attrs: dict[str, str | JID] = {
        "to": JID(account.phone, PN_SERVER, device),
        "id": message_id,
        "type": "text",
        "category": "peer",
        "push_priority": "high_force",
    }
    enc = Node("enc", {"v": "2", "type": encrypted.type}, encrypted.serialized)
    error = route_message(
        state, Sender(account, 0), Node("message", attrs, [enc]), int(time.time())
    )
    if error is not None:
        raise SendError(f"the server refused the peer message: {error}")
    return message_id


async def resend(
    state: ServerState, account: Account, requester: JID, message_id: str, count: str
) -> bool:
    """Send a message the phone sent before again, to the one device whose retry receipt asked
    for it (the caller has reset the session): a DM to that device (a DSM to its own), a group
    message as ``to=<group> participant=<device>`` with the phone's sender key inside."""
    person = get_people(state).of(account)
    sent = person.sent.get(message_id)
    world = get_world(state)
    target_account = account_of(world, requester)
    if sent is None or target_account is None:
        return False
    message = sent.message
    chat = JID.parse(sent.chat)
    attrs: dict[str, str | JID] = {"to": requester, "id": message_id, "type": sent.type}
    if chat.server == GROUP_SERVER:
        _, distribution = await person.group_distribution(sent.chat)
        message = wa_e2e_pb2.Message()
        message.CopyFrom(sent.message)
        message.senderKeyDistributionMessage.groupID = sent.chat
        message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = distribution
        attrs = {"to": chat, "participant": requester, "id": message_id, "type": sent.type}
    elif target_account is account:
        dsm = wa_e2e_pb2.Message()
        dsm.deviceSentMessage.destinationJID = sent.chat
        dsm.deviceSentMessage.message.CopyFrom(message)
        message = dsm
        attrs["recipient"] = JID.parse(sent.chat)
    target = SignalAddress(target_account.phone, requester.device)
    encrypted = await person.encrypt(world, target, message.SerializeToString())
    if encrypted is None:
        return False
    enc = Node("enc", {"v": "2", "type": encrypted.type, "count": count}, encrypted.serialized)
    route_message(state, Sender(account, 0), Node("message", attrs, [enc]), int(time.time()))
    return True


def _to(target: SignalAddress, enc_type: str, data: bytes, enc_attrs: dict[str, str]) -> Node:
    jid = JID(target.user, PN_SERVER, target.device)
    return Node("to", {"jid": jid}, [Node("enc", {**enc_attrs, "type": enc_type}, data)])


# --- message builders ---


def message_key(
    chat: JID, message_id: str, from_me: bool, participant: JID | None = None
) -> wa_common_pb2.MessageKey:
    key = wa_common_pb2.MessageKey(remoteJID=str(chat), fromMe=from_me, ID=message_id)
    if participant is not None:
        key.participant = str(participant)
    return key


def text_message(
    text: str,
    mentions: list[str] | None = None,
    reply_to: wa_e2e_pb2.ContextInfo | None = None,
) -> wa_e2e_pb2.Message:
    """Plain ``conversation`` text, or ``extendedTextMessage`` with mentions or a quote."""
    message = wa_e2e_pb2.Message()
    if not mentions and reply_to is None:
        message.conversation = text
        return message
    message.extendedTextMessage.text = text
    context = message.extendedTextMessage.contextInfo
    if reply_to is not None:
        context.CopyFrom(reply_to)
    context.mentionedJID.extend(mentions or [])
    return message


def reply_context(
    quoted_id: str, quoted_sender: JID, quoted: wa_e2e_pb2.Message | None, chat: JID | None = None
) -> wa_e2e_pb2.ContextInfo:
    context = wa_e2e_pb2.ContextInfo(stanzaID=quoted_id, participant=str(quoted_sender))
    if quoted is not None:
        context.quotedMessage.CopyFrom(quoted)
    if chat is not None and chat.server == GROUP_SERVER:
        context.remoteJID = str(chat)
    return context


def reaction_message(key: wa_common_pb2.MessageKey, emoji: str) -> wa_e2e_pb2.Message:
    """A reaction; an empty ``emoji`` removes it."""
    message = wa_e2e_pb2.Message()
    message.reactionMessage.key.CopyFrom(key)
    message.reactionMessage.text = emoji
    message.reactionMessage.senderTimestampMS = int(time.time() * 1000)
    return message


def edit_message(key: wa_common_pb2.MessageKey, text: str) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    protocol = message.protocolMessage
    protocol.key.CopyFrom(key)
    protocol.type = wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
    protocol.editedMessage.conversation = text
    protocol.timestampMS = int(time.time() * 1000)
    return message


def revoke_message(key: wa_common_pb2.MessageKey) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    message.protocolMessage.key.CopyFrom(key)
    message.protocolMessage.type = wa_e2e_pb2.ProtocolMessage.REVOKE
    return message


def poll_message(name: str, options: list[str], selectable: int = 1) -> wa_e2e_pb2.Message:
    """A poll (``pollCreationMessageV3`` for single choice, as clients send) with a fresh
    ``messageSecret``, which voters need to encrypt their votes."""
    message = wa_e2e_pb2.Message()
    poll = message.pollCreationMessageV3 if selectable == 1 else message.pollCreationMessage
    poll.name = name
    for option in options:
        poll.options.add(optionName=option)
    poll.selectableOptionsCount = selectable
    message.messageContextInfo.messageSecret = os.urandom(32)
    return message


def poll_secret_key(
    secret: bytes, poll_id: str, poll_sender: JID, voter: JID, use_case: str = "Poll Vote"
) -> bytes:
    info = poll_id.encode() + str(poll_sender).encode() + str(voter).encode() + use_case.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def vote_message(
    poll_key: wa_common_pb2.MessageKey,
    poll_sender: JID,
    voter: JID,
    secret: bytes,
    selected: list[str],
) -> wa_e2e_pb2.Message:
    """An encrypted poll vote for the named options (SHA-256 of each option name)."""
    vote = wa_e2e_pb2.PollVoteMessage()
    vote.selectedOptions.extend(hashlib.sha256(o.encode()).digest() for o in selected)
    key = poll_secret_key(secret, poll_key.ID, poll_sender, voter)
    iv = os.urandom(12)
    aad = f"{poll_key.ID}\x00{voter}".encode()
    payload = AESGCM(key).encrypt(iv, vote.SerializeToString(), aad)
    message = wa_e2e_pb2.Message()
    update = message.pollUpdateMessage
    update.pollCreationMessageKey.CopyFrom(poll_key)
    update.vote.encPayload = payload
    update.vote.encIV = iv
    update.senderTimestampMS = int(time.time() * 1000)
    return message


def decrypt_vote(
    update: wa_e2e_pb2.PollUpdateMessage, poll_sender: JID, voter: JID, secret: bytes
) -> wa_e2e_pb2.PollVoteMessage:
    """Read a vote someone sent on a poll whose secret we know (for ``received``)."""
    poll_id = update.pollCreationMessageKey.ID
    key = poll_secret_key(secret, poll_id, poll_sender, voter)
    aad = f"{poll_id}\x00{voter}".encode()
    plaintext = AESGCM(key).decrypt(update.vote.encIV, update.vote.encPayload, aad)
    vote = wa_e2e_pb2.PollVoteMessage()
    vote.ParseFromString(plaintext)
    return vote


def location_message(
    latitude: float, longitude: float, name: str = "", address: str = ""
) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    location = message.locationMessage
    location.degreesLatitude = latitude
    location.degreesLongitude = longitude
    if name:
        location.name = name
    if address:
        location.address = address
    return message


def contact_message(display_name: str, vcard: str) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    message.contactMessage.displayName = display_name
    message.contactMessage.vcard = vcard
    return message
