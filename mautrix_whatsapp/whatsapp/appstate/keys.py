"""Collection names, well-known indexes, and the expansion of app-state keys.

Every app-state key our phone shares (``AppStateSyncKeyShare``) is 32 bytes of key data that
HKDF-SHA256 ("WhatsApp Mutation Keys") expands into five 32-byte keys: index MAC, value
encryption, value MAC, snapshot MAC and patch MAC. whatsmeow ``appstate/keys.go``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..crypto.hkdf import hkdf_sha256
from ..store import AppStateStore
from .errors import KeyNotFoundError


class PatchName(StrEnum):
    """The app-state collections (the server's ``<collection name>``)."""

    CRITICAL_BLOCK = "critical_block"
    """Settings: push name, locale."""
    CRITICAL_UNBLOCK_LOW = "critical_unblock_low"
    """The address book: contact and LID-contact names."""
    REGULAR_LOW = "regular_low"
    """Pin, archive, mark read/unread and a few settings."""
    REGULAR_HIGH = "regular_high"
    """Mute, star, delete chat, clear chat, delete message for me."""
    REGULAR = "regular"
    """Labels, key expiration and other protocol info."""


ALL_PATCH_NAMES = (
    PatchName.CRITICAL_BLOCK,
    PatchName.CRITICAL_UNBLOCK_LOW,
    PatchName.REGULAR_HIGH,
    PatchName.REGULAR,
    PatchName.REGULAR_LOW,
)

# The first element of a mutation's index says what it is about.
INDEX_CONTACT = "contact"
INDEX_LID_CONTACT = "lid_contact"
INDEX_SETTING_PUSH_NAME = "setting_pushName"
INDEX_SETTING_LOCALE = "setting_locale"
INDEX_PIN = "pin_v1"
INDEX_ARCHIVE = "archive"
INDEX_MARK_CHAT_AS_READ = "markChatAsRead"
INDEX_MUTE = "mute"
INDEX_STAR = "star"
INDEX_DELETE_CHAT = "deleteChat"
INDEX_CLEAR_CHAT = "clearChat"
INDEX_DELETE_MESSAGE_FOR_ME = "deleteMessageForMe"

MUTATION_KEYS_INFO = b"WhatsApp Mutation Keys"


@dataclass(frozen=True, repr=False)
class ExpandedKeys:
    """The five keys one app-state key expands into (never logged: repr hides them)."""

    index: bytes
    value_encryption: bytes
    value_mac: bytes
    snapshot_mac: bytes
    patch_mac: bytes

    def __repr__(self) -> str:
        return "ExpandedKeys(<hidden>)"


def expand_keys(key_data: bytes) -> ExpandedKeys:
    out = hkdf_sha256(key_data, b"", MUTATION_KEYS_INFO, 160)
    return ExpandedKeys(out[0:32], out[32:64], out[64:96], out[96:128], out[128:160])


class KeyCache:
    """Expanded keys by key id, loaded from the store once each."""

    def __init__(self, store: AppStateStore) -> None:
        self.store = store
        self._cache: dict[bytes, ExpandedKeys] = {}

    async def get(self, key_id: bytes) -> ExpandedKeys:
        """The keys of ``key_id``; raises :class:`KeyNotFoundError` if it was never shared."""
        keys = self._cache.get(key_id)
        if keys is None:
            key = await self.store.get_app_state_sync_key(key_id)
            if key is None:
                raise KeyNotFoundError(key_id)
            keys = self._cache[key_id] = expand_keys(key.data)
        return keys

    async def has(self, key_id: bytes) -> bool:
        return key_id in self._cache or (
            await self.store.get_app_state_sync_key(key_id) is not None
        )
