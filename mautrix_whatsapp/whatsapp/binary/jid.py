"""WhatsApp JIDs: addresses of users, devices, groups, broadcasts, newsletters and servers.

Text forms (as whatsmeow writes them): ``user@server``, ``user:device@server`` for a device,
``user.agent:device@server`` when a raw agent is set, ``integrator-user:device@interop`` for
interop users, and the bare server (``s.whatsapp.net``) for a server JID.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from .errors import JIDParseError

DEFAULT_USER_SERVER: Final = "s.whatsapp.net"
GROUP_SERVER: Final = "g.us"
LEGACY_USER_SERVER: Final = "c.us"
BROADCAST_SERVER: Final = "broadcast"
HIDDEN_USER_SERVER: Final = "lid"
LID_SERVER: Final = HIDDEN_USER_SERVER
MESSENGER_SERVER: Final = "msgr"
INTEROP_SERVER: Final = "interop"
NEWSLETTER_SERVER: Final = "newsletter"
HOSTED_SERVER: Final = "hosted"
HOSTED_LID_SERVER: Final = "hosted.lid"
BOT_SERVER: Final = "bot"

KNOWN_SERVERS: Final = frozenset(
    {
        DEFAULT_USER_SERVER,
        GROUP_SERVER,
        LEGACY_USER_SERVER,
        BROADCAST_SERVER,
        HIDDEN_USER_SERVER,
        MESSENGER_SERVER,
        INTEROP_SERVER,
        NEWSLETTER_SERVER,
        HOSTED_SERVER,
        HOSTED_LID_SERVER,
        BOT_SERVER,
    }
)

# The AD_JID "domain" byte. Any other value on s.whatsapp.net is a raw agent.
WHATSAPP_DOMAIN: Final = 0
LID_DOMAIN: Final = 1
HOSTED_DOMAIN: Final = 128
HOSTED_LID_DOMAIN: Final = 129

DOMAIN_SERVERS: Final[Mapping[int, str]] = {
    WHATSAPP_DOMAIN: DEFAULT_USER_SERVER,
    LID_DOMAIN: HIDDEN_USER_SERVER,
    HOSTED_DOMAIN: HOSTED_SERVER,
    HOSTED_LID_DOMAIN: HOSTED_LID_SERVER,
}
"""AD_JID domain byte → server. The domain of s.whatsapp.net is its raw agent (usually 0)."""

SERVER_DOMAINS: Final[Mapping[str, int]] = {
    HIDDEN_USER_SERVER: LID_DOMAIN,
    HOSTED_SERVER: HOSTED_DOMAIN,
    HOSTED_LID_SERVER: HOSTED_LID_DOMAIN,
}

AD_SERVERS: Final = frozenset({DEFAULT_USER_SERVER, *SERVER_DOMAINS})
"""Servers whose device JIDs travel as AD_JID."""

HOSTED_DEVICE_ID: Final = 99
"""The device id WhatsApp gives hosted (Cloud API) devices."""

_BOT_USER_RE: Final = re.compile(r"1313555[0-9]{4}|131655500[0-9]{2}")
# user[.agent][:device] and a lower-case dotted server; [0-9] (not \d) keeps digits ASCII.
_JID_RE: Final = re.compile(
    r"(?P<user>[0-9A-Za-z_-]*)(?:\.(?P<agent>[0-9]{1,3}))?(?::(?P<device>[0-9]{1,5}))?"
    r"@(?P<server>[0-9a-z]+(?:[.-][0-9a-z]+)*)"
)
_INTEROP_USER_RE: Final = re.compile(r"(?P<integrator>[0-9]{1,5})-(?P<user>.+)")


@dataclass(frozen=True, slots=True, repr=False)
class JID:
    """A WhatsApp JID.

    ``ad`` records that the JID is in device ("AD") form even though the device is 0, as in
    ``123:0@s.whatsapp.net``: such a JID was read from (and is written back as) an AD_JID. It is
    not part of equality or hashing, since ``123:0@…`` and ``123@…`` name the same device.
    """

    user: str
    server: str
    device: int = 0
    raw_agent: int = 0
    integrator: int = 0
    ad: bool = field(default=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> JID:
        """Parse a JID from its text form; raise JIDParseError for anything else."""
        if not isinstance(text, str):
            raise JIDParseError(f"a JID must be a string, not {type(text).__name__}")
        if "@" not in text:
            if text in KNOWN_SERVERS:
                return cls("", text)
            raise JIDParseError(f"not a JID: {text!r}")
        server_at = text.rfind("@")
        user_part, server = text[:server_at], text[server_at + 1 :]
        integrator = 0
        if server == INTEROP_SERVER:
            interop = _INTEROP_USER_RE.fullmatch(user_part)
            if interop is not None:
                integrator = int(interop["integrator"])
                user_part = interop["user"]
                if integrator > 0xFFFF:
                    raise JIDParseError(f"integrator out of range in JID {text!r}")
        match = _JID_RE.fullmatch(f"{user_part}@{server}")
        if match is None:
            raise JIDParseError(f"not a JID: {text!r}")
        user, agent, device = match["user"], match["agent"], match["device"]
        if not user and (agent is not None or device is not None):
            raise JIDParseError(f"device JID without a user: {text!r}")
        if not user and server not in KNOWN_SERVERS:
            # A bare server prints without "@", and only known servers read back that way.
            raise JIDParseError(f"JID without a user on an unknown server: {text!r}")
        jid = cls(
            user,
            server,
            device=int(device) if device is not None else 0,
            raw_agent=int(agent) if agent is not None else 0,
            integrator=integrator,
            ad=device is not None,
        )
        if jid.raw_agent > 0xFF or jid.device > 0xFFFF:
            raise JIDParseError(f"agent or device out of range in JID {text!r}")
        return jid

    @staticmethod
    def from_ad(user: str, domain: int, device: int) -> JID:
        """The JID an AD_JID stands for: the domain byte picks the server (or is a raw agent)."""
        server = DOMAIN_SERVERS.get(domain)
        if server is None:
            return make_jid(user, DEFAULT_USER_SERVER, device, domain, 0, True)
        return make_jid(user, server, device, 0, 0, True)

    def __str__(self) -> str:
        server = self.server
        user = self.user
        if not user:
            return server
        if server == INTEROP_SERVER:
            user = f"{self.integrator}-{user}"
        if self.raw_agent:
            return f"{user}.{self.raw_agent}:{self.device}@{server}"
        if self.device or self.ad:
            return f"{user}:{self.device}@{server}"
        return f"{user}@{server}"

    def __repr__(self) -> str:
        return f"<JID {self}>"

    @property
    def actual_agent(self) -> int:
        """The AD_JID domain byte: fixed by the server, else the raw agent."""
        return SERVER_DOMAINS.get(self.server, self.raw_agent)

    @property
    def signal_address_user(self) -> str:
        """The Signal address name: the user, plus ``_<domain>`` for a non-zero domain (LID)."""
        agent = self.actual_agent
        return f"{self.user}_{agent}" if agent else self.user

    @property
    def signal_address(self) -> tuple[str, int]:
        """(name, device id) of this device's Signal address, e.g. ``("123_1", 2)`` for LID.

        ``signal.address.SignalAddress(*jid.signal_address)`` makes the store key of it.
        """
        return self.signal_address_user, self.device

    def to_non_ad(self) -> JID:
        """The same JID without agent and device: the user (or group…) itself."""
        if not (self.device or self.raw_agent or self.ad):
            return self
        return JID(self.user, self.server, integrator=self.integrator)

    @property
    def user_int(self) -> int:
        """The user as a number (phone number or LID); raise JIDParseError if it is not one."""
        if not self.user.isascii() or not self.user.isdigit():
            raise JIDParseError(f"JID user is not numeric: {self}")
        return int(self.user)

    @property
    def is_empty(self) -> bool:
        return not self.server

    @property
    def is_server(self) -> bool:
        """A bare server JID such as ``s.whatsapp.net`` (the server itself, or ``g.us``)."""
        return not self.user and bool(self.server)

    @property
    def is_user(self) -> bool:
        """A person (phone number or LID, hosted or not), possibly one of their devices."""
        return self.server in AD_SERVERS and bool(self.user)

    @property
    def is_pn(self) -> bool:
        return self.server == DEFAULT_USER_SERVER

    @property
    def is_lid(self) -> bool:
        return self.server == HIDDEN_USER_SERVER or self.server == HOSTED_LID_SERVER

    @property
    def is_hosted(self) -> bool:
        return self.server == HOSTED_SERVER or self.server == HOSTED_LID_SERVER

    @property
    def is_group(self) -> bool:
        return self.server == GROUP_SERVER

    @property
    def is_broadcast(self) -> bool:
        return self.server == BROADCAST_SERVER

    @property
    def is_status_broadcast(self) -> bool:
        return self.server == BROADCAST_SERVER and self.user == "status"

    @property
    def is_broadcast_list(self) -> bool:
        """A broadcast list, which the status broadcast is not."""
        return self.server == BROADCAST_SERVER and self.user != "status"

    @property
    def is_newsletter(self) -> bool:
        return self.server == NEWSLETTER_SERVER

    @property
    def is_bot(self) -> bool:
        return self.server == BOT_SERVER or (
            self.server == DEFAULT_USER_SERVER
            and self.device == 0
            and _BOT_USER_RE.fullmatch(self.user) is not None
        )


def _slot_setter(name: str) -> Callable[[JID, object], None]:
    setter: Callable[[JID, object], None] = JID.__dict__[name].__set__
    return setter


_new_object = object.__new__
_set_user, _set_server, _set_device, _set_raw_agent, _set_integrator, _set_ad = map(
    _slot_setter, ("user", "server", "device", "raw_agent", "integrator", "ad")
)


def make_jid(
    user: str, server: str, device: int, raw_agent: int, integrator: int, ad: bool
) -> JID:
    """``JID(...)`` for the decoder's hot path, in half the time.

    A frozen dataclass's ``__init__`` assigns each field through ``object.__setattr__`` by name;
    this writes the slots through their descriptors directly. Same fields, same result.
    """
    jid: JID = _new_object(JID)
    _set_user(jid, user)
    _set_server(jid, server)
    _set_device(jid, device)
    _set_raw_agent(jid, raw_agent)
    _set_integrator(jid, integrator)
    _set_ad(jid, ad)
    return jid


EMPTY_JID: Final = JID("", "")
SERVER_JID: Final = JID("", DEFAULT_USER_SERVER)
GROUP_SERVER_JID: Final = JID("", GROUP_SERVER)
BROADCAST_SERVER_JID: Final = JID("", BROADCAST_SERVER)
STATUS_BROADCAST_JID: Final = JID("status", BROADCAST_SERVER)
PSA_JID: Final = JID("0", DEFAULT_USER_SERVER)
LEGACY_PSA_JID: Final = JID("0", LEGACY_USER_SERVER)
OFFICIAL_BUSINESS_JID: Final = JID("16505361212", LEGACY_USER_SERVER)
META_AI_JID: Final = JID("13135550002", DEFAULT_USER_SERVER)
NEW_META_AI_JID: Final = JID("867051314767696", BOT_SERVER)
