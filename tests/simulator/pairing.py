"""The phone's side of linking a companion, written from the sources, not from our client.

The client's ``pair``/``pair_code`` modules do the companion's side; if the phone used them, a
mistake there (a prefix, an HMAC input, a KDF parameter) would be made identically on both sides
and every test would pass. So everything here is spelled out again from whatsmeow (``pair.go``,
``pair-code.go``) and Baileys (``validate-connection.ts`` ``configureSuccessfulPairing``,
``socket.ts`` ``requestPairingCode``, ``messages-recv.ts`` ``link_code_companion_reg``), sharing
only primitives with the client: X25519 (``KeyPair.dh``), XEdDSA and the protobuf schemas.

QR: the phone reads (ref, noise key, identity key, ADV secret) from the code, builds an
``ADVDeviceIdentity`` for the new device, signs ``06 00 ‖ details ‖ companion identity`` with
the account key and HMACs the ``ADVSignedDeviceIdentity`` with the ADV secret. A **hosted**
account (``ADVEncryptionType.HOSTED``) signs with ``06 05`` instead and puts ``06 05`` before the
HMAC input. The companion countersigns ``06 01 ‖ details ‖ its identity ‖ account key`` — with
``06 01`` for hosted accounts too: both sources define a hosted device prefix ``06 06`` but never
use it for ``pair-device-sign``.

Pairing code: the phone unwraps the companion's ephemeral key with the typed code, sends its own
(wrapped the same way) with its identity key, and derives the same ADV secret from the key bundle
the companion returns. Pure functions; the server glue is in ``phone.py`` and ``login.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2

from .accounts import Account

# ADV signature prefixes (whatsmeow pair.go Adv*SignaturePrefix, Baileys WA_ADV_*_SIG_PREFIX).
ACCOUNT_SIGNATURE_PREFIX = bytes([6, 0])
DEVICE_SIGNATURE_PREFIX = bytes([6, 1])
HOSTED_ACCOUNT_SIGNATURE_PREFIX = bytes([6, 5])
"""Signs a hosted account's companions, and goes before the HMAC input for them."""
HOSTED_DEVICE_SIGNATURE_PREFIX = bytes([6, 6])
"""Defined by both sources, used by neither for ``pair-device-sign`` (which is always 06 01)."""

# Pairing code (whatsmeow pair-code.go, Baileys derivePairingCodeKey / link_code_companion_reg).
CODE_PBKDF2_ROUNDS = 2 << 16
"""PBKDF2-HMAC-SHA256 rounds of the key that wraps each side's ephemeral key: 131072."""
CODE_KEY_SIZE = 32
SALT_SIZE = 32
CTR_IV_SIZE = 16
WRAPPED_KEY_SIZE = SALT_SIZE + CTR_IV_SIZE + 32
"""salt ‖ iv ‖ AES-256-CTR(ephemeral public key): 80 bytes."""
GCM_NONCE_SIZE = 12
BUNDLE_PLAINTEXT_SIZE = 3 * 32
"""companion identity ‖ primary identity ‖ ADV randomness."""
KEY_BUNDLE_INFO = b"link_code_pairing_key_bundle_encryption_key"
ADV_SECRET_INFO = b"adv_secret"


@dataclass(frozen=True)
class Tamper:
    """Ways a test can make the phone's pair-success wrong, to see the companion refuse it."""

    bad_hmac: bool = False
    bad_account_signature: bool = False


class CodePairingError(ValueError):
    """A pairing-code message was malformed, or the code typed on the phone was wrong."""


def account_type(account: Account) -> wa_adv_pb2.ADVEncryptionType:
    return wa_adv_pb2.HOSTED if account.hosted else wa_adv_pb2.E2EE


