"""Media encryption as the phone and WhatsApp's clients do it, written from Baileys
``messages-media.ts`` and whatsmeow ``upload.go`` for the simulator (shares only HKDF and
AES-CBC with the client library).

A media key expands (HKDF-SHA256, no salt, 112 bytes) into iv ‖ cipher key ‖ MAC key ‖ ref key
under an info string chosen by the media type; the blob is the CBC ciphertext followed by the
first 10 bytes of HMAC-SHA256(mac key, iv ‖ ciphertext).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.crypto.cbc import decrypt as cbc_decrypt
from mautrix_whatsapp.whatsapp.crypto.cbc import encrypt as cbc_encrypt
from mautrix_whatsapp.whatsapp.crypto.hkdf import hkdf_sha256

MAC_LENGTH = 10

INFO_BY_TYPE: dict[str, bytes] = {
    "image": b"WhatsApp Image Keys",
    "sticker": b"WhatsApp Image Keys",
    "video": b"WhatsApp Video Keys",
    "gif": b"WhatsApp Video Keys",
    "audio": b"WhatsApp Audio Keys",
    "ptt": b"WhatsApp Audio Keys",
    "document": b"WhatsApp Document Keys",
    "md-msg-hist": b"WhatsApp History Keys",
    "md-app-state": b"WhatsApp App State Keys",
    "thumbnail-link": b"WhatsApp Link Thumbnail Keys",
}
"""HKDF info per media type (Baileys ``MEDIA_HKDF_KEY_MAPPING``)."""


class MediaCryptoError(ValueError):
    """A blob failed one of the download checks (hash, MAC, padding)."""


@dataclass(frozen=True)
class MediaKeys:
    iv: bytes
    cipher_key: bytes
    mac_key: bytes
    ref_key: bytes

    @classmethod
    def expand(cls, media_key: bytes, media_type: str) -> MediaKeys:
        expanded = hkdf_sha256(media_key, b"", INFO_BY_TYPE[media_type], 112)
        return cls(expanded[:16], expanded[16:48], expanded[48:80], expanded[80:112])


@dataclass(frozen=True)
class EncryptedMedia:
    media_key: bytes
    blob: bytes
    """What is uploaded: ciphertext ‖ 10-byte MAC."""
    file_sha256: bytes
    file_enc_sha256: bytes
    file_length: int


def encrypt_media(
    plaintext: bytes, media_type: str, media_key: bytes | None = None
) -> EncryptedMedia:
    media_key = media_key or os.urandom(32)
    keys = MediaKeys.expand(media_key, media_type)
    ciphertext = cbc_encrypt(keys.cipher_key, keys.iv, plaintext)
    mac = hmac.new(keys.mac_key, keys.iv + ciphertext, hashlib.sha256).digest()[:MAC_LENGTH]
    blob = ciphertext + mac
    return EncryptedMedia(
        media_key,
        blob,
        hashlib.sha256(plaintext).digest(),
        hashlib.sha256(blob).digest(),
        len(plaintext),
    )


def decrypt_media(blob: bytes, media_type: str, media_key: bytes) -> bytes:
    """Check the MAC and decrypt (the phone re-reads media it is asked to upload again)."""
    if len(blob) < MAC_LENGTH + 16:
        raise MediaCryptoError("blob too short")
    keys = MediaKeys.expand(media_key, media_type)
    ciphertext, mac = blob[:-MAC_LENGTH], blob[-MAC_LENGTH:]
    expected = hmac.new(keys.mac_key, keys.iv + ciphertext, hashlib.sha256).digest()[:MAC_LENGTH]
    if not hmac.compare_digest(mac, expected):
        raise MediaCryptoError("MAC mismatch")
    try:
        return cbc_decrypt(keys.cipher_key, keys.iv, ciphertext)
    except ValueError as e:
        raise MediaCryptoError(f"bad ciphertext: {e}") from e
