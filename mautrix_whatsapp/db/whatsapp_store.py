"""SQL implementations of the ``whatsapp.store`` protocols, scoped to one bridge user.

Every row carries ``owner`` (the Matrix user ID), so two users' devices never share keys or
sessions, and deleting a user removes their WhatsApp state with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mautrix.util.async_db import Connection, Database

from ..whatsapp.crypto.keys import KeyPair, strip_key_type
from ..whatsapp.device import DeviceIdentity
from ..whatsapp.signal.address import SignalAddress
from ..whatsapp.signal.keys import PreKeyRecord, SignedPreKeyRecord
from ..whatsapp.store import Direction

_SIGNAL_TABLES = (
    "wa_identity",
    "wa_pre_key",
    "wa_signed_pre_key",
    "wa_session",
    "wa_sender_key",
    "wa_lid_map",
    "wa_sender_key_device",
    "wa_message_secret",
    "wa_app_state_sync_key",
    "wa_app_state_version",
    "wa_app_state_mutation_mac",
)


class SQLDeviceStore:
    """``whatsapp.store.DeviceStore``: the device identity of one user."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner

    async def load_device(self) -> DeviceIdentity | None:
        data = await self.db.fetchval("SELECT data FROM wa_device WHERE owner=$1", self.owner)
        return DeviceIdentity.from_dict(json.loads(data)) if data is not None else None

    async def save_device(self, device: DeviceIdentity) -> None:
        await self.db.execute(
            """INSERT INTO wa_device (owner, jid, data) VALUES ($1, $2, $3)
               ON CONFLICT (owner) DO UPDATE SET jid=excluded.jid, data=excluded.data""",
            self.owner,
            str(device.jid) if device.jid else None,
            json.dumps(device.to_dict()),
        )

    async def delete_device(self) -> None:
        """Forget the device and all Signal state that belonged to it."""
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM wa_device WHERE owner=$1", self.owner)
            for table in _SIGNAL_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE owner=$1", self.owner)


async def delete_signal_state(db: Database, owner: str) -> None:
    """Drop one user's Signal rows (before a fresh device starts linking)."""
    conn: Connection
    async with db.acquire() as conn, conn.transaction():
        for table in _SIGNAL_TABLES:
            await conn.execute(f"DELETE FROM {table} WHERE owner=$1", owner)


