"""Group (sender-key) encryption: ``<enc type="skmsg">`` payloads.

A SenderKeyMessage is ``0x33 ‖ proto{id=1, iteration=2, ciphertext=3} ‖ signature``, where the
64-byte XEdDSA signature by the sender's signing key covers everything before it. The ciphertext is
AES-256-CBC with PKCS#7 under the iteration's message key (see :mod:`.sender_key`).

Decryption checks the signature first, then finds the message key, then decrypts, and stores the
advanced state only when all of that succeeded: a bad message never costs a good one its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..crypto import cbc, xeddsa
from .errors import InvalidMessageError, InvalidSignatureError, NoSessionError
from .messages import VERSION_BYTE, check_version, parse_proto
from .proto import whisper_pb2
from .ratchet import aes_cbc_decrypt
from .sender_key import SenderKeyName, SenderKeyRecord

SIGNATURE_SIZE = xeddsa.SIGNATURE_SIZE

if TYPE_CHECKING:
    from ..store import SenderKeyStore


@dataclass(frozen=True, repr=False)
class SenderKeyMessage:
    """A parsed or freshly signed SenderKeyMessage; ``serialized`` is the exact wire form."""

    key_id: int
    iteration: int
    ciphertext: bytes
    serialized: bytes

    def __repr__(self) -> str:
        return f"SenderKeyMessage(key_id={self.key_id}, iteration={self.iteration})"

    @property
    def signature(self) -> bytes:
        return self.serialized[-SIGNATURE_SIZE:]

    @property
    def signed_part(self) -> bytes:
        return self.serialized[:-SIGNATURE_SIZE]

    @classmethod
    def create(
        cls, key_id: int, iteration: int, ciphertext: bytes, signing_private: bytes
    ) -> SenderKeyMessage:
        body = whisper_pb2.SenderKeyMessage(id=key_id, iteration=iteration, ciphertext=ciphertext)
        signed = bytes((VERSION_BYTE,)) + body.SerializeToString()
        return cls(key_id, iteration, ciphertext, signed + xeddsa.sign(signing_private, signed))

    @classmethod
    def parse(cls, data: bytes) -> SenderKeyMessage:
        """Parse the wire form, raising :class:`InvalidMessageError` on anything malformed."""
        if len(data) < 1 + SIGNATURE_SIZE:
            raise InvalidMessageError(f"sender key message too short ({len(data)} bytes)")
        check_version(data, "sender key message")
        body = parse_proto(
            whisper_pb2.SenderKeyMessage(), data[1:-SIGNATURE_SIZE], "sender key message"
        )
        # An absent id or iteration reads as 0, as an encoder that skips zero values means it;
        # the signature covers them either way.
        ciphertext = body.ciphertext
        if not ciphertext or len(ciphertext) % cbc.BLOCK_SIZE:
            raise InvalidMessageError(
                f"sender key ciphertext is not whole AES blocks ({len(ciphertext)} bytes)"
            )
        return cls(body.id, body.iteration, ciphertext, bytes(data))


def encrypt_with_record(record: SenderKeyRecord, plaintext: bytes) -> bytes:
    """Encrypt with our newest state and advance it; returns the signed SenderKeyMessage."""
    state = record.current_state()
    if state.signing_private is None:
        raise NoSessionError("the sender key state is someone else's: we cannot sign with it")
    key = state.next_own_key()
    ciphertext = cbc.encrypt(key.cipher_key, key.iv, plaintext)
    return SenderKeyMessage.create(
        state.key_id, key.iteration, ciphertext, state.signing_private
    ).serialized


def decrypt_with_record(record: SenderKeyRecord, data: bytes) -> bytes:
    """Verify and decrypt a SenderKeyMessage, advancing ``record`` only on success.

    Raises :class:`NoSessionError` (unknown sender key id), :class:`InvalidSignatureError`,
    :class:`DuplicateMessageError` or :class:`InvalidMessageError`.
    """
    message = SenderKeyMessage.parse(data)
    state = record.state_for(message.key_id)
    if not xeddsa.verify(state.signing_public, message.signed_part, message.signature):
        raise InvalidSignatureError(
            f"sender key message (id {message.key_id}, iteration {message.iteration}) "
            "has a bad signature"
        )
    lookup = state.lookup(message.iteration)
    key = lookup.message_key
    plaintext = aes_cbc_decrypt(key.cipher_key, key.iv, message.ciphertext)
    state.commit(lookup)
    return plaintext


async def load_record(store: SenderKeyStore, name: SenderKeyName) -> SenderKeyRecord:
    """The record stored for ``name``, or an empty one."""
    data = await store.load_sender_key(name.group_id, name.sender)
    return SenderKeyRecord() if data is None else SenderKeyRecord.deserialize(data)


async def save_record(store: SenderKeyStore, name: SenderKeyName, record: SenderKeyRecord) -> None:
    await store.store_sender_key(name.group_id, name.sender, record.serialize())


class GroupCipher:
    """Encrypts as, or decrypts from, one sender in one group, through a sender-key store."""

    def __init__(self, store: SenderKeyStore, name: SenderKeyName) -> None:
        self.store = store
        self.name = name

    async def encrypt(self, padded_plaintext: bytes) -> bytes:
        """Encrypt with our own sender key (create it first with ``GroupSessionBuilder``)."""
        record = await load_record(self.store, self.name)
        if record.is_empty():
            raise NoSessionError(f"no sender key of ours for {self.name}")
        ciphertext = encrypt_with_record(record, padded_plaintext)
        await save_record(self.store, self.name, record)
        return ciphertext

    async def decrypt(self, sender_key_message: bytes) -> bytes:
        """Decrypt a message from ``name``'s sender; the store is only written on success."""
        record = await load_record(self.store, self.name)
        if record.is_empty():
            raise NoSessionError(f"no sender key for {self.name}")
        plaintext = decrypt_with_record(record, sender_key_message)
        await save_record(self.store, self.name, record)
        return plaintext
