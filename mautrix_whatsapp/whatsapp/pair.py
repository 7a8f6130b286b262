"""QR pairing: the QR text, and the checks and signatures of ``pair-success``.

When the phone links us, the server relays the phone's ``ADVSignedDeviceIdentityHMAC``. We check
that it was made with the ADV secret we put in the QR code (so it comes from the phone that
scanned it), that the account signature covers *our* identity key, and countersign it with our
identity key. The result is the account identity we keep and attach to our messages.

Pure functions only; :mod:`.pair_flow` sends and answers the nodes.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from .crypto import xeddsa
from .crypto.hkdf import hmac_sha256
from .crypto.keys import KeyPair
from .proto import wa_adv_pb2

ADV_ACCOUNT_SIGNATURE_PREFIX = b"\x06\x00"
ADV_DEVICE_SIGNATURE_PREFIX = b"\x06\x01"
ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX = b"\x06\x05"
ADV_HOSTED_DEVICE_SIGNATURE_PREFIX = b"\x06\x06"
"""Defined by whatsmeow and Baileys, used by neither: our countersignature is 06 01 even for a
hosted account."""

_M = TypeVar("_M", bound=Message)

QR_URL_PREFIX = "https://wa.me/settings/linked_devices#"

QR_FIRST_TIMEOUT = 60.0
"""Seconds the first ref of a ``pair-device`` batch is shown."""
QR_NEXT_TIMEOUT = 20.0
"""Seconds each later ref is shown (6 refs: 160 s in all)."""


class PairClientType(StrEnum):
    """The platform digit at the end of the QR text (and ``companion_platform_id``)."""

    UNKNOWN = "0"
    CHROME = "1"
    EDGE = "2"
    FIREFOX = "3"
    IE = "4"
    OPERA = "5"
    SAFARI = "6"
    ELECTRON = "7"
    UWP = "8"
    OTHER_WEB_CLIENT = "9"
    MACOS = "c"
    ANDROID = "e"


class PairError(Exception):
    """Pairing failed. ``code``/``text`` are what we answered the server's IQ with."""

    code = 500
    text = "internal-error"


class PairProtoError(PairError):
    """The pair-success payload did not decode."""


class PairHMACMismatchError(PairError):
    """The device identity was not made with our ADV secret (not the phone that scanned us)."""

    code = 401
    text = "hmac-mismatch"


class PairSignatureMismatchError(PairError):
    """The account signature does not cover our identity key."""

    code = 401
    text = "signature-mismatch"


def qr_timeout(index: int) -> float:
    """How long the ``index``-th ref (0-based) of a batch is valid."""
    return QR_FIRST_TIMEOUT if index == 0 else QR_NEXT_TIMEOUT


def make_qr_data(
    ref: str,
    noise_public: bytes,
    identity_public: bytes,
    adv_secret: bytes,
    platform: PairClientType | str = PairClientType.OTHER_WEB_CLIENT,
) -> str:
    """The QR text: ``https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform``."""
    b64 = base64.b64encode
    platform_id = platform.value if isinstance(platform, PairClientType) else platform
    fields = (
        ref,
        b64(noise_public).decode(),
        b64(identity_public).decode(),
        b64(adv_secret).decode(),
        platform_id,
    )
    return QR_URL_PREFIX + ",".join(fields)


def account_signature_message(details: bytes, companion_identity: bytes, hosted: bool) -> bytes:
    """What the phone signs: prefix ‖ ADVDeviceIdentity bytes ‖ our identity public key."""
    prefix = ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX if hosted else ADV_ACCOUNT_SIGNATURE_PREFIX
    return prefix + details + companion_identity


def device_signature_message(
    details: bytes, companion_identity: bytes, account_key: bytes
) -> bytes:
    """What we sign: 06 01 ‖ ADVDeviceIdentity bytes ‖ our identity key ‖ the account's key.

    Always 06 01, hosted account or not, as whatsmeow (``generateDeviceSignature``) and Baileys
    (``configureSuccessfulPairing``) sign it."""
    return ADV_DEVICE_SIGNATURE_PREFIX + details + companion_identity + account_key


def device_identity_hmac(adv_secret: bytes, details: bytes, hosted: bool) -> bytes:
    """HMAC-SHA256(adv secret, [06 05 if hosted] ‖ signed identity bytes)."""
    prefix = ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX if hosted else b""
    return hmac_sha256(adv_secret, prefix + details)


@dataclass(frozen=True, repr=False)
class PairedIdentity:
    """The outcome of a good ``pair-success``.

    ``account`` is the signed identity with the account key, to store and to attach to messages;
    ``self_signed`` is the same without the account key, the ``pair-device-sign`` payload.
    """

    account: bytes
    self_signed: bytes
    key_index: int
    account_signature_key: bytes
    hosted: bool


def _decode(message: _M, data: bytes, what: str) -> _M:
    try:
        message.ParseFromString(data)
    except DecodeError as e:
        raise PairProtoError(f"failed to decode {what}") from e
    return message


def process_pair_success(
    device_identity: bytes, adv_secret: bytes, identity_key: KeyPair
) -> PairedIdentity:
    """Check a ``pair-success`` ``<device-identity>`` and countersign it.

    Raises a :class:`PairError` subclass whose ``code``/``text`` are the error IQ to answer with.
    """
    container = _decode(
        wa_adv_pb2.ADVSignedDeviceIdentityHMAC(), device_identity, "HMAC container"
    )
    hosted_account = container.accountType == wa_adv_pb2.HOSTED
    expected = device_identity_hmac(adv_secret, container.details, hosted_account)
    if not hmac.compare_digest(expected, container.HMAC):
        raise PairHMACMismatchError("device identity HMAC does not match our ADV secret")

    signed = _decode(wa_adv_pb2.ADVSignedDeviceIdentity(), container.details, "signed identity")
    details = _decode(wa_adv_pb2.ADVDeviceIdentity(), signed.details, "device identity")
    hosted = details.deviceType == wa_adv_pb2.HOSTED
    account_key = signed.accountSignatureKey
    if len(account_key) != 32 or len(signed.accountSignature) != 64:
        raise PairSignatureMismatchError("account signature or key has the wrong size")
    message = account_signature_message(signed.details, identity_key.public, hosted)
    if not xeddsa.verify(account_key, message, signed.accountSignature):
        raise PairSignatureMismatchError("account signature does not cover our identity key")

    signed.deviceSignature = xeddsa.sign(
        identity_key.private,
        device_signature_message(signed.details, identity_key.public, account_key),
    )
    account = signed.SerializeToString()
    signed.ClearField("accountSignatureKey")
    return PairedIdentity(
        account=account,
        self_signed=signed.SerializeToString(),
        key_index=details.keyIndex,
        account_signature_key=account_key,
        hosted=hosted,
    )
