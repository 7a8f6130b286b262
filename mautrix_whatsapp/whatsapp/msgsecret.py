"""Keys derived from a message's secret: poll votes and the other "modification" messages.

A poll (and some other messages) carries 32 random bytes in ``messageContextInfo.messageSecret``.
A vote on it is encrypted with a key only the chat's members can derive (whatsmeow
``msgsecret.go``)::

    key = HKDF-SHA256(secret, salt=none, info = msg id ‖ original sender ‖ modifier ‖ use case)
    AES-256-GCM(key, 12-byte iv, aad = "msg id \\0 modifier")    (aad for votes and events)

The senders are the JIDs without device (``123@s.whatsapp.net``). This module is the
cryptography only; where secrets are kept is :class:`~.store.MessageSecretStore`.
"""

from __future__ import annotations

import enum
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError

from .binary.jid import JID
from .crypto.hkdf import hkdf_sha256
from .proto import wa_e2e_pb2

IV_SIZE = 12


class MsgSecretType(enum.StrEnum):
    """The use case string mixed into the key."""

    POLL_VOTE = "Poll Vote"
    REACTION = "Enc Reaction"
    COMMENT = "Enc Comment"
    REPORT_TOKEN = "Report Token"
    EVENT_RESPONSE = "Event Response"
    EVENT_EDIT = "Event Edit"
    MESSAGE_EDIT = "Message Edit"
    POLL_EDIT = "Poll Edit"
    POLL_ADD_OPTION = "Poll Add Option"
    BOT_MESSAGE = "Bot Message"


_WITH_AAD = (MsgSecretType.POLL_VOTE, MsgSecretType.EVENT_RESPONSE)


class MsgSecretError(ValueError):
    """A secret-encrypted payload did not decrypt (wrong secret, senders or id) or parse."""


def derive_key(
    use_case: MsgSecretType,
    modification_sender: JID,
    original_id: str,
    original_sender: JID,
    secret: bytes,
) -> tuple[bytes, bytes | None]:
    """The AES-GCM key and associated data for one modification of one original message."""
    original = str(original_sender.to_non_ad())
    modifier = str(modification_sender.to_non_ad())
    info = (original_id + original + modifier + use_case.value).encode()
    key = hkdf_sha256(secret, b"", info, 32)
    aad = f"{original_id}\x00{modifier}".encode() if use_case in _WITH_AAD else None
    return key, aad


def encrypt(
    use_case: MsgSecretType,
    modification_sender: JID,
    original_id: str,
    original_sender: JID,
    secret: bytes,
    plaintext: bytes,
    iv: bytes | None = None,
) -> tuple[bytes, bytes]:
    """Encrypt ``plaintext``; returns ``(ciphertext with tag, iv)``."""
    key, aad = derive_key(use_case, modification_sender, original_id, original_sender, secret)
    iv = iv if iv is not None else os.urandom(IV_SIZE)
    return AESGCM(key).encrypt(iv, plaintext, aad), iv


def decrypt(
    use_case: MsgSecretType,
    modification_sender: JID,
    original_id: str,
    original_sender: JID,
    secret: bytes,
    ciphertext: bytes,
    iv: bytes,
) -> bytes:
    """Decrypt, raising :class:`MsgSecretError` when the tag does not verify."""
    key, aad = derive_key(use_case, modification_sender, original_id, original_sender, secret)
    if len(iv) != IV_SIZE:
        raise MsgSecretError(f"IV must be {IV_SIZE} bytes, not {len(iv)}")
    try:
        return AESGCM(key).decrypt(iv, ciphertext, aad)
    except InvalidTag:
        raise MsgSecretError("authentication failed (wrong secret, sender or id)") from None


def encrypt_poll_vote(
    voter: JID,
    poll_id: str,
    poll_creator: JID,
    secret: bytes,
    vote: wa_e2e_pb2.PollVoteMessage,
    iv: bytes | None = None,
) -> wa_e2e_pb2.PollEncValue:
    """A vote's ``PollEncValue`` (for ``pollUpdateMessage.vote``)."""
    ciphertext, iv = encrypt(
        MsgSecretType.POLL_VOTE, voter, poll_id, poll_creator, secret, vote.SerializeToString(), iv
    )
    return wa_e2e_pb2.PollEncValue(encPayload=ciphertext, encIV=iv)


def decrypt_poll_vote(
    voter: JID,
    poll_id: str,
    poll_creator: JID,
    secret: bytes,
    value: wa_e2e_pb2.PollEncValue,
) -> wa_e2e_pb2.PollVoteMessage:
    """The ``PollVoteMessage`` (SHA-256 hashes of the chosen option names) in a vote."""
    plaintext = decrypt(
        MsgSecretType.POLL_VOTE,
        voter,
        poll_id,
        poll_creator,
        secret,
        value.encPayload,
        value.encIV,
    )
    vote = wa_e2e_pb2.PollVoteMessage()
    try:
        vote.ParseFromString(plaintext)
    except DecodeError as e:
        raise MsgSecretError(f"decrypted vote is not a PollVoteMessage: {e}") from None
    return vote
