"""WhatsApp accounts as the simulator keeps them: a phone (the primary device) and its companions.

Each account has a phone number, a LID, and the primary device's identity key, which signs every
companion it links (ADV). Linked devices are found at login by their noise key.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair


class UnknownAccountError(LookupError):
    """No account has that phone number."""


@dataclass(repr=False)
class LinkedDevice:
    """A companion the phone has linked. Its prekeys live in the prekey store, by device JID."""

    device_id: int
    noise_public: bytes
    identity_public: bytes
    registration_id: int
    key_index: int
    platform: str
    """The ``<platform name>`` of pair-success, and what the phone shows."""
    signed_pre_key_id: int = 0
    signed_pre_key_public: bytes = b""
    signed_pre_key_signature: bytes = b""
    account_signature: bytes = b""
    """The phone's ADV signature; what ``usync`` would hand to peers."""
    device_signature: bytes = b""
    """The companion's countersignature from ``pair-device-sign`` (empty until then)."""
    confirmed: bool = False
    """True once the companion answered pair-success with a valid ``pair-device-sign``."""
    device_props: bytes = b""
    """The serialized ``DeviceProps`` of its registration (what it asked the phone for)."""

    def __repr__(self) -> str:
        return f"LinkedDevice(device_id={self.device_id}, confirmed={self.confirmed})"


@dataclass(repr=False)
class Account:
    """One WhatsApp user: the phone is device 0; companions get ids from 1 up."""

    phone: str
    lid: str
    identity: KeyPair
    registration_id: int
    push_name: str = ""
    devices: dict[int, LinkedDevice] = field(default_factory=dict)
    last_seen: float = field(default_factory=time.time)
    """When the phone was last active (seconds since the epoch); admin-settable."""
    _next_device_id: int = 1
    _next_key_index: int = 1

    @property
    def jid(self) -> str:
        return f"{self.phone}@s.whatsapp.net"

    @property
    def lid_jid(self) -> str:
        return f"{self.lid}@lid"

    def device_jid(self, device_id: int) -> str:
        return f"{self.phone}:{device_id}@s.whatsapp.net"

    def device_lid(self, device_id: int) -> str:
        return f"{self.lid}:{device_id}@lid"

    def allocate_device(self) -> tuple[int, int]:
        """A fresh (device id, key index) pair; neither is ever reused for this account."""
        device_id, key_index = self._next_device_id, self._next_key_index
        self._next_device_id += 1
        self._next_key_index += 1
        return device_id, key_index

    def __repr__(self) -> str:
        return f"Account(phone={self.phone}, lid={self.lid}, devices={sorted(self.devices)})"


class AccountRegistry:
    """All accounts of one simulator, found by phone number or by a linked device's noise key."""

    def __init__(self) -> None:
        self._by_phone: dict[str, Account] = {}
        self._phone_counter = itertools.count(15550000001)
        self._lid_counter = itertools.count(100000000000001)

    def create(self, phone: str | None = None, push_name: str = "") -> Account:
        """Make an account (a fresh number when none is given); an existing number is returned."""
        if phone is None:
            phone = str(next(self._phone_counter))
            while phone in self._by_phone:
                phone = str(next(self._phone_counter))
        phone = phone.lstrip("+")
        if phone in self._by_phone:
            return self._by_phone[phone]
        identity = KeyPair.generate()
        registration_id = int.from_bytes(identity.public[:2], "big") % 16380 + 1
        account = Account(
            phone=phone,
            lid=str(next(self._lid_counter)),
            identity=identity,
            registration_id=registration_id,
            push_name=push_name or f"Phone {phone[-4:]}",
        )
        self._by_phone[phone] = account
        return account

    def get(self, phone: str) -> Account:
        try:
            return self._by_phone[phone.lstrip("+")]
        except KeyError:
            raise UnknownAccountError(phone) from None

    def find(self, phone: str) -> Account | None:
        return self._by_phone.get(phone.lstrip("+"))

    def find_device(self, noise_public: bytes) -> tuple[Account, LinkedDevice] | None:
        """The account and device that own a noise key, for login."""
        for account in self._by_phone.values():
            for device in account.devices.values():
                if device.noise_public == noise_public:
                    return account, device
        return None

    def find_by_lid(self, lid: str) -> Account | None:
        for account in self._by_phone.values():
            if account.lid == lid:
                return account
        return None

    def __iter__(self) -> Iterator[Account]:
        return iter(list(self._by_phone.values()))
