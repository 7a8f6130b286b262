"""Sender keys: the per-sender state behind Signal group messages.

Every member of a group keeps one sender-key *record* per (group, sender device). A record holds
up to :data:`MAX_STATES` *states*, one per sender-key id the sender has distributed (a sender
rotates its key when a member leaves, and messages under the old id may still arrive). A state is
a hash chain: each step yields one message key and the next chain key, so a receiver can move
forward but never back. Keys for iterations skipped on the way are kept (at most
:data:`MAX_MESSAGE_KEYS`) so late messages still decrypt, and each key is used once, which is what
turns a replay into a :class:`DuplicateMessageError`.

The constants and derivations are libsignal's; the record's protobuf is libsignal's
``SenderKeyRecordStructure``, byte-compatible with the other implementations' storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from ..crypto.hkdf import hkdf_sha256, hmac_sha256
from ..crypto.keys import KeyPair, with_key_type
from .address import SignalAddress
from .errors import CorruptRecordError, DuplicateMessageError, InvalidMessageError, NoSessionError
from .keys import public_key
from .proto import storage_pb2

MAX_STATES = 5
"""States (sender-key ids) kept per sender; the oldest is dropped first."""

MAX_MESSAGE_KEYS = 2000
"""Skipped message keys kept per state; the oldest is dropped first."""

MAX_FORWARD_JUMP = 2000
"""How far past the chain a message's iteration may be before it is rejected."""

MAX_ITERATION = 0xFFFFFFFF
"""Iterations travel as protobuf uint32."""

_MESSAGE_KEY_SEED = b"\x01"
_CHAIN_KEY_SEED = b"\x02"
_HKDF_SALT = bytes(32)
_GROUP_INFO = b"WhisperGroup"


@dataclass(frozen=True, slots=True)
class SenderKeyName:
    """Names one sender-key record: a group and one sending device in it.

    In LID-addressed groups the sender is its LID address (see the notes). ``str()`` gives
    libsignal's ``group::name::device`` form, which whatsmeow and Baileys key records by.
    """

    group_id: str
    sender: SignalAddress

    def __str__(self) -> str:
        return f"{self.group_id}::{self.sender.name}::{self.sender.device}"


class SenderMessageKey:
    """The AES-256-CBC key and IV for one iteration: HKDF(seed, zero salt, "WhisperGroup") gives
    iv 16 ‖ key 32."""

    __slots__ = ("cipher_key", "iteration", "iv", "seed")

    def __init__(self, iteration: int, seed: bytes) -> None:
        self.iteration = iteration
        self.seed = seed
        material = hkdf_sha256(seed, _HKDF_SALT, _GROUP_INFO, 48)
        self.iv, self.cipher_key = material[:16], material[16:]

    def __repr__(self) -> str:
        return f"SenderMessageKey(iteration={self.iteration})"


@dataclass(frozen=True, repr=False)
class SenderChainKey:
    """One link of the sender chain: message seed = HMAC(ck, 01), next ck = HMAC(ck, 02)."""

    iteration: int
    key: bytes

    def message_seed(self) -> bytes:
        return hmac_sha256(self.key, _MESSAGE_KEY_SEED)

    def message_key(self) -> SenderMessageKey:
        return SenderMessageKey(self.iteration, self.message_seed())

    def next(self) -> SenderChainKey:
        if self.iteration >= MAX_ITERATION:
            raise InvalidMessageError("sender chain exhausted its 32-bit iteration counter")
        return SenderChainKey(self.iteration + 1, hmac_sha256(self.key, _CHAIN_KEY_SEED))

    def __repr__(self) -> str:
        return f"SenderChainKey(iteration={self.iteration})"


@dataclass(repr=False)
class KeyLookup:
    """The message key for one iteration, and how to advance the state once it has been used.

    Decryption looks the key up, decrypts, and only then calls :meth:`SenderKeyState.commit`, so a
    message that fails to decrypt leaves the state exactly as it was.
    """

    message_key: SenderMessageKey
    next_chain: SenderChainKey | None = None
    skipped: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass(repr=False)
