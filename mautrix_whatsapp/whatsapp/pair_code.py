"""Pairing by an 8-character code instead of a QR scan: the cryptography of both sides.

The companion shows a code like ``ABCD-EFGH``; the user types it on the phone. Each side sends its
ephemeral X25519 key wrapped with a key derived from the code (PBKDF2, 131072 rounds), so only a
phone that knows the code can complete the exchange. The companion then sends a key bundle that
both sides use to derive the ADV secret which later authenticates ``pair-success``.

The node-level exchange (``companion_hello``, the ``primary_hello`` notification,
``companion_finish``) lives in :mod:`.pair_code_flow`; this module has only pure functions, used
by the client and by the test simulator's phone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .crypto.hkdf import hkdf_sha256
from .crypto.keys import KeyPair

LINKING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
"""WhatsApp's base32 alphabet for pairing codes (no 0, I, O, U)."""
CODE_KEY_ITERATIONS = 2 << 16
"""PBKDF2 rounds for the code key: 131072."""
WRAPPED_KEY_SIZE = 80
"""salt(32) ‖ iv(16) ‖ AES-CTR(pub)(32)."""
KEY_BUNDLE_INFO = b"link_code_pairing_key_bundle_encryption_key"
ADV_SECRET_INFO = b"adv_secret"
DEFAULT_PLATFORM_DISPLAY = "Chrome (Linux)"
"""The server validates ``Browser (OS)``; only common browsers and systems pass."""

_PHONE_ALLOWED = re.compile(r"^\+?[0-9 ()\-.]+$")


class PairCodeError(Exception):
    """Base of the pairing-code errors."""


class InvalidPhoneNumberError(PairCodeError, ValueError):
    """The phone number is not in international format; nothing was sent."""


class InvalidPairingDataError(PairCodeError):
    """A wrapped key or key bundle was malformed or did not decrypt (wrong code)."""


def validate_phone_number(phone: str) -> str:
    """Return the digits of an international phone number, or raise InvalidPhoneNumberError.

    Accepts ``+``, spaces, dashes, dots and parentheses as separators, like whatsmeow; rejects
    letters, national numbers (leading 0) and anything outside E.164's 7 to 15 digits.
    """
    phone = phone.strip()
    if not phone or not _PHONE_ALLOWED.match(phone):
        raise InvalidPhoneNumberError("phone number must contain only digits and separators")
    digits = re.sub(r"[^0-9]", "", phone)
    if len(digits) <= 6:
        raise InvalidPhoneNumberError("phone number too short")
    if digits.startswith("0"):
        raise InvalidPhoneNumberError("phone number must be in international format")
    if len(digits) > 15:
        raise InvalidPhoneNumberError("phone number too long")
    return digits


def encode_linking_code(raw: bytes) -> str:
    """Encode bytes in the linking alphabet, 5 bits per character (5 bytes → 8 characters)."""
    value = int.from_bytes(raw, "big")
    bits = len(raw) * 8
    chars = []
    while bits >= 5:
        bits -= 5
        chars.append(LINKING_ALPHABET[(value >> bits) & 31])
    if bits:
        chars.append(LINKING_ALPHABET[(value << (5 - bits)) & 31])
    return "".join(chars)


def generate_linking_code() -> str:
    """A fresh 8-character code (without the display dash)."""
    return encode_linking_code(os.urandom(5))


def format_linking_code(code: str) -> str:
    """``ABCDEFGH`` → ``ABCD-EFGH``, as shown to the user."""
    return f"{code[:4]}-{code[4:]}"


def normalize_linking_code(entered: str) -> str:
    """What the phone feeds to the KDF: the code without the dash, upper-cased."""
    return entered.replace("-", "").replace(" ", "").upper()


def derive_code_key(code: str, salt: bytes) -> bytes:
    """PBKDF2-HMAC-SHA256(code, salt, 131072 rounds, 32 bytes); slow, so run it off-loop."""
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=salt, iterations=CODE_KEY_ITERATIONS
    )
    return kdf.derive(code.encode("utf-8"))


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def wrap_ephemeral_key(
    code: str, public: bytes, salt: bytes | None = None, iv: bytes | None = None
) -> bytes:
    """salt ‖ iv ‖ AES-256-CTR(code key, iv, public): how each side sends its ephemeral key."""
    salt = os.urandom(32) if salt is None else salt
    iv = os.urandom(16) if iv is None else iv
    if len(salt) != 32 or len(iv) != 16 or len(public) != 32:
        raise ValueError("salt, iv and key must be 32, 16 and 32 bytes")
    return salt + iv + _ctr(derive_code_key(code, salt), iv, public)


