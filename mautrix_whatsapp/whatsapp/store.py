"""Async storage interfaces of the WhatsApp client, with in-memory implementations for tests.

The protocol code only talks to these ``typing.Protocol`` interfaces; the bridge provides the SQL
implementation. Session and sender-key records are opaque bytes here (the Signal layer owns
their format), so a store only has to keep blobs by key.

Sections: Signal identities, pre-keys, signed pre-keys, sessions, sender keys; then the in-memory
implementations in the same order; the device identity; message secrets.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .crypto.keys import KeyPair, strip_key_type
from .device import DeviceIdentity
from .signal.address import SignalAddress
from .signal.keys import PreKeyRecord, SignedPreKeyRecord, generate_registration_id

# --------------------------------------------------------------------------------------------
# Signal protocol stores
# --------------------------------------------------------------------------------------------


class Direction(enum.Enum):
    """Whether an identity is checked because we send to it or receive from it."""

    SENDING = 1
    RECEIVING = 2


@runtime_checkable
class IdentityStore(Protocol):
    """Our identity key pair and registration id, and the identity keys of remote devices.

    Identity keys of others are bare 32-byte Curve25519 keys.
    """

    async def get_identity_key_pair(self) -> KeyPair: ...

    async def get_local_registration_id(self) -> int: ...

    async def save_identity(self, address: SignalAddress, identity_key: bytes) -> bool:
        """Remember ``identity_key`` for ``address``; return whether it replaced another key."""
        ...

    async def is_trusted_identity(
        self, address: SignalAddress, identity_key: bytes, direction: Direction
    ) -> bool:
        """Return whether the Signal layer may use ``identity_key`` for ``address``."""
        ...

    async def get_identity(self, address: SignalAddress) -> bytes | None: ...


@runtime_checkable
class PreKeyStore(Protocol):
    """Our one-time pre-keys, by id."""

    async def load_pre_key(self, pre_key_id: int) -> PreKeyRecord | None: ...

    async def store_pre_key(self, record: PreKeyRecord) -> None: ...

    async def store_pre_keys(self, records: Sequence[PreKeyRecord]) -> None:
        """Store a whole batch at once: an upload writes hundreds, in one round trip."""
        ...

    async def contains_pre_key(self, pre_key_id: int) -> bool: ...

    async def remove_pre_key(self, pre_key_id: int) -> None: ...


@runtime_checkable
class SignedPreKeyStore(Protocol):
    """Our signed pre-keys, by id."""

    async def load_signed_pre_key(self, signed_pre_key_id: int) -> SignedPreKeyRecord | None: ...

    async def store_signed_pre_key(self, record: SignedPreKeyRecord) -> None: ...

    async def contains_signed_pre_key(self, signed_pre_key_id: int) -> bool: ...

    async def remove_signed_pre_key(self, signed_pre_key_id: int) -> None: ...


@runtime_checkable
class SessionStore(Protocol):
    """Serialized session records (``signal.session.SessionRecord``), one per remote device."""

    async def load_session(self, address: SignalAddress) -> bytes | None: ...

    async def store_session(self, address: SignalAddress, record: bytes) -> None: ...

    async def contains_session(self, address: SignalAddress) -> bool: ...

    async def delete_session(self, address: SignalAddress) -> None: ...

    async def delete_all_sessions(self, name: str) -> None:
        """Delete the sessions with every device of ``name`` (an address name, e.g. ``123_1``)."""
        ...


@runtime_checkable
class SenderKeyStore(Protocol):
    """Serialized sender-key records, one per (group, sending device)."""

    async def load_sender_key(self, group_id: str, sender: SignalAddress) -> bytes | None: ...

    async def store_sender_key(
        self, group_id: str, sender: SignalAddress, record: bytes
    ) -> None: ...


@runtime_checkable
class SignalProtocolStore(IdentityStore, PreKeyStore, SignedPreKeyStore, SessionStore, Protocol):
    """Everything the 1:1 session builder and cipher need, in one object."""


# --------------------------------------------------------------------------------------------
# In-memory implementations (tests, the simulator's phones)
# --------------------------------------------------------------------------------------------


class MemoryIdentityStore:
    """Trust on first use: a key is trusted unless a different one was saved for the address."""

    def __init__(self, identity_key_pair: KeyPair, registration_id: int) -> None:
        self.identity_key_pair = identity_key_pair
        self.registration_id = registration_id
        self.identities: dict[SignalAddress, bytes] = {}

    async def get_identity_key_pair(self) -> KeyPair:
        return self.identity_key_pair

    async def get_local_registration_id(self) -> int:
        return self.registration_id

    async def save_identity(self, address: SignalAddress, identity_key: bytes) -> bool:
        key = strip_key_type(identity_key)
        previous = self.identities.get(address)
        self.identities[address] = key
        return previous is not None and previous != key

    async def is_trusted_identity(
        self, address: SignalAddress, identity_key: bytes, direction: Direction
    ) -> bool:
        known = self.identities.get(address)
        return known is None or known == strip_key_type(identity_key)

    async def get_identity(self, address: SignalAddress) -> bytes | None:
        return self.identities.get(address)

    async def delete_identity(self, address: SignalAddress) -> None:
        self.identities.pop(address, None)


class MemoryPreKeyStore:
    def __init__(self) -> None:
        self.pre_keys: dict[int, bytes] = {}

    async def load_pre_key(self, pre_key_id: int) -> PreKeyRecord | None:
        data = self.pre_keys.get(pre_key_id)
        return PreKeyRecord.deserialize(data) if data is not None else None

    async def store_pre_key(self, record: PreKeyRecord) -> None:
        self.pre_keys[record.key_id] = record.serialize()

    async def store_pre_keys(self, records: Sequence[PreKeyRecord]) -> None:
        for record in records:
            self.pre_keys[record.key_id] = record.serialize()

    async def contains_pre_key(self, pre_key_id: int) -> bool:
        return pre_key_id in self.pre_keys

    async def remove_pre_key(self, pre_key_id: int) -> None:
        self.pre_keys.pop(pre_key_id, None)


class MemorySignedPreKeyStore:
    def __init__(self) -> None:
        self.signed_pre_keys: dict[int, bytes] = {}

    async def load_signed_pre_key(self, signed_pre_key_id: int) -> SignedPreKeyRecord | None:
        data = self.signed_pre_keys.get(signed_pre_key_id)
        return SignedPreKeyRecord.deserialize(data) if data is not None else None

    async def store_signed_pre_key(self, record: SignedPreKeyRecord) -> None:
        self.signed_pre_keys[record.key_id] = record.serialize()

    async def contains_signed_pre_key(self, signed_pre_key_id: int) -> bool:
        return signed_pre_key_id in self.signed_pre_keys

    async def remove_signed_pre_key(self, signed_pre_key_id: int) -> None:
        self.signed_pre_keys.pop(signed_pre_key_id, None)


class MemorySessionStore:
    """Keeps serialized records, so every load hands out an independent copy (as SQL would)."""

    def __init__(self) -> None:
        self.sessions: dict[SignalAddress, bytes] = {}

    async def load_session(self, address: SignalAddress) -> bytes | None:
        return self.sessions.get(address)

    async def store_session(self, address: SignalAddress, record: bytes) -> None:
        self.sessions[address] = bytes(record)

    async def contains_session(self, address: SignalAddress) -> bool:
        return address in self.sessions

    async def delete_session(self, address: SignalAddress) -> None:
        self.sessions.pop(address, None)

    async def delete_all_sessions(self, name: str) -> None:
        for address in [a for a in self.sessions if a.name == name]:
            del self.sessions[address]


class MemorySenderKeyStore:
    def __init__(self) -> None:
        self.sender_keys: dict[tuple[str, SignalAddress], bytes] = {}

    async def load_sender_key(self, group_id: str, sender: SignalAddress) -> bytes | None:
        return self.sender_keys.get((group_id, sender))

    async def store_sender_key(self, group_id: str, sender: SignalAddress, record: bytes) -> None:
        self.sender_keys[(group_id, sender)] = bytes(record)


class MemorySignalStore(
    MemoryIdentityStore,
    MemoryPreKeyStore,
    MemorySignedPreKeyStore,
    MemorySessionStore,
    MemorySenderKeyStore,
):
    """All Signal stores of one device in memory."""

    def __init__(self, identity_key_pair: KeyPair, registration_id: int) -> None:
        MemoryIdentityStore.__init__(self, identity_key_pair, registration_id)
        MemoryPreKeyStore.__init__(self)
        MemorySignedPreKeyStore.__init__(self)
        MemorySessionStore.__init__(self)
        MemorySenderKeyStore.__init__(self)

    @classmethod
    def generate(cls) -> MemorySignalStore:
        """A fresh device: new identity key pair and registration id."""
        return cls(KeyPair.generate(), generate_registration_id())


# --------------------------------------------------------------------------------------------
# Device identity store (linking; see device.py and pair_flow.py)
# --------------------------------------------------------------------------------------------


@runtime_checkable
class DeviceStore(Protocol):
    """Where one client keeps its :class:`DeviceIdentity` (one device per store object)."""

    async def load_device(self) -> DeviceIdentity | None:
        """The saved identity, or None if there is none (never paired, or deleted)."""
        ...

    async def save_device(self, device: DeviceIdentity) -> None: ...

    async def delete_device(self) -> None:
        """Forget the device (logout, removal); the next load returns None."""
        ...


class MemoryDeviceStore:
    """Keeps the identity as plain data, so loads hand out independent copies (as SQL would)."""

    def __init__(self, device: DeviceIdentity | None = None) -> None:
        self.data: dict[str, object] | None = device.to_dict() if device is not None else None
        self.saves = 0

    async def load_device(self) -> DeviceIdentity | None:
        return DeviceIdentity.from_dict(dict(self.data)) if self.data is not None else None

    async def save_device(self, device: DeviceIdentity) -> None:
        self.data = device.to_dict()
        self.saves += 1

    async def delete_device(self) -> None:
        self.data = None


# --------------------------------------------------------------------------------------------
# Message secrets (poll votes; see msgsecret.py)
# --------------------------------------------------------------------------------------------


@runtime_checkable
class MessageSecretStore(Protocol):
    """``messageContextInfo.messageSecret`` of messages (polls), keyed by chat, sender, id.

    ``chat`` and ``sender`` are non-device JID strings. (client-send's protocol of this name.)
    """

    async def put_message_secret(
        self, chat: str, sender: str, message_id: str, secret: bytes
    ) -> None: ...

    async def get_message_secret(
        self, chat: str, sender: str, message_id: str
    ) -> bytes | None: ...


class MemoryMessageSecretStore:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str, str], bytes] = {}

    async def put_message_secret(
        self, chat: str, sender: str, message_id: str, secret: bytes
    ) -> None:
        self.secrets.setdefault((chat, sender, message_id), bytes(secret))

    async def get_message_secret(self, chat: str, sender: str, message_id: str) -> bytes | None:
        return self.secrets.get((chat, sender, message_id))
