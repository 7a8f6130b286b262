"""The phone's memory: every account's chats, contacts and chat settings, as a real phone keeps
them, for history syncs, app-state collections and on-demand history.

:class:`Memories` lives in ``state.extra["memory"]`` (see :func:`get_memories`);
``get_memories(state).of(account)`` is one account's :class:`PhoneMemory`. Everything the
account's devices send or receive is recorded here (the phone's own sends, what it decrypts, the
DSM copies of what its companions send), and the admin API can give a phone a past in bulk.
Chats are keyed by their non-AD JID string: the contact's phone-number JID for a DM (LID
addressed traffic is mapped to the phone number), the group JID for a group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from .accounts import Account
from .state import ServerState

STATUS_SERVER_ACK = 2
STATUS_DELIVERY_ACK = 3
STATUS_READ = 4
STATUS_PLAYED = 5


@dataclass
class Reaction:
    sender: str
    emoji: str
    timestamp: int


@dataclass
class StoredMessage:
    id: str
    chat: str
    sender: str
    """The author's non-AD JID (the account's own JID when ``from_me``)."""
    from_me: bool
    timestamp: int
    """Unix seconds."""
    message: wa_e2e_pb2.Message
    push_name: str = ""
    reactions: list[Reaction] = field(default_factory=list)
    edited: bool = False
    edited_at_ms: int = 0
    """When the last edit was made (``protocolMessage.timestampMS``); 0 = never edited."""
    revoked: bool = False
    status: int = STATUS_SERVER_ACK
    """``WebMessageInfo.Status``: what the phone knows of its delivery (own messages) or
    whether it was read (received ones)."""
    participant: str = ""
    """In a group, the author (non-AD PN JID); empty in a DM."""


@dataclass
class Chat:
    jid: str
    name: str = ""
    messages: list[StoredMessage] = field(default_factory=list)
    """Oldest first."""
    unread_count: int = 0
    pinned: int = 0
    """When the chat was pinned (unix seconds); 0 = not pinned."""
    archived: bool = False
    mute_end: int = 0
    """Unix seconds until which the chat is muted; 0 = not muted, -1 = forever."""
    marked_unread: bool = False
    ephemeral_expiration: int = 0

    @property
    def last_timestamp(self) -> int:
        return self.messages[-1].timestamp if self.messages else 0


@dataclass
class Contact:
    jid: str
    full_name: str = ""
    first_name: str = ""
    lid: str = ""


@dataclass
class PhoneMemory:
    """One account's memory."""

    chats: dict[str, Chat] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    push_names: dict[str, str] = field(default_factory=dict)
    """Push names the phone has seen, by non-AD JID."""
    silent: bool = False
    """Admin switch: the phone sends no history syncs to new companions (for tests of a quiet
    phone); on-demand requests are still answered."""
    _index: dict[tuple[str, str], StoredMessage] = field(default_factory=dict)
    _by_id: dict[str, StoredMessage] = field(default_factory=dict)

    def chat(self, jid: str) -> Chat:
        found = self.chats.get(jid)
        if found is None:
            found = self.chats[jid] = Chat(jid)
        return found

    def add_message(self, stored: StoredMessage) -> bool:
        """Record a message (kept in timestamp order); False if its id is already known."""
        key = (stored.chat, stored.id)
        if key in self._index:
            return False
        self._index[key] = stored
        self._by_id[stored.id] = stored
        messages = self.chat(stored.chat).messages
        if not messages or messages[-1].timestamp <= stored.timestamp:
            messages.append(stored)
        else:
            at = len(messages)
            while at > 0 and messages[at - 1].timestamp > stored.timestamp:
                at -= 1
            messages.insert(at, stored)
        return True

    def find(self, chat: str, message_id: str) -> StoredMessage | None:
        return self._index.get((chat, message_id))

    def find_id(self, message_id: str) -> StoredMessage | None:
        """A message by id alone (receipts name ids; ids are unique enough in practice)."""
        return self._by_id.get(message_id)

    def apply(self, stored: StoredMessage) -> bool:
        """Record what a device of this account sent or received, as a phone's database would:
        a reaction, edit or revoke changes the message it targets; protocol and poll-update
        messages are not chat messages; anything else is added (an incoming one counts as
        unread). False when nothing changed."""
        message = stored.message
        if message.HasField("reactionMessage"):
            reaction = message.reactionMessage
            target = self.find(stored.chat, reaction.key.ID)
            if target is None:
                return False
            target.reactions = [r for r in target.reactions if r.sender != stored.sender]
            if reaction.text:
                timestamp = reaction.senderTimestampMS // 1000 or stored.timestamp
                target.reactions.append(Reaction(stored.sender, reaction.text, timestamp))
            return True
        if message.HasField("editedMessage") and message.editedMessage.HasField("message"):
            message = message.editedMessage.message
        if message.HasField("protocolMessage"):
            protocol = message.protocolMessage
            target = self.find(stored.chat, protocol.key.ID) if protocol.HasField("key") else None
            if target is None:
                return False
            if protocol.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT:
                target.message = wa_e2e_pb2.Message()
                target.message.CopyFrom(protocol.editedMessage)
                target.edited = True
                target.edited_at_ms = protocol.timestampMS or stored.timestamp * 1000
                return True
            if protocol.type == wa_e2e_pb2.ProtocolMessage.REVOKE:
                target.message = wa_e2e_pb2.Message()
                target.revoked = True
                return True
            return False
        if message.HasField("pollUpdateMessage") or (
            message.HasField("senderKeyDistributionMessage") and len(message.ListFields()) == 1
        ):
            return False
        if not self.add_message(stored):
            return False
        if not stored.from_me:
            self.chat(stored.chat).unread_count += 1
        return True

    def mark_read(self, chat: str, message_ids: list[str]) -> None:
        """The phone or a companion read these messages, so everything before them too (as
        reading a chat does): they stop counting as unread."""
        found = self.chats.get(chat)
        read = [m for m in (self.find(chat, i) for i in message_ids) if m is not None]
        if found is None or not read:
            return
        latest = max(m.timestamp for m in read)
        for stored in found.messages:
            if not stored.from_me and stored.timestamp <= latest and stored.status < STATUS_READ:
                stored.status = STATUS_READ
        found.unread_count = sum(
            1 for m in found.messages if not m.from_me and m.status < STATUS_READ
        )
        found.marked_unread = False

    def recent_chats(self) -> list[Chat]:
        """Chats by their last message, most recent first."""
        return sorted(self.chats.values(), key=lambda chat: chat.last_timestamp, reverse=True)


class Memories:
    def __init__(self) -> None:
        self._by_phone: dict[str, PhoneMemory] = {}

    def of(self, account: Account) -> PhoneMemory:
        memory = self._by_phone.get(account.phone)
        if memory is None:
            memory = self._by_phone[account.phone] = PhoneMemory()
        return memory


def get_memories(state: ServerState) -> Memories:
    memories = state.extra.get("memory")
    if not isinstance(memories, Memories):
        memories = state.extra["memory"] = Memories()
    return memories
