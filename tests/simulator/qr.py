"""Parse the QR text a companion shows, as the simulated phone's camera reads it.

Two formats are in use: the current ``https://wa.me/settings/linked_devices#ref,noise,identity,adv,
platform`` and the older bare ``ref,noise,identity,adv``. Both are accepted.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

QR_URL_PREFIX = "https://wa.me/settings/linked_devices#"
_REF = re.compile(r"[A-Za-z0-9@+/=_.\-]{1,256}")
"""What WhatsApp refs are made of (``2@`` and base64); a URL or stray text is not a ref."""


class QRFormatError(ValueError):
    """The text is not a WhatsApp linking QR code."""


@dataclass(frozen=True, repr=False)
class ScannedQR:
    """The fields of a linking QR code. ``repr`` hides the keys and secret."""

    ref: str
    noise_public: bytes
    identity_public: bytes
    adv_secret: bytes
    platform: str | None
    had_url_prefix: bool

    def __repr__(self) -> str:
        return f"ScannedQR(platform={self.platform!r}, url_form={self.had_url_prefix})"


def _key(field: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise QRFormatError(f"the {field} is not valid base64") from e
    if len(raw) != 32:
        raise QRFormatError(f"the {field} is {len(raw)} bytes, not 32")
    return raw


def parse_qr(text: str) -> ScannedQR:
    """Split and decode a QR string; raise :class:`QRFormatError` on anything malformed."""
    text = text.strip()
    had_prefix = text.startswith(QR_URL_PREFIX)
    if had_prefix:
        text = text[len(QR_URL_PREFIX) :]
    parts = text.split(",")
    if len(parts) not in (4, 5):
        raise QRFormatError(f"expected 4 or 5 comma-separated fields, got {len(parts)}")
    ref, noise, identity, adv = parts[:4]
    if not _REF.fullmatch(ref):
        raise QRFormatError("the ref is empty or has characters a ref never has")
    platform: str | None = None
    if len(parts) == 5:
        platform = parts[4]
        if not platform or not platform.isalnum():
            raise QRFormatError("the platform id is empty or not alphanumeric")
    return ScannedQR(
        ref=ref,
        noise_public=_key("noise key", noise),
        identity_public=_key("identity key", identity),
        adv_secret=_key("adv secret", adv),
        platform=platform,
        had_url_prefix=had_prefix,
    )
