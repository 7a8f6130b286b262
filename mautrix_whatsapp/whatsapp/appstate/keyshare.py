"""App-state keys: shares from our own devices stored, missing keys requested from our phone.

Our phone sends ``APP_STATE_SYNC_KEY_SHARE`` protocol messages (at linking, and when it makes
a new key, or when we asked). :class:`MessageHandler` only hands us those our own account
sent. A collection that needs a key we lack stays where it is: we send an
``APP_STATE_SYNC_KEY_REQUEST`` (at most once a day per key, as whatsmeow does), and when the
share arrives the collections are fetched again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..proto import wa_e2e_pb2
from ..store import AppStateStore, AppStateSyncKey

if TYPE_CHECKING:
    from ..message_info import MessageInfo

REQUEST_INTERVAL = 24 * 60 * 60.0

SendPeer = Callable[[wa_e2e_pb2.Message], Awaitable[object]]
OnKeys = Callable[[bool], Awaitable[None]]
"""Called after a share was stored, with whether it answered one of our requests."""


def build_key_request(key_ids: list[bytes]) -> wa_e2e_pb2.Message:
    """The peer message asking our phone for ``key_ids``."""
    return wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST,
            appStateSyncKeyRequest=wa_e2e_pb2.AppStateSyncKeyRequest(
                keyIDs=[wa_e2e_pb2.AppStateSyncKeyId(keyID=k) for k in key_ids]
            ),
        )
    )


class KeyShares:
    """Stores shared keys and asks for missing ones."""

    def __init__(
        self, store: AppStateStore, send_peer: SendPeer, on_keys: OnKeys, log: logging.Logger
    ) -> None:
        self.store = store
        self.send_peer = send_peer
        self.on_keys = on_keys
        self.log = log
        self.requested: dict[bytes, float] = {}
        """Key id → when we last asked for it (monotonic seconds)."""

    async def handle_share(self, info: MessageInfo, protocol: wa_e2e_pb2.ProtocolMessage) -> None:
        """Store each key of the share, then let the collections catch up."""
        answered = False
        stored = 0
        for key in protocol.appStateSyncKeyShare.keys:
            key_id = key.keyID.keyID
            data = key.keyData.keyData
            if not key_id or not data:
                self.log.warning("Ignoring app state key without id or data in %s", info.id)
                continue
            answered = answered or self.requested.pop(key_id, None) is not None
            await self.store.put_app_state_sync_key(
                AppStateSyncKey(
                    key_id=key_id,
                    data=data,
                    fingerprint=key.keyData.fingerprint.SerializeToString(),
                    timestamp=key.keyData.timestamp,
                )
            )
            self.log.debug("Stored app state key %s (ts %d)", key_id.hex(), key.keyData.timestamp)
            stored += 1
        if stored:
            await self.on_keys(answered)

    async def request(self, key_ids: list[bytes]) -> list[bytes]:
        """Ask our phone for the keys not asked for in the last day; returns those asked."""
        now = time.monotonic()
        due = [
            k
            for k in key_ids
            if now - self.requested.get(k, -REQUEST_INTERVAL) >= REQUEST_INTERVAL
        ]
        if not due:
            return []
        for key_id in due:
            self.requested[key_id] = now
        self.log.info("Requesting app state keys %s from our phone", [k.hex() for k in due])
        await self.send_peer(build_key_request(due))
        return due
