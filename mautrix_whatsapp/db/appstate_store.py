"""``whatsapp.store.AppStateStore`` in SQL, scoped to one bridge user (tables of upgrade v4).

The rows go with the device: ``SQLDeviceStore.delete_device`` and ``delete_signal_state``
drop them too (they are listed with the Signal tables in :mod:`.whatsapp_store`).
"""

from __future__ import annotations

from collections.abc import Sequence

from mautrix.util.async_db import Connection, Database

from ..whatsapp.store import EMPTY_APP_STATE_HASH, AppStateSyncKey


class SQLAppStateStore:
    """App-state keys, and per collection its version, LTHash and value MACs."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner

    async def put_app_state_sync_key(self, key: AppStateSyncKey) -> None:
        await self.db.execute(
            """INSERT INTO wa_app_state_sync_key (owner, key_id, key_data, fingerprint, timestamp)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (owner, key_id) DO UPDATE SET key_data=excluded.key_data,
                   fingerprint=excluded.fingerprint, timestamp=excluded.timestamp""",
            self.owner,
            bytes(key.key_id),
            bytes(key.data),
            bytes(key.fingerprint),
            key.timestamp,
        )

    async def get_app_state_sync_key(self, key_id: bytes) -> AppStateSyncKey | None:
        row = await self.db.fetchrow(
            """SELECT key_data, fingerprint, timestamp FROM wa_app_state_sync_key
               WHERE owner=$1 AND key_id=$2""",
            self.owner,
            bytes(key_id),
        )
        if row is None:
            return None
        return AppStateSyncKey(
            bytes(key_id), bytes(row["key_data"]), bytes(row["fingerprint"]), row["timestamp"]
        )

    async def get_latest_app_state_sync_key_id(self) -> bytes | None:
        value = await self.db.fetchval(
            """SELECT key_id FROM wa_app_state_sync_key WHERE owner=$1
               ORDER BY timestamp DESC, key_id DESC LIMIT 1""",
            self.owner,
        )
        return bytes(value) if value is not None else None

    async def get_app_state_version(self, name: str) -> tuple[int, bytes]:
        row = await self.db.fetchrow(
            "SELECT version, hash FROM wa_app_state_version WHERE owner=$1 AND name=$2",
            self.owner,
            name,
        )
        if row is None:
            return 0, EMPTY_APP_STATE_HASH
        return int(row["version"]), bytes(row["hash"])

    async def put_app_state_update(
        self,
        name: str,
        version: int,
        lt_hash: bytes,
        removed: Sequence[bytes],
        added: Sequence[tuple[bytes, bytes]],
    ) -> None:
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO wa_app_state_version (owner, name, version, hash)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (owner, name) DO UPDATE
                   SET version=excluded.version, hash=excluded.hash""",
                self.owner,
                name,
                version,
                bytes(lt_hash),
            )
            if removed:
                await conn.executemany(
                    """DELETE FROM wa_app_state_mutation_mac
                       WHERE owner=$1 AND name=$2 AND index_mac=$3""",
                    [(self.owner, name, bytes(idx)) for idx in removed],
                )
            if added:
                await conn.executemany(
                    """INSERT INTO wa_app_state_mutation_mac
                       (owner, name, version, index_mac, value_mac) VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (owner, name, index_mac) DO UPDATE
                       SET version=excluded.version, value_mac=excluded.value_mac""",
                    [(self.owner, name, version, bytes(i), bytes(v)) for i, v in added],
                )

    async def delete_app_state_version(self, name: str) -> None:
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            for table in ("wa_app_state_version", "wa_app_state_mutation_mac"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE owner=$1 AND name=$2", self.owner, name
                )

    async def get_app_state_mutation_mac(self, name: str, index_mac: bytes) -> bytes | None:
        value = await self.db.fetchval(
            """SELECT value_mac FROM wa_app_state_mutation_mac
               WHERE owner=$1 AND name=$2 AND index_mac=$3""",
            self.owner,
            name,
            bytes(index_mac),
        )
        return bytes(value) if value is not None else None
