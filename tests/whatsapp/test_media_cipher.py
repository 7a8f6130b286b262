"""Media keys and the streaming cipher, checked against the simulator's own media crypto
(written separately from Baileys) and by tampering each part of a blob."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mautrix_whatsapp.whatsapp.media import (
    EncHashMismatchError,
    FileHashMismatchError,
    MACMismatchError,
    MediaDecryptError,
    MediaType,
)
from mautrix_whatsapp.whatsapp.media.cipher import (
    MediaDecryptor,
    MediaEncryptor,
    MediaKeys,
    decrypt_bytes,
    encrypt_bytes,
)
from tests.simulator import media_crypto

SIZES = [0, 1, 15, 16, 17, 1000, 65536 + 7]


@pytest.mark.parametrize("media_type", list(MediaType))
def test_hkdf_info_matches_the_simulator(media_type: MediaType) -> None:
    assert media_type.hkdf_info == media_crypto.INFO_BY_TYPE[media_type.value]


@pytest.mark.parametrize("size", SIZES)
def test_encrypt_matches_the_simulator(size: int) -> None:
    data = os.urandom(size)
    key = os.urandom(32)
    blob, sha, enc_sha = encrypt_bytes(data, key, MediaType.VIDEO)
    theirs = media_crypto.encrypt_media(data, "video", key)
    assert blob == theirs.blob
    assert sha == theirs.file_sha256 == hashlib.sha256(data).digest()
    assert enc_sha == theirs.file_enc_sha256
    assert media_crypto.decrypt_media(blob, "video", key) == data


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("chunk", [1, 10, 11, 16, 4096])
def test_streaming_decrypt_any_chunking(size: int, chunk: int) -> None:
    data = os.urandom(size)
    key = os.urandom(32)
    theirs = media_crypto.encrypt_media(data, "document", key)
    decryptor = MediaDecryptor(
        key,
        MediaType.DOCUMENT,
        file_enc_sha256=theirs.file_enc_sha256,
        file_sha256=theirs.file_sha256,
    )
    out = b"".join(
        decryptor.update(theirs.blob[i : i + chunk]) for i in range(0, len(theirs.blob), chunk)
    )
    assert out + decryptor.finalize() == data


def test_streaming_encrypt_any_chunking() -> None:
    data = os.urandom(100_003)
    key = os.urandom(32)
    encryptor = MediaEncryptor(key, MediaType.PTT)
    blob = b"".join(encryptor.update(data[i : i + 777]) for i in range(0, len(data), 777))
    blob += encryptor.finalize()
    assert encryptor.file_length == len(data)
    assert blob == media_crypto.encrypt_media(data, "ptt", key).blob
    assert encryptor.file_enc_sha256 == hashlib.sha256(blob).digest()


def _blob(data: bytes = b"x" * 100) -> tuple[bytes, bytes, bytes, bytes]:
    key = os.urandom(32)
    blob, sha, enc_sha = encrypt_bytes(data, key, MediaType.IMAGE)
    return key, blob, sha, enc_sha


def test_each_check_has_its_error() -> None:
    key, blob, sha, enc_sha = _blob()
    tampered = blob[:5] + bytes([blob[5] ^ 1]) + blob[6:]
    with pytest.raises(EncHashMismatchError):
        decrypt_bytes(tampered, key, MediaType.IMAGE, file_enc_sha256=enc_sha, file_sha256=sha)
    # The enc hash taken from the tampered blob: the MAC still catches it.
    with pytest.raises(MACMismatchError):
        decrypt_bytes(
            tampered,
            key,
            MediaType.IMAGE,
            file_enc_sha256=hashlib.sha256(tampered).digest(),
            file_sha256=sha,
        )
    with pytest.raises(MACMismatchError):
        decrypt_bytes(
            blob, os.urandom(32), MediaType.IMAGE, file_enc_sha256=enc_sha, file_sha256=sha
        )
    with pytest.raises(MACMismatchError):
        decrypt_bytes(blob[:5], key, MediaType.IMAGE, file_enc_sha256=None, file_sha256=sha)
    with pytest.raises(FileHashMismatchError):
        decrypt_bytes(blob, key, MediaType.IMAGE, file_enc_sha256=enc_sha, file_sha256=bytes(32))


def test_bad_padding_and_partial_blocks_are_decrypt_errors() -> None:
    key = os.urandom(32)
    keys = MediaKeys.expand(key, MediaType.AUDIO)
    encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    bad_padding = encryptor.update(b"y" * 31 + b"\x00") + encryptor.finalize()
    for ciphertext in (bad_padding, bad_padding[:20]):
        mac = hmac.new(keys.mac_key, keys.iv + ciphertext, "sha256").digest()[:10]
        with pytest.raises(MediaDecryptError):
            decrypt_bytes(
                ciphertext + mac, key, MediaType.AUDIO, file_enc_sha256=None, file_sha256=None
            )
