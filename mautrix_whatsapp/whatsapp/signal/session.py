"""Session state and session records (the current session plus archived ones).

A :class:`SessionState` wraps the ``SessionStructure`` protobuf it is stored as, so cloning and
serializing are cheap. A :class:`SessionRecord` holds all states with one remote device: the
current one (used to send) and up to :data:`ARCHIVED_STATES_MAX` previous ones, newest first,
which still decrypt late messages. libsignal-node keeps the same set as a dict keyed by base key
with "closed" timestamps; the behaviour is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto.keys import KeyPair, strip_key_type, with_key_type
from .errors import CorruptRecordError, SignalError
from .messages import CURRENT_VERSION, parse_proto
from .proto.storage_pb2 import RecordStructure, SessionStructure
from .ratchet import ChainKey, MessageKeys

ARCHIVED_STATES_MAX = 40
MAX_RECEIVER_CHAINS = 5
"""Receiving chains kept per session (older chains' skipped keys are dropped), as libsignal."""
MAX_MESSAGE_KEYS = 2000
"""Skipped message keys kept per receiving chain, oldest dropped first."""


def _stored_key(data: bytes, what: str) -> bytes:
    """A public key read back from the store; damaged data is a typed error, not a ValueError.

    Keys are checked where they are used rather than on every load, which would cost a pass over
    every archived state and skipped key for each message.
    """
    try:
        return strip_key_type(data)
    except ValueError:
        raise CorruptRecordError(f"stored {what} is not a Curve25519 key") from None


def _stored_bytes(data: bytes, size: int, what: str) -> bytes:
    if len(data) != size:
        raise CorruptRecordError(f"stored {what} is {len(data)} bytes, not {size}")
    return data


@dataclass(frozen=True, slots=True)
class PendingPreKey:
    """What the initiator repeats in every message until the peer answers."""

    pre_key_id: int | None
    signed_pre_key_id: int
    base_key: bytes


class SessionState:
    """One double-ratchet session. Public keys are accepted and returned bare (32 bytes)."""

    __slots__ = ("structure",)

    def __init__(self, structure: SessionStructure | None = None) -> None:
        self.structure = structure if structure is not None else SessionStructure()

    def clone(self) -> SessionState:
        copy = SessionStructure()
        copy.CopyFrom(self.structure)
        return SessionState(copy)

    # Identity and bookkeeping

    @property
    def version(self) -> int:
        return self.structure.sessionVersion or 2

    @property
    def local_identity_key(self) -> bytes:
        return _stored_key(self.structure.localIdentityPublic, "local identity key")

    @property
    def remote_identity_key(self) -> bytes:
        return _stored_key(self.structure.remoteIdentityPublic, "remote identity key")

    @property
    def base_key(self) -> bytes:
        return _stored_key(self.structure.aliceBaseKey, "base key")

    @property
    def local_registration_id(self) -> int:
        return self.structure.localRegistrationId

    @property
    def remote_registration_id(self) -> int:
        return self.structure.remoteRegistrationId

    def set_identities(
        self,
        local: bytes,
        remote: bytes,
        base_key: bytes,
        local_registration_id: int,
        remote_registration_id: int,
    ) -> None:
        s = self.structure
        s.sessionVersion = CURRENT_VERSION
        s.localIdentityPublic = with_key_type(local)
        s.remoteIdentityPublic = with_key_type(remote)
        s.aliceBaseKey = with_key_type(base_key)
        s.localRegistrationId = local_registration_id
        s.remoteRegistrationId = remote_registration_id

    # Root key

    @property
    def root_key(self) -> bytes:
        return self.structure.rootKey

    @root_key.setter
    def root_key(self, value: bytes) -> None:
        self.structure.rootKey = value

    @property
    def previous_counter(self) -> int:
        return self.structure.previousCounter

    @previous_counter.setter
    def previous_counter(self, value: int) -> None:
        self.structure.previousCounter = value

    # Sending chain

    def has_sender_chain(self) -> bool:
        return self.structure.HasField("senderChain")

    @property
    def sender_ratchet_key_pair(self) -> KeyPair:
        chain = self.structure.senderChain
        return KeyPair(
            _stored_bytes(chain.senderRatchetKeyPrivate, 32, "ratchet private key"),
            _stored_key(chain.senderRatchetKey, "ratchet key"),
        )

    @property
    def sender_chain_key(self) -> ChainKey:
        ck = self.structure.senderChain.chainKey
        return ChainKey(ck.key, ck.index)

    @sender_chain_key.setter
    def sender_chain_key(self, value: ChainKey) -> None:
        ck = self.structure.senderChain.chainKey
        ck.key = value.key
        ck.index = value.index

    def set_sender_chain(self, ratchet: KeyPair, chain_key: ChainKey) -> None:
        chain = self.structure.senderChain
        chain.Clear()
        chain.senderRatchetKey = with_key_type(ratchet.public)
        chain.senderRatchetKeyPrivate = ratchet.private
        chain.chainKey.key = chain_key.key
        chain.chainKey.index = chain_key.index

    # Receiving chains

    def _receiver_chain(self, their_ratchet_key: bytes) -> SessionStructure.Chain | None:
        wanted = with_key_type(their_ratchet_key)
        for chain in self.structure.receiverChains:
            if chain.senderRatchetKey == wanted:
                return chain
        return None

    def has_receiver_chain(self, their_ratchet_key: bytes) -> bool:
        return self._receiver_chain(their_ratchet_key) is not None

    def receiver_chain_key(self, their_ratchet_key: bytes) -> ChainKey | None:
        chain = self._receiver_chain(their_ratchet_key)
        return ChainKey(chain.chainKey.key, chain.chainKey.index) if chain is not None else None

    def add_receiver_chain(self, their_ratchet_key: bytes, chain_key: ChainKey) -> None:
        chains = self.structure.receiverChains
        chain = chains.add()
        chain.senderRatchetKey = with_key_type(their_ratchet_key)
        chain.chainKey.key = chain_key.key
        chain.chainKey.index = chain_key.index
        if len(chains) > MAX_RECEIVER_CHAINS:
            del chains[0]

    def set_receiver_chain_key(self, their_ratchet_key: bytes, chain_key: ChainKey) -> None:
        chain = self._receiver_chain(their_ratchet_key)
        if chain is None:
            raise SignalError("no receiving chain for that ratchet key")
        chain.chainKey.key = chain_key.key
        chain.chainKey.index = chain_key.index

    def pop_message_keys(self, their_ratchet_key: bytes, counter: int) -> MessageKeys | None:
        """Take the stored skipped keys for ``counter`` (each key is usable once)."""
        chain = self._receiver_chain(their_ratchet_key)
        if chain is None:
            return None
        for i, mk in enumerate(chain.messageKeys):
            if mk.index == counter:
                keys = MessageKeys(
                    _stored_bytes(mk.cipherKey, 32, "message cipher key"),
                    _stored_bytes(mk.macKey, 32, "message MAC key"),
                    _stored_bytes(mk.iv, 16, "message IV"),
                    mk.index,
                )
                del chain.messageKeys[i]
                return keys
        return None

    def add_message_keys(self, their_ratchet_key: bytes, keys: MessageKeys) -> None:
        chain = self._receiver_chain(their_ratchet_key)
        if chain is None:
            raise SignalError("no receiving chain for that ratchet key")
        chain.messageKeys.add(
            index=keys.counter, cipherKey=keys.cipher_key, macKey=keys.mac_key, iv=keys.iv
        )
        if len(chain.messageKeys) > MAX_MESSAGE_KEYS:
            del chain.messageKeys[0]

    # Pending pre-key

    @property
    def pending_pre_key(self) -> PendingPreKey | None:
        if not self.structure.HasField("pendingPreKey"):
            return None
        p = self.structure.pendingPreKey
        return PendingPreKey(
            p.preKeyId if p.HasField("preKeyId") else None,
            p.signedPreKeyId,
            _stored_key(p.baseKey, "pending base key"),
        )

    def set_pending_pre_key(self, pending: PendingPreKey) -> None:
        p = self.structure.pendingPreKey
        p.Clear()
        if pending.pre_key_id is not None:
            p.preKeyId = pending.pre_key_id
        p.signedPreKeyId = pending.signed_pre_key_id
        p.baseKey = with_key_type(pending.base_key)

    def clear_pending_pre_key(self) -> None:
        self.structure.ClearField("pendingPreKey")


class SessionRecord:
    """All sessions with one device: ``current`` and archived ``previous`` (newest first)."""

    __slots__ = ("current", "previous")

    def __init__(
        self, current: SessionState | None = None, previous: list[SessionState] | None = None
    ) -> None:
        self.current = current
        self.previous = previous if previous is not None else []

    @classmethod
    def deserialize(cls, data: bytes) -> SessionRecord:
        try:
            proto = parse_proto(RecordStructure(), data, "session record")
        except SignalError:
            raise CorruptRecordError("corrupt session record") from None
        current = SessionState(proto.currentSession) if proto.HasField("currentSession") else None
        return cls(current, [SessionState(s) for s in proto.previousSessions])

    def serialize(self) -> bytes:
        proto = RecordStructure()
        if self.current is not None:
            proto.currentSession.CopyFrom(self.current.structure)
        for state in self.previous[:ARCHIVED_STATES_MAX]:
            proto.previousSessions.add().CopyFrom(state.structure)
        return proto.SerializeToString()

    @property
    def is_fresh(self) -> bool:
        return self.current is None

    def states(self) -> list[SessionState]:
        """The current state first, then the archived ones, newest first."""
        return ([self.current] if self.current is not None else []) + self.previous

    def find_state(self, base_key: bytes) -> SessionState | None:
        """The state (current or archived) created with the X3DH ``base_key``."""
        wanted = with_key_type(base_key)
        for state in self.states():
            if state.structure.aliceBaseKey == wanted and state.version == CURRENT_VERSION:
                return state
        return None

    def archive_current_state(self) -> None:
        if self.current is not None:
            self.previous.insert(0, self.current)
            self.current = None
            del self.previous[ARCHIVED_STATES_MAX:]

    def promote_state(self, state: SessionState) -> None:
        """Make ``state`` current, archiving the one it replaces."""
        self.archive_current_state()
        self.current = state

    def replace_state(self, old: SessionState, new: SessionState) -> None:
        """Put ``new`` where ``old`` was (an archived state moves to the front: most recent)."""
        if self.current is old:
            self.current = new
            return
        self.previous = [new] + [s for s in self.previous if s is not old]
