"""The identity of our companion device: everything that must survive a restart to stay linked.

A fresh :class:`DeviceIdentity` (``generate()``) is unpaired: it has keys but no JID. Pairing
fills in the JID, LID, the account's signed ADV identity, platform and business name. Whoever
holds this object can log in as the device, so ``repr`` never shows a private key.

The Signal stores must use the same identity key pair and registration id.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field, replace
from typing import Any

from .binary.jid import JID
from .crypto.keys import KeyPair
from .signal.keys import SignedPreKeyRecord, generate_registration_id

MAX_PRE_KEY_ID = 0xFFFFFF
"""Pre-key ids travel as 3 bytes."""


class DeviceDataError(ValueError):
    """A stored device identity is malformed (bad key sizes, missing fields)."""


@dataclass(repr=False)
class DeviceIdentity:
    """Keys and linking data of our device. Mutable: pairing and pre-key uploads update it."""

    noise_key: KeyPair
    """The long-term Noise static key; the server knows the device by it."""
    identity_key: KeyPair
    """The Signal identity key; the phone signs it at pairing."""
    registration_id: int
    signed_pre_key: SignedPreKeyRecord
    adv_secret: bytes
    """The HMAC key of pair-success; in the QR code, or derived in code pairing."""
    jid: JID | None = None
    """``phone:device@s.whatsapp.net`` once paired."""
    lid: JID | None = None
    """``lid:device@lid`` once paired (or learned from ``<success>``)."""
    account: bytes | None = None
    """Serialized ADVSignedDeviceIdentity including the account key and both signatures."""
    platform: str = ""
    business_name: str = ""
    push_name: str = ""
    next_pre_key_id: int = 1
    """The id the next generated one-time pre-key gets (ids below it were uploaded)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free JSON-able room for later features (kept through to_dict/from_dict)."""

    @classmethod
    def generate(cls) -> DeviceIdentity:
        identity = KeyPair.generate()
        return cls(
            noise_key=KeyPair.generate(),
            identity_key=identity,
            registration_id=generate_registration_id(),
            signed_pre_key=SignedPreKeyRecord.generate(identity, 1),
            adv_secret=os.urandom(32),
        )

    @property
    def is_paired(self) -> bool:
        return self.jid is not None

    def unpaired_copy(self) -> DeviceIdentity:
        """This device's keys with the linking data dropped (after a failed pairing)."""
        return replace(self, jid=None, lid=None, account=None, platform="", business_name="")

    def __repr__(self) -> str:
        return f"DeviceIdentity(jid={self.jid}, lid={self.lid})"

    # --- plain-data form, for stores that keep JSON ---

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (bytes as base64). Contains private keys: store it as a secret."""
        b64 = _b64
        return {
            "noise_private": b64(self.noise_key.private),
            "identity_private": b64(self.identity_key.private),
            "registration_id": self.registration_id,
            "signed_pre_key": b64(self.signed_pre_key.serialize()),
            "adv_secret": b64(self.adv_secret),
            "jid": str(self.jid) if self.jid else None,
            "lid": str(self.lid) if self.lid else None,
            "account": b64(self.account) if self.account is not None else None,
            "platform": self.platform,
            "business_name": self.business_name,
            "push_name": self.push_name,
            "next_pre_key_id": self.next_pre_key_id,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceIdentity:
        try:
            identity = KeyPair.from_private(_unb64(data["identity_private"], 32))
            account = data.get("account")
            return cls(
                noise_key=KeyPair.from_private(_unb64(data["noise_private"], 32)),
                identity_key=identity,
                registration_id=int(data["registration_id"]),
                signed_pre_key=SignedPreKeyRecord.deserialize(_unb64(data["signed_pre_key"])),
                adv_secret=_unb64(data["adv_secret"], 32),
                jid=JID.parse(data["jid"]) if data.get("jid") else None,
                lid=JID.parse(data["lid"]) if data.get("lid") else None,
                account=_unb64(account) if account is not None else None,
                platform=str(data.get("platform", "")),
                business_name=str(data.get("business_name", "")),
                push_name=str(data.get("push_name", "")),
                next_pre_key_id=int(data.get("next_pre_key_id", 1)),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DeviceDataError(f"invalid stored device identity: {e}") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, size: int | None = None) -> bytes:
    raw = base64.b64decode(str(text), validate=True)
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw
