"""The double-ratchet session cipher: encrypt to and decrypt from one remote device.

Every call loads the record, works on a copy and stores it only on success, so a message that
fails (bad MAC, replay, too far ahead, malformed) leaves the session exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..crypto import cbc
from ..crypto.keys import KeyPair
from ..store import Direction, SignalProtocolStore
from .address import SignalAddress
from .builder import SessionBuilder
from .errors import (
    DuplicateMessageError,
    InvalidMessageError,
    NoSessionError,
    SignalError,
    UntrustedIdentityError,
)
from .messages import PreKeySignalMessage, SignalMessage
from .ratchet import ChainKey, MessageKeys, aes_cbc_decrypt, root_step
from .session import SessionRecord, SessionState

MAX_FUTURE_MESSAGES = 2000
"""How many message keys one incoming message may make us derive (libsignal-node's bound)."""


@dataclass(frozen=True, slots=True)
class CiphertextMessage:
    """An encrypted message and its ``<enc type>``: ``pkmsg`` until the peer has answered."""

    type: Literal["pkmsg", "msg"]
    serialized: bytes


class SessionCipher:
    """Encrypts and decrypts 1:1 messages with one remote device.

    Calls for one address must not overlap (the caller serializes them, as whatsmeow does).
    """

    def __init__(self, store: SignalProtocolStore, address: SignalAddress) -> None:
        self.store = store
        self.address = address

    async def _load(self) -> SessionRecord | None:
        data = await self.store.load_session(self.address)
        return SessionRecord.deserialize(data) if data is not None else None

    async def has_session(self) -> bool:
        record = await self._load()
        return record is not None and record.current is not None

    async def encrypt(self, plaintext: bytes) -> CiphertextMessage:
        record = await self._load()
        if record is None or record.current is None:
            raise NoSessionError(f"no session with {self.address}")
        state = record.current
        if not await self.store.is_trusted_identity(
            self.address, state.remote_identity_key, Direction.SENDING
        ):
            raise UntrustedIdentityError(str(self.address), state.remote_identity_key)
        chain_key = state.sender_chain_key
        keys = chain_key.message_keys()
        message = SignalMessage.build(
            keys.mac_key,
            state.sender_ratchet_key_pair.public,
            chain_key.index,
            state.previous_counter,
            cbc.encrypt(keys.cipher_key, keys.iv, plaintext),
            state.local_identity_key,
            state.remote_identity_key,
        )
        state.sender_chain_key = chain_key.next()
        pending = state.pending_pre_key
        await self.store.store_session(self.address, record.serialize())
        if pending is None:
            return CiphertextMessage("msg", message.serialized)
        pkmsg = PreKeySignalMessage.build(
            state.local_registration_id,
            pending.pre_key_id,
            pending.signed_pre_key_id,
            pending.base_key,
            state.local_identity_key,
            message,
        )
        return CiphertextMessage("pkmsg", pkmsg.serialized)

    async def decrypt(self, enc_type: str, data: bytes) -> bytes:
        """Decrypt the payload of an ``<enc type="pkmsg|msg">`` node."""
        if enc_type == "pkmsg":
            return await self.decrypt_pre_key_message(data)
        if enc_type == "msg":
            return await self.decrypt_message(data)
        raise InvalidMessageError(f"not a 1:1 message type: {enc_type!r}")

    async def decrypt_message(self, data: bytes) -> bytes:
        """Decrypt a ``msg`` with the current session or, failing that, an archived one."""
        message = SignalMessage.parse(data)
        record = await self._load()
        if record is None or not record.states():
            raise NoSessionError(f"no session with {self.address}")
        first_error: SignalError | None = None
        for state in record.states():
            attempt = state.clone()
            try:
                plaintext = decrypt_with_state(attempt, message)
            except (InvalidMessageError, NoSessionError) as e:
                # Report the current session's reason (a replay, a MAC failure …) rather than
                # the archived sessions' predictable MAC failures.
                first_error = first_error or e
                continue
            await self._check_identity(attempt)
            record.replace_state(state, attempt)
            await self.store.store_session(self.address, record.serialize())
            return plaintext
        assert first_error is not None
        raise first_error

    async def decrypt_pre_key_message(self, data: bytes) -> bytes:
        """Decrypt a ``pkmsg``, building the session it starts (consuming its one-time pre-key)."""
        message = PreKeySignalMessage.parse(data)
        record = await self._load() or SessionRecord()
        builder = SessionBuilder(self.store, self.address)
        state, used_pre_key_id = await builder.process_pre_key_message(record, message)
        attempt = state.clone()
        plaintext = decrypt_with_state(attempt, message.message)
        await self._check_identity(attempt)
        record.replace_state(state, attempt)
        await self.store.store_session(self.address, record.serialize())
        if used_pre_key_id is not None:
            await self.store.remove_pre_key(used_pre_key_id)
        return plaintext

    async def _check_identity(self, state: SessionState) -> None:
        identity = state.remote_identity_key
        if not await self.store.is_trusted_identity(self.address, identity, Direction.RECEIVING):
            raise UntrustedIdentityError(str(self.address), identity)
        await self.store.save_identity(self.address, identity)


def decrypt_with_state(state: SessionState, message: SignalMessage) -> bytes:
    """Decrypt ``message`` with ``state``, advancing it (callers pass a copy)."""
    if not state.has_sender_chain():
        raise NoSessionError("uninitialized session")
    chain_key = _receiver_chain_key(state, message.ratchet_key)
    keys = _message_keys(state, message.ratchet_key, chain_key, message.counter)
    message.verify_mac(keys.mac_key, state.remote_identity_key, state.local_identity_key)
    plaintext = aes_cbc_decrypt(keys.cipher_key, keys.iv, message.ciphertext)
    state.clear_pending_pre_key()
    return plaintext


def _receiver_chain_key(state: SessionState, their_ratchet_key: bytes) -> ChainKey:
    """The receiving chain for ``their_ratchet_key``, stepping the DH ratchet if it is new."""
    existing = state.receiver_chain_key(their_ratchet_key)
    if existing is not None:
        return existing
    our_ratchet = state.sender_ratchet_key_pair
    root_key, receiver_chain = root_step(state.root_key, their_ratchet_key, our_ratchet)
    new_ratchet = KeyPair.generate()
    root_key, sender_chain = root_step(root_key, their_ratchet_key, new_ratchet)
    state.root_key = root_key
    state.add_receiver_chain(their_ratchet_key, receiver_chain)
    state.previous_counter = max(state.sender_chain_key.index - 1, 0)
    state.set_sender_chain(new_ratchet, sender_chain)
    return receiver_chain


def _message_keys(
    state: SessionState, their_ratchet_key: bytes, chain_key: ChainKey, counter: int
) -> MessageKeys:
    if chain_key.index > counter:
        keys = state.pop_message_keys(their_ratchet_key, counter)
        if keys is None:
            raise DuplicateMessageError(f"message key {counter} was already used")
        return keys
    if counter - chain_key.index >= MAX_FUTURE_MESSAGES:
        raise InvalidMessageError(f"message {counter} is over {MAX_FUTURE_MESSAGES} ahead")
    while chain_key.index < counter:
        state.add_message_keys(their_ratchet_key, chain_key.message_keys())
        chain_key = chain_key.next()
    state.set_receiver_chain_key(their_ratchet_key, chain_key.next())
    return chain_key.message_keys()