class SenderKeyState:
    """One sender-key id's chain, signing key and skipped message keys."""

    key_id: int
    chain_key: SenderChainKey
    signing_public: bytes
    """33-byte 05-prefixed public key that verifies this sender's messages."""
    signing_private: bytes | None = None
    """Only on our own states: the key we sign our messages with."""
    skipped_keys: dict[int, bytes] = field(default_factory=dict)
    """iteration → message seed, oldest first."""

    def __repr__(self) -> str:
        return (
            f"SenderKeyState(key_id={self.key_id}, iteration={self.chain_key.iteration}, "
            f"skipped={len(self.skipped_keys)}, own={self.signing_private is not None})"
        )

    def lookup(self, iteration: int) -> KeyLookup:
        """Find the message key for ``iteration`` without changing the state.

        Raises :class:`DuplicateMessageError` for an iteration already used (or whose key was
        dropped) and :class:`InvalidMessageError` for one too far ahead.
        """
        chain = self.chain_key
        if iteration < chain.iteration:
            seed = self.skipped_keys.get(iteration)
            if seed is None:
                raise DuplicateMessageError(
                    f"sender key {self.key_id}: iteration {iteration} already received "
                    f"(chain is at {chain.iteration})"
                )
            return KeyLookup(SenderMessageKey(iteration, seed))
        if iteration - chain.iteration > MAX_FORWARD_JUMP:
            raise InvalidMessageError(
                f"sender key {self.key_id}: iteration {iteration} is over {MAX_FORWARD_JUMP} "
                f"ahead of the chain ({chain.iteration})"
            )
        skipped: list[tuple[int, bytes]] = []
        while chain.iteration < iteration:
            skipped.append((chain.iteration, chain.message_seed()))
            chain = chain.next()
        return KeyLookup(chain.message_key(), chain.next(), skipped)

    def commit(self, lookup: KeyLookup) -> None:
        """Consume a looked-up key: forget it, keep the skipped ones, move the chain on."""
        if lookup.next_chain is None:
            del self.skipped_keys[lookup.message_key.iteration]
            return
        keys = self.skipped_keys
        for iteration, seed in lookup.skipped:
            keys[iteration] = seed
        for _ in range(len(keys) - MAX_MESSAGE_KEYS):
            del keys[next(iter(keys))]
        self.chain_key = lookup.next_chain

    def next_own_key(self) -> SenderMessageKey:
        """Take the next message key for sending and advance the chain (our own states only)."""
        chain = self.chain_key
        key = chain.message_key()
        self.chain_key = chain.next()
        return key

    def copy(self) -> SenderKeyState:
        return SenderKeyState(
            key_id=self.key_id,
            chain_key=self.chain_key,
            signing_public=self.signing_public,
            signing_private=self.signing_private,
            skipped_keys=dict(self.skipped_keys),
        )

    def to_proto(self) -> storage_pb2.SenderKeyStateStructure:
        structure = storage_pb2.SenderKeyStateStructure()
        structure.senderKeyId = self.key_id
        structure.senderChainKey.iteration = self.chain_key.iteration
        structure.senderChainKey.seed = self.chain_key.key
        structure.senderSigningKey.public = self.signing_public
        if self.signing_private is not None:
            structure.senderSigningKey.private = self.signing_private
        for iteration, seed in self.skipped_keys.items():
            structure.senderMessageKeys.add(iteration=iteration, seed=seed)
        return structure

    @classmethod
    def from_proto(cls, structure: storage_pb2.SenderKeyStateStructure) -> SenderKeyState:
        chain_seed = structure.senderChainKey.seed
        if len(chain_seed) != 32:
            raise CorruptRecordError("stored sender chain key is not 32 bytes")
        try:
            public = with_key_type(structure.senderSigningKey.public)
        except ValueError as e:
            raise CorruptRecordError(f"stored sender signing key: {e}") from e
        private = structure.senderSigningKey.private or None
        if private is not None and len(private) != 32:
            raise CorruptRecordError("stored sender signing private key is not 32 bytes")
        return cls(
            key_id=structure.senderKeyId,
            chain_key=SenderChainKey(structure.senderChainKey.iteration, chain_seed),
            signing_public=public,
            signing_private=private,
            skipped_keys={key.iteration: key.seed for key in structure.senderMessageKeys},
        )


