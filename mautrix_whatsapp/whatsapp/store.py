"""Async storage interfaces of the WhatsApp client, with in-memory implementations for tests.

The protocol code only talks to these ``typing.Protocol`` interfaces; the bridge provides the SQL
implementation. Session and sender-key records are opaque bytes here (the Signal layer owns
their format), so a store only has to keep blobs by key.

Sections: Signal identities, pre-keys, signed pre-keys, sessions, sender keys; then the in-memory
implementations in the same order; the device identity; message secrets; app state.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
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

    async def delete_all_identities(self, name: str) -> None:
        """Forget the identity of every device of ``name`` (its identity key changed)."""
        ...


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


@runtime_checkable
class DeviceSignalStore(SignalProtocolStore, SenderKeyStore, Protocol):
    """All Signal state of one device, 1:1 sessions and group sender keys (the client's store)."""


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

    async def delete_all_identities(self, name: str) -> None:
        for address in [a for a in self.identities if a.name == name]:
            del self.identities[address]


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
# Messaging stores: LID ↔ phone number, who has our sender key, message secrets
# --------------------------------------------------------------------------------------------


@runtime_checkable
class LIDStore(Protocol):
    """LID ↔ phone-number mappings, by user (bare user parts: ``123`` for ``123@lid``)."""

    async def put_lid_mappings(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Store ``(lid_user, pn_user)`` pairs; a new pair replaces older ones of either side."""
        ...

    async def get_lid_for_pn(self, pn_user: str) -> str | None: ...

    async def get_pn_for_lid(self, lid_user: str) -> str | None: ...


@runtime_checkable
class SenderKeyDeviceStore(Protocol):
    """Which devices (JID strings) have been sent our current sender key of a group."""

    async def get_sender_key_devices(self, group_id: str) -> set[str]: ...

    async def add_sender_key_devices(self, group_id: str, devices: Sequence[str]) -> None: ...

    async def clear_sender_key_devices(self, group_id: str) -> None:
        """Forget them all (our sender key of the group was rotated)."""
        ...


@runtime_checkable
class MessageSecretStore(Protocol):
    """``messageContextInfo.messageSecret`` of messages (polls), keyed by chat, sender, id.

    ``chat`` and ``sender`` are non-device JID strings.
    """

    async def put_message_secret(
        self, chat: str, sender: str, message_id: str, secret: bytes
    ) -> None: ...

    async def get_message_secret(
        self, chat: str, sender: str, message_id: str
    ) -> bytes | None: ...


@runtime_checkable
class MessagingStore(LIDStore, SenderKeyDeviceStore, MessageSecretStore, Protocol):
    """The three messaging stores in one object (the client takes it as ``messaging_store``)."""


class MemoryMessagingStore:
    """:class:`MessagingStore` in memory."""

    def __init__(self) -> None:
        self.pn_by_lid: dict[str, str] = {}
        self.lid_by_pn: dict[str, str] = {}
        self.sender_key_devices: dict[str, set[str]] = {}
        self.secrets: dict[tuple[str, str, str], bytes] = {}

    async def put_lid_mappings(self, pairs: Sequence[tuple[str, str]]) -> None:
        for lid, pn in pairs:
            old_pn = self.pn_by_lid.pop(lid, None)
            if old_pn is not None:
                self.lid_by_pn.pop(old_pn, None)
            old_lid = self.lid_by_pn.pop(pn, None)
            if old_lid is not None:
                self.pn_by_lid.pop(old_lid, None)
            self.pn_by_lid[lid] = pn
            self.lid_by_pn[pn] = lid

    async def get_lid_for_pn(self, pn_user: str) -> str | None:
        return self.lid_by_pn.get(pn_user)

    async def get_pn_for_lid(self, lid_user: str) -> str | None:
        return self.pn_by_lid.get(lid_user)

    async def get_sender_key_devices(self, group_id: str) -> set[str]:
        return set(self.sender_key_devices.get(group_id, ()))

    async def add_sender_key_devices(self, group_id: str, devices: Sequence[str]) -> None:
        self.sender_key_devices.setdefault(group_id, set()).update(devices)

    async def clear_sender_key_devices(self, group_id: str) -> None:
        self.sender_key_devices.pop(group_id, None)

    async def put_message_secret(
        self, chat: str, sender: str, message_id: str, secret: bytes
    ) -> None:
        # The first secret stays: a redelivered or forged copy must not replace it.
        self.secrets.setdefault((chat, sender, message_id), bytes(secret))

    async def get_message_secret(self, chat: str, sender: str, message_id: str) -> bytes | None:
        return self.secrets.get((chat, sender, message_id))


# --------------------------------------------------------------------------------------------
# App state: sync keys shared by our phone, and each collection's version, hash and value MACs
# --------------------------------------------------------------------------------------------

EMPTY_APP_STATE_HASH = bytes(128)


@dataclass(frozen=True, repr=False)
class AppStateSyncKey:
    """An app-state key from an ``AppStateSyncKeyShare`` (``data`` is secret: no repr)."""

    key_id: bytes
    data: bytes
    fingerprint: bytes
    """The serialized ``AppStateSyncKeyFingerprint`` (kept as the phone sent it)."""
    timestamp: int
    """Milliseconds since the epoch, as the phone stamped the key; the newest one is ours."""

    def __repr__(self) -> str:
        return f"AppStateSyncKey(key_id={self.key_id.hex()}, timestamp={self.timestamp})"


@runtime_checkable
class AppStateStore(Protocol):
    """App-state keys, and per collection: version, LTHash and value MAC by index MAC."""

    async def put_app_state_sync_key(self, key: AppStateSyncKey) -> None:
        """Store (or replace) a key by its id."""
        ...

    async def get_app_state_sync_key(self, key_id: bytes) -> AppStateSyncKey | None: ...

    async def get_latest_app_state_sync_key_id(self) -> bytes | None:
        """The id of the key with the newest timestamp (the one our own patches use)."""
        ...

    async def get_app_state_version(self, name: str) -> tuple[int, bytes]:
        """``(version, hash)`` of a collection; ``(0, EMPTY_APP_STATE_HASH)`` if never synced."""
        ...

    async def put_app_state_update(
        self,
        name: str,
        version: int,
        lt_hash: bytes,
        removed: Sequence[bytes],
        added: Sequence[tuple[bytes, bytes]],
    ) -> None:
        """Apply one decoded patch or snapshot atomically: the new version and hash, the
        ``removed`` index MACs dropped, the ``added`` ``(index MAC, value MAC)`` pairs set."""
        ...

    async def delete_app_state_version(self, name: str) -> None:
        """Forget a collection (version, hash and all its MACs) before a full resync."""
        ...

    async def get_app_state_mutation_mac(self, name: str, index_mac: bytes) -> bytes | None:
        """The value MAC currently set at ``index_mac`` in the collection, if any."""
        ...


class MemoryAppStateStore:
    """:class:`AppStateStore` in memory."""

    def __init__(self) -> None:
        self.keys: dict[bytes, AppStateSyncKey] = {}
        self.versions: dict[str, tuple[int, bytes]] = {}
        self.macs: dict[str, dict[bytes, bytes]] = {}

    async def put_app_state_sync_key(self, key: AppStateSyncKey) -> None:
        self.keys[bytes(key.key_id)] = key

    async def get_app_state_sync_key(self, key_id: bytes) -> AppStateSyncKey | None:
        return self.keys.get(bytes(key_id))

    async def get_latest_app_state_sync_key_id(self) -> bytes | None:
        if not self.keys:
            return None
        return max(self.keys.values(), key=lambda k: (k.timestamp, k.key_id)).key_id

    async def get_app_state_version(self, name: str) -> tuple[int, bytes]:
        return self.versions.get(name, (0, EMPTY_APP_STATE_HASH))

    async def put_app_state_update(
        self,
        name: str,
        version: int,
        lt_hash: bytes,
        removed: Sequence[bytes],
        added: Sequence[tuple[bytes, bytes]],
    ) -> None:
        self.versions[name] = (version, bytes(lt_hash))
        macs = self.macs.setdefault(name, {})
        for index_mac in removed:
            macs.pop(bytes(index_mac), None)
        for index_mac, value_mac in added:
            macs[bytes(index_mac)] = bytes(value_mac)

    async def delete_app_state_version(self, name: str) -> None:
        self.versions.pop(name, None)
        self.macs.pop(name, None)

    async def get_app_state_mutation_mac(self, name: str, index_mac: bytes) -> bytes | None:
        return self.macs.get(name, {}).get(bytes(index_mac))
