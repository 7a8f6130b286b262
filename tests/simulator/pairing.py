"""The phone's side of linking a companion, signing exactly as a real phone does.

QR: the phone reads (ref, noise key, identity key, ADV secret) from the code, builds an
``ADVDeviceIdentity`` for the new device, signs it with the account key over
``06 00 ‖ details ‖ companion identity``, and wraps it in an HMAC keyed by the ADV secret.

Pairing code: the phone unwraps the companion's ephemeral key with the typed code, sends its own
(wrapped the same way) with its identity key, and derives the same ADV secret from the key bundle
the companion returns. Pure functions; the server glue is in ``login.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp import pair_code
from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.pair import (
    account_signature_message,
    device_identity_hmac,
    device_signature_message,
)
from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2

from .accounts import Account


@dataclass(frozen=True)
class Tamper:
    """Ways a test can make the phone's pair-success wrong, to see the companion refuse it."""

    bad_hmac: bool = False
    bad_account_signature: bool = False


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
    details = wa_adv_pb2.ADVDeviceIdentity(
        rawID=device_id,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        keyIndex=key_index,
    ).SerializeToString()
    message = account_signature_message(details, companion_identity, hosted=False)
    if tamper.bad_account_signature:
        message = message[:-1] + bytes([message[-1] ^ 1])
    signature = xeddsa.sign(account.identity.private, message)
    signed = wa_adv_pb2.ADVSignedDeviceIdentity(
        details=details,
        accountSignatureKey=account.identity.public,
        accountSignature=signature,
    ).SerializeToString()
    mac = device_identity_hmac(adv_secret, signed, hosted=False)
    if tamper.bad_hmac:
        mac = hmac.new(os.urandom(32), signed, hashlib.sha256).digest()
    container = wa_adv_pb2.ADVSignedDeviceIdentityHMAC(details=signed, HMAC=mac)
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
    message = device_signature_message(
        signed.details, companion_identity, account.identity.public, hosted=False
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
    """The phone's answer once the code is typed: its wrapped ephemeral key.

    The phone cannot tell a wrong code here (AES-CTR has no tag); the mismatch shows when the
    companion's key bundle fails to open.
    """
    code = pair_code.normalize_linking_code(entered_code)
    companion_ephemeral = pair_code.unwrap_ephemeral_key(code, pending.wrapped_companion_ephemeral)
    pending.primary_ephemeral = KeyPair.generate()
    try:
        pending.ephemeral_shared = pending.primary_ephemeral.dh(companion_ephemeral)
    except ValueError:
        # A wrong code can unwrap to a low-order point; poison the secret so finish fails.
        pending.ephemeral_shared = os.urandom(32)
    return pair_code.wrap_ephemeral_key(code, pending.primary_ephemeral.public)


def finish_code_pairing(
    pending: PendingCodePairing, account: Account, wrapped_bundle: bytes, companion_identity: bytes
) -> bytes:
    """Open the companion's key bundle and derive the ADV secret, as the phone does.

    Raises :class:`pair_code.InvalidPairingDataError` when the code was wrong or keys disagree.
    """
    if pending.ephemeral_shared is None:
        raise pair_code.InvalidPairingDataError("companion_finish before the code was entered")
    bundle = pair_code.open_key_bundle(pending.ephemeral_shared, wrapped_bundle)
    if bundle.companion_identity_pub != companion_identity:
        raise pair_code.InvalidPairingDataError("key bundle names another companion identity")
    if bundle.primary_identity_pub != account.identity.public:
        raise pair_code.InvalidPairingDataError("key bundle names another primary identity")
    identity_shared = account.identity.dh(companion_identity)
    return pair_code.derive_adv_secret(
        pending.ephemeral_shared, identity_shared, bundle.adv_random
    )