class SQLSignalStore:
    """``whatsapp.store.SignalProtocolStore`` plus ``SenderKeyStore`` for one user's device.

    Remote identities are trusted on first use, like the in-memory store.
    """

    def __init__(
        self, db: Database, owner: str, identity_key_pair: KeyPair, registration_id: int
    ) -> None:
        self.db = db
        self.owner = owner
        self.identity_key_pair = identity_key_pair
        self.registration_id = registration_id

    # --- identities ---

    async def get_identity_key_pair(self) -> KeyPair:
        return self.identity_key_pair

    async def get_local_registration_id(self) -> int:
        return self.registration_id

    async def get_identity(self, address: SignalAddress) -> bytes | None:
        value = await self.db.fetchval(
            "SELECT identity FROM wa_identity WHERE owner=$1 AND address=$2",
            self.owner,
            str(address),
        )
        return bytes(value) if value is not None else None

    async def save_identity(self, address: SignalAddress, identity_key: bytes) -> bool:
        key = strip_key_type(identity_key)
        previous = await self.get_identity(address)
        await self.db.execute(
            """INSERT INTO wa_identity (owner, address, identity) VALUES ($1, $2, $3)
               ON CONFLICT (owner, address) DO UPDATE SET identity=excluded.identity""",
            self.owner,
            str(address),
            key,
        )
        return previous is not None and previous != key

    async def is_trusted_identity(
        self, address: SignalAddress, identity_key: bytes, direction: Direction
    ) -> bool:
        known = await self.get_identity(address)
        return known is None or known == strip_key_type(identity_key)

    async def delete_identity(self, address: SignalAddress) -> None:
        await self.db.execute(
            "DELETE FROM wa_identity WHERE owner=$1 AND address=$2", self.owner, str(address)
        )

    async def delete_all_identities(self, name: str) -> None:
        # Addresses are "name:device"; a prefix compare, since LIKE would read "_" as a wildcard.
        await self.db.execute(
            "DELETE FROM wa_identity WHERE owner=$1 AND substr(address, 1, $2) = $3",
            self.owner,
            len(name) + 1,
            f"{name}:",
        )

    # --- pre-keys ---

    async def load_pre_key(self, pre_key_id: int) -> PreKeyRecord | None:
        data = await self.db.fetchval(
            "SELECT record FROM wa_pre_key WHERE owner=$1 AND key_id=$2", self.owner, pre_key_id
        )
        return PreKeyRecord.deserialize(bytes(data)) if data is not None else None

    async def store_pre_key(self, record: PreKeyRecord) -> None:
        await self.store_pre_keys([record])

    async def store_pre_keys(self, records: Sequence[PreKeyRecord]) -> None:
        await self.db.executemany(
            """INSERT INTO wa_pre_key (owner, key_id, record) VALUES ($1, $2, $3)
               ON CONFLICT (owner, key_id) DO UPDATE SET record=excluded.record""",
            [(self.owner, record.key_id, record.serialize()) for record in records],
        )

    async def contains_pre_key(self, pre_key_id: int) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM wa_pre_key WHERE owner=$1 AND key_id=$2", self.owner, pre_key_id
        )
        return found is not None

    async def remove_pre_key(self, pre_key_id: int) -> None:
        await self.db.execute(
            "DELETE FROM wa_pre_key WHERE owner=$1 AND key_id=$2", self.owner, pre_key_id
        )

    # --- signed pre-keys ---

    async def load_signed_pre_key(self, signed_pre_key_id: int) -> SignedPreKeyRecord | None:
        data = await self.db.fetchval(
            "SELECT record FROM wa_signed_pre_key WHERE owner=$1 AND key_id=$2",
            self.owner,
            signed_pre_key_id,
        )
        return SignedPreKeyRecord.deserialize(bytes(data)) if data is not None else None

    async def store_signed_pre_key(self, record: SignedPreKeyRecord) -> None:
        await self.db.execute(
            """INSERT INTO wa_signed_pre_key (owner, key_id, record) VALUES ($1, $2, $3)
               ON CONFLICT (owner, key_id) DO UPDATE SET record=excluded.record""",
            self.owner,
            record.key_id,
            record.serialize(),
        )

    async def contains_signed_pre_key(self, signed_pre_key_id: int) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM wa_signed_pre_key WHERE owner=$1 AND key_id=$2",
            self.owner,
            signed_pre_key_id,
        )
        return found is not None

    async def remove_signed_pre_key(self, signed_pre_key_id: int) -> None:
        await self.db.execute(
            "DELETE FROM wa_signed_pre_key WHERE owner=$1 AND key_id=$2",
            self.owner,
            signed_pre_key_id,
        )

    # --- sessions ---

    async def load_session(self, address: SignalAddress) -> bytes | None:
        data = await self.db.fetchval(
            "SELECT record FROM wa_session WHERE owner=$1 AND name=$2 AND device=$3",
            self.owner,
            address.name,
            address.device,
        )
        return bytes(data) if data is not None else None

    async def store_session(self, address: SignalAddress, record: bytes) -> None:
        await self.db.execute(
            """INSERT INTO wa_session (owner, name, device, record) VALUES ($1, $2, $3, $4)
               ON CONFLICT (owner, name, device) DO UPDATE SET record=excluded.record""",
            self.owner,
            address.name,
            address.device,
            bytes(record),
        )

    async def contains_session(self, address: SignalAddress) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM wa_session WHERE owner=$1 AND name=$2 AND device=$3",
            self.owner,
            address.name,
            address.device,
        )
        return found is not None

    async def delete_session(self, address: SignalAddress) -> None:
        await self.db.execute(
            "DELETE FROM wa_session WHERE owner=$1 AND name=$2 AND device=$3",
            self.owner,
            address.name,
            address.device,
        )

    async def delete_all_sessions(self, name: str) -> None:
        await self.db.execute(
            "DELETE FROM wa_session WHERE owner=$1 AND name=$2", self.owner, name
        )

    # --- sender keys ---

    async def load_sender_key(self, group_id: str, sender: SignalAddress) -> bytes | None:
        data = await self.db.fetchval(
            "SELECT record FROM wa_sender_key WHERE owner=$1 AND group_id=$2 AND sender=$3",
            self.owner,
            group_id,
            str(sender),
        )
        return bytes(data) if data is not None else None

    async def store_sender_key(self, group_id: str, sender: SignalAddress, record: bytes) -> None:
        await self.db.execute(
            """INSERT INTO wa_sender_key (owner, group_id, sender, record) VALUES ($1, $2, $3, $4)
               ON CONFLICT (owner, group_id, sender) DO UPDATE SET record=excluded.record""",
            self.owner,
            group_id,
            str(sender),
            bytes(record),
        )