def unwrap_ephemeral_key(code: str, wrapped: bytes) -> bytes:
    """Undo :func:`wrap_ephemeral_key`. CTR has no tag, so a wrong code yields a wrong key."""
    if len(wrapped) < WRAPPED_KEY_SIZE:
        raise InvalidPairingDataError(f"wrapped ephemeral key is {len(wrapped)} bytes, not 80")
    salt, iv, encrypted = wrapped[:32], wrapped[32:48], wrapped[48:80]
    return _ctr(derive_code_key(code, salt), iv, encrypted)


def derive_adv_secret(ephemeral_shared: bytes, identity_shared: bytes, adv_random: bytes) -> bytes:
    """HKDF(ephShared ‖ identityShared ‖ advRandom, no salt, "adv_secret"): the pair HMAC key."""
    # No salt: HKDF then uses zeros, which an empty HMAC key is equivalent to.
    return hkdf_sha256(ephemeral_shared + identity_shared + adv_random, b"", ADV_SECRET_INFO, 32)


def seal_key_bundle(
    ephemeral_shared: bytes,
    companion_identity_pub: bytes,
    primary_identity_pub: bytes,
    adv_random: bytes,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """salt ‖ nonce ‖ AES-GCM(HKDF(ephShared, salt), companionId ‖ primaryId ‖ advRandom)."""
    salt = os.urandom(32) if salt is None else salt
    nonce = os.urandom(12) if nonce is None else nonce
    key = hkdf_sha256(ephemeral_shared, salt, KEY_BUNDLE_INFO, 32)
    plaintext = companion_identity_pub + primary_identity_pub + adv_random
    return salt + nonce + AESGCM(key).encrypt(nonce, plaintext, None)


@dataclass(frozen=True, repr=False)
class KeyBundle:
    """The opened key bundle, as the phone sees it."""

    companion_identity_pub: bytes
    primary_identity_pub: bytes
    adv_random: bytes


def open_key_bundle(ephemeral_shared: bytes, wrapped: bytes) -> KeyBundle:
    """The phone's side of :func:`seal_key_bundle`."""
    if len(wrapped) < 32 + 12 + 96 + 16:
        raise InvalidPairingDataError("key bundle too short")
    salt, nonce, ciphertext = wrapped[:32], wrapped[32:44], wrapped[44:]
    key = hkdf_sha256(ephemeral_shared, salt, KEY_BUNDLE_INFO, 32)
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, None)
    except InvalidTag as e:
        raise InvalidPairingDataError("key bundle failed authentication") from e
    if len(plaintext) != 96:
        raise InvalidPairingDataError("key bundle has the wrong size")
    return KeyBundle(plaintext[:32], plaintext[32:64], plaintext[64:])


@dataclass(frozen=True, repr=False)
class CompanionHello:
    """What the companion keeps between ``companion_hello`` and the phone's answer."""

    phone: str
    """Digits only."""
    ephemeral: KeyPair
    code: str
    """Without the dash."""
    wrapped_ephemeral: bytes

    @classmethod
    def start(cls, phone: str, code: str | None = None) -> CompanionHello:
        """Validate the number, pick a code and wrap a fresh ephemeral key (slow: PBKDF2)."""
        digits = validate_phone_number(phone)
        code = generate_linking_code() if code is None else normalize_linking_code(code)
        ephemeral = KeyPair.generate()
        return cls(digits, ephemeral, code, wrap_ephemeral_key(code, ephemeral.public))

    @property
    def display_code(self) -> str:
        return format_linking_code(self.code)


@dataclass(frozen=True, repr=False)
class CompanionFinish:
    """The companion's answer to ``primary_hello``: what to send and the new ADV secret."""

    wrapped_key_bundle: bytes
    adv_secret: bytes


def companion_finish(
    hello: CompanionHello,
    identity: KeyPair,
    wrapped_primary_ephemeral: bytes,
    primary_identity_pub: bytes,
) -> CompanionFinish:
    """Answer the phone's ``primary_hello`` (slow: PBKDF2)."""
    if len(primary_identity_pub) != 32:
        raise InvalidPairingDataError("primary identity key is not 32 bytes")
    primary_ephemeral = unwrap_ephemeral_key(hello.code, wrapped_primary_ephemeral)
    try:
        ephemeral_shared = hello.ephemeral.dh(primary_ephemeral)
        identity_shared = identity.dh(primary_identity_pub)
    except ValueError as e:  # a low-order point: garbage from a wrong code or a broken peer
        raise InvalidPairingDataError("primary keys do not give a valid shared secret") from e
    adv_random = os.urandom(32)
    bundle = seal_key_bundle(ephemeral_shared, identity.public, primary_identity_pub, adv_random)
    return CompanionFinish(
        bundle, derive_adv_secret(ephemeral_shared, identity_shared, adv_random)
    )