def sign_device_identity(
    account: Account,
    companion_identity: bytes,
    adv_secret: bytes,
    device_id: int,
    key_index: int,
    timestamp: int | None = None,
    tamper: Tamper = Tamper(),
) -> tuple[bytes, bytes]:
    """Return (``ADVSignedDeviceIdentityHMAC`` bytes for pair-success, the account signature)."""
    kind = account_type(account)
    details = wa_adv_pb2.ADVDeviceIdentity(
        rawID=device_id,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        keyIndex=key_index,
        accountType=kind,
        deviceType=kind,
    ).SerializeToString()
    prefix = HOSTED_ACCOUNT_SIGNATURE_PREFIX if account.hosted else ACCOUNT_SIGNATURE_PREFIX
    message = prefix + details + companion_identity
    if tamper.bad_account_signature:
        message = message[:-1] + bytes([message[-1] ^ 1])
    signature = xeddsa.sign(account.identity.private, message)
    signed = wa_adv_pb2.ADVSignedDeviceIdentity(
        details=details,
        accountSignatureKey=account.identity.public,
        accountSignature=signature,
    ).SerializeToString()
    mac_input = (HOSTED_ACCOUNT_SIGNATURE_PREFIX if account.hosted else b"") + signed
    mac_key = os.urandom(32) if tamper.bad_hmac else adv_secret
    mac = hmac.new(mac_key, mac_input, hashlib.sha256).digest()
    container = wa_adv_pb2.ADVSignedDeviceIdentityHMAC(details=signed, HMAC=mac, accountType=kind)
    return container.SerializeToString(), signature


class DeviceSignatureError(Exception):
    """The companion's ``pair-device-sign`` is malformed or its signature is wrong."""


def check_device_signature(
    self_signed: bytes, companion_identity: bytes, account: Account, expected_details: bytes
) -> bytes:
    """Verify the companion's ``06 01`` countersignature; return it."""
    signed = wa_adv_pb2.ADVSignedDeviceIdentity()
    try:
        signed.ParseFromString(self_signed)
    except Exception as e:  # protobuf raises DecodeError, but also others on garbage
        raise DeviceSignatureError("pair-device-sign does not decode") from e
    if signed.details != expected_details:
        raise DeviceSignatureError("pair-device-sign covers different details")
    if signed.HasField("accountSignatureKey"):
        raise DeviceSignatureError("pair-device-sign must not carry the account key")
    message = (
        DEVICE_SIGNATURE_PREFIX + signed.details + companion_identity + account.identity.public
    )
    if not xeddsa.verify(companion_identity, message, signed.deviceSignature):
        raise DeviceSignatureError("device signature does not verify")
    return bytes(signed.deviceSignature)


def details_of(container: bytes) -> bytes:
    """The ``ADVDeviceIdentity`` bytes inside a pair-success container."""
    outer = wa_adv_pb2.ADVSignedDeviceIdentityHMAC()
    outer.ParseFromString(container)
    signed = wa_adv_pb2.ADVSignedDeviceIdentity()
    signed.ParseFromString(outer.details)
    return bytes(signed.details)


# --- pairing code ---


def phone_number_of(user: str) -> str:
    """The digits of the ``jid`` a companion asks a code for; WhatsApp wants E.164 (7 to 15)."""
    if not user.isdigit() or not 7 <= len(user) <= 15 or user.startswith("0"):
        raise CodePairingError(f"not an international phone number: {user!r}")
    return user


def _code_key(code: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, CODE_PBKDF2_ROUNDS, CODE_KEY_SIZE)


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return cipher.update(data) + cipher.finalize()


