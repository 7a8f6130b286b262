"""Everything an account's devices send or receive goes into its phone's memory.

Small hooks called from the phone's send path (:mod:`.phone_send`), its inbox
(:mod:`.phone_inbox`: what the phone decrypts, including the DSM copies of what its companions
send and group messages) and the receipts it gets (delivery/read of its own messages, and the
``read-self`` receipts by which its companions say they read a chat). Because the phone is a
device of every chat its account is in, this sees everything a real phone's database holds.
"""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from .accounts import Account
from .people import account_of
from .phone import get_world
from .phone_memory import (
    STATUS_DELIVERY_ACK,
    STATUS_PLAYED,
    STATUS_READ,
    STATUS_SERVER_ACK,
    StoredMessage,
    get_memories,
)
from .state import ServerState

RECEIPT_STATUS = {"": STATUS_DELIVERY_ACK, "read": STATUS_READ, "played": STATUS_PLAYED}


def chat_key(state: ServerState, jid: JID | str) -> str:
    """The memory's key for a chat: the group JID, or the contact's PN user JID (a LID or a
    device JID is mapped to it)."""
    parsed = JID.parse(jid) if isinstance(jid, str) else jid
    if parsed.server == "g.us":
        return str(JID(parsed.user, parsed.server))
    account = account_of(get_world(state), parsed)
    if account is not None:
        return account.jid
    return str(JID(parsed.user, parsed.server))


def record_sent(
    state: ServerState,
    account: Account,
    chat: JID,
    message_id: str,
    message: wa_e2e_pb2.Message,
    t: int,
) -> None:
    """The phone itself sent ``message`` to ``chat``."""
    record_received(state, account, message_id, str(chat), account, t, message)


def record_received(
    state: ServerState,
    account: Account,
    message_id: str,
    chat: str,
    author: Account,
    t: int,
    message: wa_e2e_pb2.Message,
) -> None:
    """A message in one of the account's chats by ``author`` (the account itself for what the
    phone sent and for the DSM copies of what its companions sent)."""
    memory = get_memories(state).of(account)
    if message.HasField("protocolMessage") and not message.protocolMessage.HasField("key"):
        return  # peer traffic (history notifications, key shares, requests): not a chat message
    key = chat_key(state, chat)
    from_me = author is account
    if not from_me and author.push_name:
        memory.push_names[author.jid] = author.push_name
    memory.apply(
        StoredMessage(
            id=message_id,
            chat=key,
            sender=author.jid,
            from_me=from_me,
            timestamp=t,
            message=message,
            push_name=author.push_name,
            status=STATUS_SERVER_ACK if from_me else STATUS_DELIVERY_ACK,
            participant=author.jid if key.endswith("@g.us") else "",
        )
    )


def record_receipt(
    state: ServerState, account: Account, ids: list[str], receipt_type: str, chat: JID | None
) -> None:
    """A receipt reached the phone: a delivery/read of its own messages raises their status; a
    ``read-self`` (a companion read the chat) marks those messages read."""
    memory = get_memories(state).of(account)
    if receipt_type in ("read-self", "played-self"):
        if chat is not None:
            memory.mark_read(chat_key(state, chat), ids)
        return
    status = RECEIPT_STATUS.get(receipt_type)
    if status is None:
        return
    for message_id in ids:
        stored = memory.find_id(message_id)
        if stored is not None and stored.from_me and stored.status < status:
            stored.status = status
