"""Message secrets: poll votes encrypted under the poll's ``messageSecret`` (whatsmeow
``msgsecret.go``).

A poll carries a random 32-byte ``messageContextInfo.messageSecret``. A vote on it is a
``PollVoteMessage`` (SHA-256 hashes of the chosen option names), AES-256-GCM encrypted::

    use_case = poll_id ‖ poll_sender ‖ voter ‖ "Poll Vote"      (JIDs without device, as text)
    key      = HKDF-SHA256(secret, salt=none, info=use_case, 32 bytes)
    aad      = poll_id ‖ 0x00 ‖ voter
    iv       = 12 random bytes

so only those who received the poll can read votes. Secrets are kept per (chat, sender, id) in a
:class:`~.store.MessageSecretStore`: ours when we send a poll, others' when we receive one
(:mod:`.message` calls :meth:`MessageSecrets.put`). The same API as client-send's module of this
name, without the vote builder (which needs their message builders); either replaces the other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError

from .binary.jid import JID
from .crypto.hkdf import hkdf_sha256
from .proto import wa_e2e_pb2
from .store import MessageSecretStore

POLL_VOTE = "Poll Vote"
IV_SIZE = 12


class MessageSecretError(ValueError):
    """A vote that does not decrypt or parse, or whose poll's secret we do not have."""


def poll_option_hash(name: str) -> bytes:
    """How a vote names an option: the SHA-256 of its text."""
    return hashlib.sha256(name.encode()).digest()


def _key_and_aad(
    use_case: str, modification_sender: JID, message_id: str, message_sender: JID, secret: bytes
) -> tuple[bytes, bytes]:
    orig = str(message_sender.to_non_ad())
    modifier = str(modification_sender.to_non_ad())
    info = f"{message_id}{orig}{modifier}{use_case}".encode()
    key = hkdf_sha256(secret, b"", info, 32)
    return key, f"{message_id}\x00{modifier}".encode()


def encrypt_poll_vote(
    secret: bytes,
    *,
    poll_id: str,
    poll_sender: JID,
    voter: JID,
    selected: Sequence[str],
    iv: bytes | None = None,
) -> wa_e2e_pb2.PollEncValue:
    """The encrypted vote of ``voter`` choosing the options named ``selected``."""
    vote = wa_e2e_pb2.PollVoteMessage(selectedOptions=[poll_option_hash(o) for o in selected])
    key, aad = _key_and_aad(POLL_VOTE, voter, poll_id, poll_sender, secret)
    iv = iv if iv is not None else os.urandom(IV_SIZE)
    payload = AESGCM(key).encrypt(iv, vote.SerializeToString(), aad)
    return wa_e2e_pb2.PollEncValue(encPayload=payload, encIV=iv)


def decrypt_poll_vote(
    secret: bytes,
    *,
    poll_id: str,
    poll_sender: JID,
    voter: JID,
    vote: wa_e2e_pb2.PollEncValue,
) -> wa_e2e_pb2.PollVoteMessage:
    """The option hashes ``voter`` chose; raises :class:`MessageSecretError`."""
    key, aad = _key_and_aad(POLL_VOTE, voter, poll_id, poll_sender, secret)
    if len(vote.encIV) != IV_SIZE:
        raise MessageSecretError(f"vote IV has {len(vote.encIV)} bytes, not {IV_SIZE}")
    try:
        plaintext = AESGCM(key).decrypt(vote.encIV, vote.encPayload, aad)
    except InvalidTag:
        raise MessageSecretError("poll vote does not decrypt with this poll's secret") from None
    result = wa_e2e_pb2.PollVoteMessage()
    try:
        result.ParseFromString(plaintext)
    except DecodeError as e:
        raise MessageSecretError(f"malformed poll vote: {e}") from e
    return result


class MessageSecrets:
    """Message secrets of one client, through its store (``client.secrets``)."""

    def __init__(self, store: MessageSecretStore) -> None:
        self.store = store

    async def put(self, chat: JID, sender: JID, message_id: str, secret: bytes) -> None:
        await self.store.put_message_secret(
            str(chat.to_non_ad()), str(sender.to_non_ad()), message_id, secret
        )

    async def get(self, chat: JID, sender: JID, message_id: str) -> bytes:
        secret = await self.store.get_message_secret(
            str(chat.to_non_ad()), str(sender.to_non_ad()), message_id
        )
        if secret is None:
            raise MessageSecretError(f"no secret for message {message_id} of {sender} in {chat}")
        return secret

    async def decrypt_poll_vote(
        self, chat: JID, voter: JID, update: wa_e2e_pb2.PollUpdateMessage, poll_sender: JID
    ) -> wa_e2e_pb2.PollVoteMessage:
        """Decrypt a received vote; ``poll_sender`` is who sent the poll."""
        poll_id = update.pollCreationMessageKey.ID
        secret = await self.get(chat, poll_sender, poll_id)
        return decrypt_poll_vote(
            secret, poll_id=poll_id, poll_sender=poll_sender, voter=voter, vote=update.vote
        )