def _hkdf(secret: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def typed_code(entered: str) -> str:
    """What the user typed, as the KDF takes it: 8 characters, upper case, no dash."""
    return entered.replace("-", "").replace(" ", "").upper()


def unwrap_key(code: str, wrapped: bytes) -> bytes:
    """An ephemeral key as the other side wrapped it. AES-CTR has no tag: a wrong code gives a
    wrong key, which shows only when the key bundle does not open."""
    if len(wrapped) != WRAPPED_KEY_SIZE:
        raise CodePairingError(f"a wrapped key is {WRAPPED_KEY_SIZE} bytes, not {len(wrapped)}")
    salt, iv = wrapped[:SALT_SIZE], wrapped[SALT_SIZE : SALT_SIZE + CTR_IV_SIZE]
    return _aes_ctr(_code_key(code, salt), iv, wrapped[SALT_SIZE + CTR_IV_SIZE :])


def wrap_key(code: str, public: bytes) -> bytes:
    salt, iv = os.urandom(SALT_SIZE), os.urandom(CTR_IV_SIZE)
    return salt + iv + _aes_ctr(_code_key(code, salt), iv, public)


@dataclass(repr=False)
class PendingCodePairing:
    """A ``companion_hello`` waiting for the user to type the code on the phone."""

    ref: str
    phone: str
    wrapped_companion_ephemeral: bytes
    noise_public: bytes
    platform_id: str
    platform_display: str
    connection_id: int
    """The companion's connection, which gets the primary_hello notification."""
    primary_ephemeral: KeyPair | None = None
    ephemeral_shared: bytes | None = None


def primary_hello(pending: PendingCodePairing, entered_code: str) -> bytes:
    """The phone's answer once the code is typed: its ephemeral key, wrapped with the code."""
    code = typed_code(entered_code)
    companion_ephemeral = unwrap_key(code, pending.wrapped_companion_ephemeral)
    pending.primary_ephemeral = KeyPair.generate()
    try:
        pending.ephemeral_shared = pending.primary_ephemeral.dh(companion_ephemeral)
    except ValueError:
        # A wrong code can unwrap to a low-order point; poison the secret so finish fails.
        pending.ephemeral_shared = os.urandom(32)
    return wrap_key(code, pending.primary_ephemeral.public)


def finish_code_pairing(
    pending: PendingCodePairing, account: Account, wrapped_bundle: bytes, companion_identity: bytes
) -> bytes:
    """Open the companion's key bundle and derive the ADV secret, as the phone does.

    The bundle is ``salt ‖ nonce ‖ AES-256-GCM(HKDF(ephemeral shared, salt, "link_code_pairing_
    key_bundle_encryption_key"), companion identity ‖ primary identity ‖ randomness)``; the ADV
    secret is ``HKDF(ephemeral shared ‖ identity shared ‖ randomness, no salt, "adv_secret")``.
    Raises :class:`CodePairingError` when the code was wrong or the keys disagree.
    """
    if pending.ephemeral_shared is None:
        raise CodePairingError("companion_finish before the code was entered")
    if len(wrapped_bundle) < SALT_SIZE + GCM_NONCE_SIZE + BUNDLE_PLAINTEXT_SIZE + 16:
        raise CodePairingError("key bundle too short")
    salt = wrapped_bundle[:SALT_SIZE]
    nonce = wrapped_bundle[SALT_SIZE : SALT_SIZE + GCM_NONCE_SIZE]
    key = _hkdf(pending.ephemeral_shared, salt, KEY_BUNDLE_INFO)
    try:
        bundle = AESGCM(key).decrypt(nonce, wrapped_bundle[SALT_SIZE + GCM_NONCE_SIZE :], None)
    except InvalidTag as e:
        raise CodePairingError("key bundle failed authentication (wrong code?)") from e
    if len(bundle) != BUNDLE_PLAINTEXT_SIZE:
        raise CodePairingError("key bundle has the wrong size")
    if bundle[:32] != companion_identity:
        raise CodePairingError("key bundle names another companion identity")
    if bundle[32:64] != account.identity.public:
        raise CodePairingError("key bundle names another primary identity")
    try:
        identity_shared = account.identity.dh(companion_identity)
    except ValueError as e:
        raise CodePairingError("companion identity is not a usable key") from e
    return _hkdf(pending.ephemeral_shared + identity_shared + bundle[64:], None, ADV_SECRET_INFO)
