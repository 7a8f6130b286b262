"""Who sent a ``<message>`` or ``<receipt>``, in which chat (whatsmeow's ``parseMessageSource``).

The routing attributes say it: ``from`` is the chat for groups and broadcasts (the sender is
``participant``), the sender itself otherwise; for stanzas from our own account ``recipient``
names the chat. Our own account is recognised by its phone-number user or its LID user, whatever
the device: device 0 is the phone, the others are companions such as this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .binary.jid import (
    BROADCAST_SERVER,
    DEFAULT_USER_SERVER,
    GROUP_SERVER,
    HIDDEN_USER_SERVER,
    HOSTED_LID_SERVER,
    HOSTED_SERVER,
    JID,
    NEWSLETTER_SERVER,
)
from .binary.node import Node

_UNHOSTED = {HOSTED_SERVER: DEFAULT_USER_SERVER, HOSTED_LID_SERVER: HIDDEN_USER_SERVER}


@dataclass(frozen=True)
class MessageSource:
    """The chat of a stanza and its sender (``None`` for a grouped receipt's envelope)."""

    chat: JID
    sender: JID | None
    is_from_me: bool
    is_group: bool

    @property
    def is_from_own_phone(self) -> bool:
        """Sent by our own primary device (device 0): the phone showed a sign of life."""
        return self.is_from_me and self.sender is not None and self.sender.device == 0


def is_own_user(jid: JID, own: JID | None, own_lid: JID | None) -> bool:
    """Whether ``jid`` is a device of our own account (by phone number or by LID)."""
    if not jid.is_user:
        return False
    server = _UNHOSTED.get(jid.server, jid.server)
    if own is not None and server == DEFAULT_USER_SERVER and jid.user == own.user:
        return True
    return own_lid is not None and server == HIDDEN_USER_SERVER and jid.user == own_lid.user


def parse_message_source(
    node: Node, own: JID | None, own_lid: JID | None, *, require_participant: bool = False
) -> MessageSource:
    """The source of ``node``; raises :class:`~.binary.BinaryError` for missing or bad JIDs."""
    sender_jid = node.attr_jid("from")
    if sender_jid.server in (GROUP_SERVER, BROADCAST_SERVER):
        participant = (
            node.attr_jid("participant")
            if require_participant
            else node.attr_jid_opt("participant")
        )
        from_me = participant is not None and is_own_user(participant, own, own_lid)
        return MessageSource(sender_jid, participant, from_me, True)
    if sender_jid.server == NEWSLETTER_SERVER:
        return MessageSource(sender_jid, sender_jid, False, False)
    sender = _unhosted(sender_jid)
    if is_own_user(sender_jid, own, own_lid):
        chat = node.attr_jid_opt("recipient") or sender.to_non_ad()
        return MessageSource(chat, sender, True, False)
    return MessageSource(sender.to_non_ad(), sender, False, False)


def _unhosted(jid: JID) -> JID:
    server = _UNHOSTED.get(jid.server)
    if server is None:
        return jid
    return JID(jid.user, server, jid.device, jid.raw_agent, jid.integrator, jid.ad)
