"""The phone's app-state sync keys, and how its companions get them.

Every account's phone has sync keys (key id, 32 bytes of key data, a fingerprint and a
timestamp); its patches are encrypted with the latest. Right after a companion's first login the
phone shares all of them in a peer ``protocolMessage`` ``APP_STATE_SYNC_KEY_SHARE`` (whatsmeow
``handleAppStateSyncKeyShare``, Baileys ``process-message``), before the history sync, as Baileys
only syncs app state once it has a key. A companion missing a key asks for it with
``APP_STATE_SYNC_KEY_REQUEST`` (``keyIDs``); the phone answers with a share of the keys it knows
(unknown ids are left out; nothing is sent if it knows none of them).

The admin switch ``withhold`` (one account; ``share_keys_at_login`` for all) keeps the
phone from sharing at login, so tests can prove that a companion requests the keys it lacks;
``rotate`` makes a new key that is then the latest.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

from .accounts import Account, LinkedDevice
from .connection import Connection
from .phone_hooks import own_device_hooks
from .phone_send import send_peer
from .state import ServerState

log = logging.getLogger("simulator.app_state_keys")

ProtocolType = wa_e2e_pb2.ProtocolMessage


@dataclass
class SyncKey:
    key_id: bytes
    key_data: bytes
    fingerprint: wa_e2e_pb2.AppStateSyncKeyFingerprint
    timestamp: int
    """Milliseconds since the epoch."""

    def to_proto(self) -> wa_e2e_pb2.AppStateSyncKey:
        key = wa_e2e_pb2.AppStateSyncKey()
        key.keyID.keyID = self.key_id
        key.keyData.keyData = self.key_data
        key.keyData.fingerprint.CopyFrom(self.fingerprint)
        key.keyData.timestamp = self.timestamp
        return key


@dataclass
class PhoneKeys:
    """One account's keys and what its companions were given or asked for."""

    keys: list[SyncKey] = field(default_factory=list)
    """Oldest first; the last one encrypts new patches."""
    shared_with: set[int] = field(default_factory=set)
    """Companions (device ids) that were sent the keys at their first login."""
    withhold: bool = False
    requests: list[dict[str, object]] = field(default_factory=list)
    """Key requests received: ``{"device", "key_ids": [hex], "answered": [hex]}``."""

    def new_key(self, account: Account) -> SyncKey:
        fingerprint = wa_e2e_pb2.AppStateSyncKeyFingerprint(
            rawID=int.from_bytes(os.urandom(4), "big"),
            currentIndex=len(self.keys),
            deviceIndexes=[0, *sorted(account.devices)],
        )
        key = SyncKey(
            # WhatsApp's key ids are 6 bytes: a zero prefix and a counter-like suffix.
            b"\x00\x00" + os.urandom(4),
            os.urandom(32),
            fingerprint,
            int(time.time() * 1000),
        )
        self.keys.append(key)
        return key

    def latest(self, account: Account) -> SyncKey:
        return self.keys[-1] if self.keys else self.new_key(account)

    def find(self, key_id: bytes) -> SyncKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)


class KeyRing:
    def __init__(self) -> None:
        self._by_phone: dict[str, PhoneKeys] = {}
        self.share_at_login = True
        """False: no phone shares its keys at login (admin ``share_keys_at_login``), so a
        fresh companion hears nothing from its phone until the phone does something."""

    def of(self, account: Account) -> PhoneKeys:
        keys = self._by_phone.get(account.phone)
        if keys is None:
            keys = self._by_phone[account.phone] = PhoneKeys()
        return keys


def get_key_ring(state: ServerState) -> KeyRing:
    ring = state.extra.get("app_state_keys")
    if not isinstance(ring, KeyRing):
        ring = state.extra["app_state_keys"] = KeyRing()
    return ring


def share_message(keys: list[SyncKey]) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    protocol = message.protocolMessage
    protocol.type = ProtocolType.APP_STATE_SYNC_KEY_SHARE
    protocol.appStateSyncKeyShare.keys.extend(key.to_proto() for key in keys)
    return message


async def share_keys(
    state: ServerState, account: Account, device: int, keys: list[SyncKey] | None = None
) -> str | None:
    """Send ``keys`` (default: all of the phone's) to a companion; the message id, or None."""
    phone_keys = get_key_ring(state).of(account)
    if keys is None:
        phone_keys.latest(account)
        keys = list(phone_keys.keys)
    return await send_peer(state, account, device, share_message(keys))


async def answer_key_request(
    state: ServerState, account: Account, device: int, message: wa_e2e_pb2.Message
) -> None:
    protocol = message.protocolMessage
    if protocol.type != ProtocolType.APP_STATE_SYNC_KEY_REQUEST:
        return
    phone_keys = get_key_ring(state).of(account)
    wanted = [key_id.keyID for key_id in protocol.appStateSyncKeyRequest.keyIDs]
    found = [key for key in map(phone_keys.find, wanted) if key is not None]
    phone_keys.requests.append(
        {
            "device": device,
            "key_ids": [key_id.hex() for key_id in wanted],
            "answered": [key.key_id.hex() for key in found],
        }
    )
    log.info("%s device %d asked for %d app-state keys", account.phone, device, len(wanted))
    if found:
        await share_keys(state, account, device, found)


def install(state: ServerState) -> None:
    """Share keys after each companion's first login (wraps the login handler: install before
    the history sync so the keys come first), and answer key requests."""

    login = state.login_handler
    if login is None:
        raise RuntimeError("app_state_keys must be installed after login")

    async def login_then_share(conn: Connection, payload: ClientPayload) -> None:
        await login(conn, payload)
        account = conn.extra.get("account")
        device = conn.extra.get("linked_device")
        if not isinstance(account, Account) or not isinstance(device, LinkedDevice):
            return
        ring = get_key_ring(state)
        phone_keys = ring.of(account)
        if conn.closed.is_set() or device.device_id in phone_keys.shared_with:
            return
        if phone_keys.withhold or not ring.share_at_login:
            log.info("%r: withholding app-state keys", conn)
            return
        if await share_keys(state, account, device.device_id) is not None:
            phone_keys.shared_with.add(device.device_id)

    state.login_handler = login_then_share
    own_device_hooks(state).append(answer_key_request)
