"""An encrypting Matrix client for the end-to-bridge encryption tests: a second device of a test
user, on mautrix's own client crypto (``OlmMachine`` with in-memory stores), as the issue asks.

It uploads its device keys, syncs in the background (to-device room keys, device lists), keeps
every ``m.room.message`` it decrypts per room, and encrypts what it sends to encrypted rooms.
The plain :class:`~tests.e2e.matrix_client.MatrixTestUser` of the same account keeps seeing
the raw ``m.room.encrypted`` events, which is how the tests show the room really is encrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from mautrix.client import Client
from mautrix.client.state_store import MemoryStateStore
from mautrix.crypto import OlmMachine
from mautrix.crypto.attachments import encrypt_attachment
from mautrix.crypto.store import MemoryCryptoStore, StateStore
from mautrix.types import (
    DeviceID,
    Event,
    EventID,
    EventType,
    Membership,
    MessageEvent,
    RoomID,
    UserID,
)

from tests.e2e.matrix_client import MatrixTestUser

Decrypted = dict[str, Any]


class _StateStore(MemoryStateStore, StateStore):  # type: ignore[misc]
    """mautrix's in-memory client state store, plus the one query its crypto also needs."""

    async def find_shared_rooms(self, user_id: UserID) -> list[RoomID]:
        return [room for room, members in self.members.items() if user_id in members]


class CryptoClient:
    """A test user's encrypting device. ``async with CryptoClient(user) as device: ...``"""

    def __init__(self, user: MatrixTestUser) -> None:
        if user.device_id is None:
            raise ValueError(f"{user.user_id} has no device to encrypt with")
        self.user_id = UserID(user.user_id)
        self.device_id = DeviceID(user.device_id)
        self.state_store = _StateStore()
        self.crypto_store = MemoryCryptoStore(user.user_id, "test pickle key")
        self.client = Client(
            mxid=self.user_id,
            device_id=self.device_id,
            base_url=user.base_url,
            token=user.access_token,
            state_store=self.state_store,
            sync_store=self.crypto_store,
        )
        self.machine = OlmMachine(self.client, self.crypto_store, self.state_store)
        self.client.crypto = self.machine
        self._messages: dict[str, list[Decrypted]] = {}
        self._returned: set[str] = set()
        self._arrived = asyncio.Condition()
        self.client.add_event_handler(EventType.ROOM_MESSAGE, self._keep)

    async def __aenter__(self) -> CryptoClient:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Create the Olm account, upload its keys and start syncing."""
        await self.crypto_store.put_device_id(self.device_id)
        await self.machine.load()
        await self.machine.share_keys()
        self.client.start(None)

    async def stop(self) -> None:
        self.client.stop()
        await self.client.api.session.close()

    async def _keep(self, evt: Event) -> None:
        if not isinstance(evt, MessageEvent):
            return
        data: Decrypted = evt.serialize()
        data["was_encrypted"] = bool((evt.get("mautrix") or {}).get("was_encrypted"))
        async with self._arrived:
            self._messages.setdefault(str(evt.room_id), []).append(data)
            self._arrived.notify_all()

    async def wait_for_message(
        self, room_id: str, predicate: Any, timeout: float = 30.0
    ) -> Decrypted:
        """The first kept (decrypted or plain) message in ``room_id`` that matches and that no
        earlier wait returned."""
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                for message in self._messages.get(room_id, []):
                    if message["event_id"] not in self._returned and predicate(message):
                        self._returned.add(message["event_id"])
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [
                        m.get("content", {}).get("body") for m in self._messages.get(room_id, [])
                    ]
                    raise TimeoutError(f"no matching message in {room_id}; seen {seen}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)

    async def wait_until_encrypted(self, room_id: str, timeout: float = 30.0) -> None:
        """Until this device's sync has seen the room's ``m.room.encryption``."""
        deadline = time.monotonic() + timeout
        while not await self.state_store.is_encrypted(RoomID(room_id)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{room_id} never looked encrypted to {self.user_id}")
            await asyncio.sleep(0.2)

    async def wait_until_joined(self, room_id: str, user_id: str, timeout: float = 30.0) -> None:
        """Until this device's sync has seen ``user_id`` join: a room key is shared only with
        the members this device knows of, so sending before that leaves them unable to read."""
        deadline = time.monotonic() + timeout
        room, user = RoomID(room_id), UserID(user_id)
        while await self.state_store.get_membership(room, user) != Membership.JOIN:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.user_id} never saw {user_id} join {room_id}")
            await asyncio.sleep(0.2)

    async def send(self, room_id: str, content: dict[str, Any]) -> EventID:
        """Send an ``m.room.message``, encrypted (the room must be known to be encrypted)."""
        if not await self.state_store.is_encrypted(RoomID(room_id)):
            raise AssertionError(f"{room_id} is not encrypted; refusing to send in the clear")
        return await self.client.send_message_event(
            RoomID(room_id),
            EventType.ROOM_MESSAGE,
            content,  # type: ignore[arg-type]  # JSON as is
        )

    async def send_text(self, room_id: str, body: str) -> EventID:
        return await self.send(room_id, {"msgtype": "m.text", "body": body})

    async def upload_encrypted(self, data: bytes) -> dict[str, Any]:
        """Encrypt and upload ``data``: the ``file`` object an encrypted room's event carries."""
        ciphertext, file = encrypt_attachment(data)
        file.url = await self.client.upload_media(ciphertext, mime_type="application/octet-stream")
        result: dict[str, Any] = file.serialize()
        return result

    async def download_decrypted(self, file: dict[str, Any]) -> bytes:
        """Download an encrypted ``file`` and decrypt it, checking its hash."""
        from mautrix.crypto.attachments import decrypt_attachment

        ciphertext = await self.client.download_media(file["url"])
        return decrypt_attachment(
            ciphertext, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
        )