class SenderKeyRecord:
    """All sender-key states we hold for one :class:`SenderKeyName`, newest first."""

    __slots__ = ("states",)

    def __init__(self, states: list[SenderKeyState] | None = None) -> None:
        self.states: list[SenderKeyState] = states if states is not None else []

    def __repr__(self) -> str:
        return f"SenderKeyRecord({self.states!r})"

    def is_empty(self) -> bool:
        return not self.states

    def current_state(self) -> SenderKeyState:
        """The newest state: the one we encrypt with (for our own record)."""
        if not self.states:
            raise NoSessionError("no sender key state in the record")
        return self.states[0]

    def state_for(self, key_id: int) -> SenderKeyState:
        for state in self.states:
            if state.key_id == key_id:
                return state
        raise NoSessionError(f"no sender key state with id {key_id}")

    def add_state(
        self, key_id: int, iteration: int, chain_key: bytes, signing_public: bytes
    ) -> None:
        """Add a sender's distributed key (from a SenderKeyDistributionMessage).

        A distribution message we already hold (same id and signing key) keeps the existing
        state, as current libsignal does: re-processing a resent SKDM must not rewind the chain
        and so re-open iterations that were already used. The same id with a different signing
        key replaces the old state.
        """
        signing_public = signing_public_bytes(signing_public)
        if len(chain_key) != 32:
            raise InvalidMessageError("sender chain key is not 32 bytes")
        existing: SenderKeyState | None = None
        remaining: list[SenderKeyState] = []
        for state in self.states:
            if state.key_id != key_id:
                remaining.append(state)
            elif existing is None and state.signing_public == signing_public:
                existing = state
        if existing is None:
            existing = SenderKeyState(
                key_id, SenderChainKey(iteration, chain_key), signing_public=signing_public
            )
        self.states = [existing, *remaining][:MAX_STATES]

    def set_own_state(
        self, key_id: int, iteration: int, chain_key: bytes, signing_key: KeyPair
    ) -> None:
        """Replace everything with a fresh state of our own (we sign with ``signing_key``)."""
        self.states = [
            SenderKeyState(
                key_id,
                SenderChainKey(iteration, chain_key),
                signing_public=with_key_type(signing_key.public),
                signing_private=signing_key.private,
            )
        ]

    def copy(self) -> SenderKeyRecord:
        return SenderKeyRecord([state.copy() for state in self.states])

    def serialize(self) -> bytes:
        """libsignal's ``SenderKeyRecordStructure`` protobuf."""
        structure = storage_pb2.SenderKeyRecordStructure()
        structure.senderKeyStates.extend(state.to_proto() for state in self.states)
        return structure.SerializeToString()

    @classmethod
    def deserialize(cls, data: bytes) -> SenderKeyRecord:
        structure = storage_pb2.SenderKeyRecordStructure()
        try:
            structure.ParseFromString(data)
        except DecodeError as e:
            raise CorruptRecordError(f"corrupt sender key record: {e}") from e
        return cls([SenderKeyState.from_proto(s) for s in structure.senderKeyStates])


def signing_public_bytes(public: bytes) -> bytes:
    """Normalize a signing key to the 33-byte form; a malformed one is an InvalidKeyError."""
    return with_key_type(public_key(public, "sender signing key"))


__all__ = [
    "MAX_FORWARD_JUMP",
    "MAX_MESSAGE_KEYS",
    "MAX_STATES",
    "KeyLookup",
    "SenderChainKey",
    "SenderKeyName",
    "SenderKeyRecord",
    "SenderKeyState",
    "SenderMessageKey",
    "signing_public_bytes",
]