class SQLMessagingStore:
    """``whatsapp.store.MessagingStore``: LID map, sender-key recipients, message secrets."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner

    # --- LID ↔ phone number ---

    async def put_lid_mappings(self, pairs: Sequence[tuple[str, str]]) -> None:
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            for lid, pn in pairs:
                # A number or LID that moved on: its old pairing goes first.
                await conn.execute(
                    "DELETE FROM wa_lid_map WHERE owner=$1 AND (lid=$2 OR pn=$3)",
                    self.owner,
                    lid,
                    pn,
                )
                await conn.execute(
                    "INSERT INTO wa_lid_map (owner, lid, pn) VALUES ($1, $2, $3)",
                    self.owner,
                    lid,
                    pn,
                )

    async def get_lid_for_pn(self, pn_user: str) -> str | None:
        value = await self.db.fetchval(
            "SELECT lid FROM wa_lid_map WHERE owner=$1 AND pn=$2", self.owner, pn_user
        )
        return str(value) if value is not None else None

    async def get_pn_for_lid(self, lid_user: str) -> str | None:
        value = await self.db.fetchval(
            "SELECT pn FROM wa_lid_map WHERE owner=$1 AND lid=$2", self.owner, lid_user
        )
        return str(value) if value is not None else None

    # --- who has our sender key ---

    async def get_sender_key_devices(self, group_id: str) -> set[str]:
        rows = await self.db.fetch(
            "SELECT device FROM wa_sender_key_device WHERE owner=$1 AND group_id=$2",
            self.owner,
            group_id,
        )
        return {str(row["device"]) for row in rows}

    async def add_sender_key_devices(self, group_id: str, devices: Sequence[str]) -> None:
        await self.db.executemany(
            """INSERT INTO wa_sender_key_device (owner, group_id, device) VALUES ($1, $2, $3)
               ON CONFLICT (owner, group_id, device) DO NOTHING""",
            [(self.owner, group_id, device) for device in devices],
        )

    async def clear_sender_key_devices(self, group_id: str) -> None:
        await self.db.execute(
            "DELETE FROM wa_sender_key_device WHERE owner=$1 AND group_id=$2",
            self.owner,
            group_id,
        )

    # --- message secrets ---

    async def put_message_secret(
        self, chat: str, sender: str, message_id: str, secret: bytes
    ) -> None:
        await self.db.execute(
            """INSERT INTO wa_message_secret (owner, chat, sender, message_id, secret)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (owner, chat, sender, message_id) DO NOTHING""",
            self.owner,
            chat,
            sender,
            message_id,
            bytes(secret),
        )

    async def get_message_secret(self, chat: str, sender: str, message_id: str) -> bytes | None:
        value = await self.db.fetchval(
            """SELECT secret FROM wa_message_secret
               WHERE owner=$1 AND chat=$2 AND sender=$3 AND message_id=$4""",
            self.owner,
            chat,
            sender,
            message_id,
        )
        return bytes(value) if value is not None else None
