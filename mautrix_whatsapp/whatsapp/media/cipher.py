"""Streaming media encryption and decryption (whatsmeow ``upload.go``/``download.go``).

The media key expands (HKDF-SHA256, no salt, 112 bytes) into iv ‖ cipher key ‖ MAC key ‖ ref key;
the blob is AES-256-CBC(PKCS#7) ciphertext followed by HMAC-SHA256(mac key, iv ‖ ciphertext)[:10].
Both directions work chunk by chunk and hash as they go, so a large file is never held whole:
the encryptor yields ciphertext to write out, the decryptor yields plaintext and runs the four
download checks (enc hash, MAC, padding, plain hash) in that order when the stream ends.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..crypto.hkdf import hkdf_sha256
from .errors import (
    EncHashMismatchError,
    FileHashMismatchError,
    MACMismatchError,
    MediaDecryptError,
)
from .types import MediaType

MAC_LENGTH = 10
BLOCK = 16


@dataclass(frozen=True, repr=False)
class MediaKeys:
    iv: bytes
    cipher_key: bytes
    mac_key: bytes
    ref_key: bytes

    @classmethod
    def expand(cls, media_key: bytes, media_type: MediaType) -> MediaKeys:
        out = hkdf_sha256(media_key, b"", media_type.hkdf_info, 112)
        return cls(out[:16], out[16:48], out[48:80], out[80:112])

    def cbc(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.cipher_key), modes.CBC(self.iv))

    def new_mac(self) -> hmac.HMAC:
        """The MAC, already fed the iv (it covers iv ‖ ciphertext)."""
        return hmac.new(self.mac_key, self.iv, hashlib.sha256)


class MediaEncryptor:
    """Feed plaintext with :meth:`update`, write out what it returns, then :meth:`finalize`."""

    def __init__(self, media_key: bytes, media_type: MediaType) -> None:
        keys = MediaKeys.expand(media_key, media_type)
        self._cipher = keys.cbc().encryptor()
        self._mac = keys.new_mac()
        self._plain_hash = hashlib.sha256()
        self._enc_hash = hashlib.sha256()
        self.file_length = 0
        self._finished = False

    def _out(self, ciphertext: bytes) -> bytes:
        self._mac.update(ciphertext)
        self._enc_hash.update(ciphertext)
        return ciphertext

    def update(self, chunk: bytes) -> bytes:
        self._plain_hash.update(chunk)
        self.file_length += len(chunk)
        return self._out(self._cipher.update(chunk))

    def finalize(self) -> bytes:
        """The last ciphertext block(s) with the padding, then the 10-byte MAC."""
        pad = BLOCK - self.file_length % BLOCK
        tail = self._out(self._cipher.update(bytes((pad,)) * pad) + self._cipher.finalize())
        mac = self._mac.digest()[:MAC_LENGTH]
        self._enc_hash.update(mac)
        self._finished = True
        return tail + mac

    @property
    def file_sha256(self) -> bytes:
        return self._plain_hash.digest()

    @property
    def file_enc_sha256(self) -> bytes:
        if not self._finished:
            raise RuntimeError("finalize() first")
        return self._enc_hash.digest()


class MediaDecryptor:
    """Feed the blob with :meth:`update` (plaintext comes out, minus a held-back tail), then
    :meth:`finalize`, which runs the checks and returns the last plaintext.

    Plaintext returned before :meth:`finalize` is unverified: write it somewhere disposable and
    keep it only if :meth:`finalize` succeeds. ``file_enc_sha256``/``file_sha256`` None skip that
    check (a hash the message did not carry)."""

    def __init__(
        self,
        media_key: bytes,
        media_type: MediaType,
        *,
        file_enc_sha256: bytes | None,
        file_sha256: bytes | None,
    ) -> None:
        keys = MediaKeys.expand(media_key, media_type)
        self._cipher = keys.cbc().decryptor()
        self._mac = keys.new_mac()
        self._enc_hash = hashlib.sha256()
        self._plain_hash = hashlib.sha256()
        self._expected_enc = file_enc_sha256
        self._expected_plain = file_sha256
        self._tail = b""
        """The last MAC_LENGTH bytes seen: the MAC, if the stream ends here."""
        self._held = b""
        """The last plaintext block, which carries the padding."""
        self.ciphertext_length = 0

    def update(self, chunk: bytes) -> bytes:
        self._enc_hash.update(chunk)
        data = self._tail + chunk
        if len(data) <= MAC_LENGTH:
            self._tail = data
            return b""
        ciphertext, self._tail = data[:-MAC_LENGTH], data[-MAC_LENGTH:]
        self.ciphertext_length += len(ciphertext)
        self._mac.update(ciphertext)
        plain = self._held + self._cipher.update(ciphertext)
        keep = len(plain) - BLOCK if len(plain) >= BLOCK else 0
        out, self._held = plain[:keep], plain[keep:]
        self._plain_hash.update(out)
        return out

    def finalize(self) -> bytes:
        if self._expected_enc is not None and not hmac.compare_digest(
            self._enc_hash.digest(), self._expected_enc
        ):
            raise EncHashMismatchError("downloaded blob does not match fileEncSHA256")
        if len(self._tail) < MAC_LENGTH or not hmac.compare_digest(
            self._mac.digest()[:MAC_LENGTH], self._tail
        ):
            raise MACMismatchError("media MAC mismatch")
        if self.ciphertext_length == 0 or self.ciphertext_length % BLOCK:
            raise MediaDecryptError(
                f"ciphertext of {self.ciphertext_length} bytes is not whole AES blocks"
            )
        last = self._held + self._cipher.finalize()
        pad = last[-1]
        if not 1 <= pad <= BLOCK or last[-pad:].count(pad) != pad:
            raise MediaDecryptError("bad PKCS#7 padding after decryption")
        out = last[:-pad]
        self._plain_hash.update(out)
        if self._expected_plain is not None and not hmac.compare_digest(
            self._plain_hash.digest(), self._expected_plain
        ):
            raise FileHashMismatchError("decrypted file does not match fileSHA256")
        return out


def encrypt_bytes(
    data: bytes, media_key: bytes, media_type: MediaType
) -> tuple[bytes, bytes, bytes]:
    """Blob, file SHA-256 and enc SHA-256 of a small in-memory file."""
    encryptor = MediaEncryptor(media_key, media_type)
    blob = encryptor.update(data) + encryptor.finalize()
    return blob, encryptor.file_sha256, encryptor.file_enc_sha256


def decrypt_bytes(
    blob: bytes,
    media_key: bytes,
    media_type: MediaType,
    *,
    file_enc_sha256: bytes | None,
    file_sha256: bytes | None,
) -> bytes:
    """Check and decrypt a whole blob (raises the typed download errors)."""
    decryptor = MediaDecryptor(
        media_key, media_type, file_enc_sha256=file_enc_sha256, file_sha256=file_sha256
    )
    head = decryptor.update(blob)
    return head + decryptor.finalize()
