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

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from google.protobuf.message import DecodeError

from ..crypto import xeddsa
from .errors import InvalidMessageError, InvalidSignatureError, NoSessionError
from .proto import whisper_pb2
from .sender_key import SenderKeyName, SenderKeyRecord, SenderMessageKey

CURRENT_VERSION = 3
VERSION_BYTE = (CURRENT_VERSION << 4) | CURRENT_VERSION
SIGNATURE_SIZE = 64
_BLOCK = 16

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
        version = data[0] >> 4
        if version != CURRENT_VERSION:
            raise InvalidMessageError(f"unsupported sender key message version {version}")
        body = whisper_pb2.SenderKeyMessage()
        try:
            body.ParseFromString(data[1:-SIGNATURE_SIZE])
        except DecodeError as e:
            raise InvalidMessageError(f"malformed sender key message: {e}") from e
        # An absent id or iteration reads as 0, as an encoder that skips zero values means it;
        # the signature covers them either way.
        ciphertext = body.ciphertext
        if not ciphertext or len(ciphertext) % _BLOCK:
            raise InvalidMessageError(
                f"sender key ciphertext is not whole AES blocks ({len(ciphertext)} bytes)"
            )
        return cls(body.id, body.iteration, ciphertext, bytes(data))


def aes_cbc_encrypt(key: SenderMessageKey, plaintext: bytes) -> bytes:
    """AES-256-CBC with PKCS#7 padding."""
    pad = _BLOCK - len(plaintext) % _BLOCK
    encryptor = Cipher(algorithms.AES(key.cipher_key), modes.CBC(key.iv)).encryptor()
    return encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()


def aes_cbc_decrypt(key: SenderMessageKey, ciphertext: bytes) -> bytes:
    """Undo :func:`aes_cbc_encrypt`; bad PKCS#7 padding is an :class:`InvalidMessageError`."""
    if not ciphertext or len(ciphertext) % _BLOCK:
        raise InvalidMessageError("ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key.cipher_key), modes.CBC(key.iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= _BLOCK or padded[-pad:].count(pad) != pad:
        raise InvalidMessageError("bad PKCS#7 padding after decryption (wrong key?)")
    return padded[:-pad]


def encrypt_with_record(record: SenderKeyRecord, plaintext: bytes) -> bytes:
    """Encrypt with our newest state and advance it; returns the signed SenderKeyMessage."""
    state = record.current_state()
    if state.signing_private is None:
        raise NoSessionError("the sender key state is someone else's: we cannot sign with it")
    key = state.next_own_key()
    ciphertext = aes_cbc_encrypt(key, plaintext)
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
    plaintext = aes_cbc_decrypt(lookup.message_key, message.ciphertext)
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
