"""Signal protocol addresses of WhatsApp devices.

Sessions, identities and sender keys are keyed by address, so the mapping from a JID's device to
an address decides which state a message uses; it must match whatsmeow's and Baileys' mapping or
records shared with (or migrated from) them would be looked up under the wrong key.
"""

from __future__ import annotations

from dataclasses import dataclass

WHATSAPP_DOMAIN = 0
LID_DOMAIN = 1
HOSTED_DOMAIN = 128
HOSTED_LID_DOMAIN = 129

SERVER_DOMAINS = {
    "s.whatsapp.net": WHATSAPP_DOMAIN,
    "lid": LID_DOMAIN,
    "hosted": HOSTED_DOMAIN,
    "hosted.lid": HOSTED_LID_DOMAIN,
}
"""JID server → the domain type that whatsmeow (``ActualAgent``) and Baileys put in addresses."""


@dataclass(frozen=True, slots=True)
class SignalAddress:
    """One remote device: a Signal ``name`` and a device id.

    The name is the JID's user part, with ``_<domain>`` appended for non-phone-number domains
    (``123_1`` for ``123@lid``), so a LID and a phone number never share sessions or identities.
    ``str()`` gives ``name:device``, the key whatsmeow's stores use.
    """

    name: str
    device: int

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name or "." in self.name:
            raise ValueError(f"invalid Signal address name {self.name!r}")
        if not 0 <= self.device <= 0xFFFFFFFF:
            raise ValueError(f"invalid Signal device id {self.device}")

    @classmethod
    def from_jid_parts(
        cls, user: str, device: int, server: str = "s.whatsapp.net"
    ) -> SignalAddress:
        """Build the address of ``user:device@server`` with the domain suffix rule."""
        try:
            domain = SERVER_DOMAINS[server]
        except KeyError:
            raise ValueError(f"no Signal addresses on server {server!r}") from None
        return cls(f"{user}_{domain}" if domain != WHATSAPP_DOMAIN else user, device)

    @property
    def user(self) -> str:
        """The name without its domain suffix."""
        return self.name.split("_", 1)[0]

    def __str__(self) -> str:
        return f"{self.name}:{self.device}"
