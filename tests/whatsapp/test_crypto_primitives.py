"""The shared HKDF/HMAC and AES-CBC helpers, against the RFC and an independent implementation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.padding import PKCS7
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.crypto import KeyPair, cbc, xeddsa
from mautrix_whatsapp.whatsapp.crypto.hkdf import hkdf_sha256, hmac_sha256


def test_hkdf_rfc5869_test_case_1() -> None:
    okm = hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hmac_sha256_rfc4231_test_case_2() -> None:
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


KEY, IV = bytes(range(32)), bytes(range(16))


@settings(max_examples=100)
@given(plaintext=st.binary(max_size=100))
def test_cbc_matches_the_library_padder_and_round_trips(plaintext: bytes) -> None:
    padder = PKCS7(128).padder()
    raw = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    expected = raw.update(padder.update(plaintext) + padder.finalize()) + raw.finalize()
    assert cbc.encrypt(KEY, IV, plaintext) == expected
    assert cbc.decrypt(KEY, IV, expected) == plaintext


def _raw_encrypt(padded: bytes) -> bytes:
    raw = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    return raw.update(padded) + raw.finalize()


@pytest.mark.parametrize(
    "ciphertext",
    [
        pytest.param(b"", id="empty"),
        pytest.param(bytes(15), id="short"),
        pytest.param(bytes(33), id="not whole blocks"),
        pytest.param(_raw_encrypt(bytes(16)), id="zero pad byte"),
        pytest.param(_raw_encrypt(b"x" * 15 + b"\x11"), id="pad byte over 16"),
        pytest.param(_raw_encrypt(b"x" * 13 + b"\x01\x03\x03"), id="inconsistent pad bytes"),
    ],
)
def test_cbc_decrypt_refuses_malformed_input(ciphertext: bytes) -> None:
    with pytest.raises(cbc.CBCError):
        cbc.decrypt(KEY, IV, ciphertext)


def test_signing_key_cache_is_bounded_and_signatures_stay_valid() -> None:
    """Signing converts the key once per key (memoized, bounded); every signature verifies,
    including after the key was evicted and converted again."""
    cache = xeddsa._signing_key
    cache.cache_clear()
    pairs = [KeyPair.generate() for _ in range(xeddsa.SIGNING_KEY_CACHE_SIZE + 2)]
    for pair in pairs * 2:
        for message in (b"one", b"two"):
            signature = xeddsa.sign(pair.private, message)
            assert xeddsa.verify(pair.public, message, signature)
            assert not xeddsa.verify(pair.public, message + b"!", signature)
    info = cache.cache_info()
    assert info.currsize == xeddsa.SIGNING_KEY_CACHE_SIZE
    assert info.hits > 0  # the second message of each key reused the conversion
