"""User sync (``usync`` IQs): device lists, "is this number on WhatsApp", LIDs (whatsmeow
``user.go``, Baileys ``WAUSync``).

One request shape serves them all::

    <iq xmlns="usync" type="get" to="s.whatsapp.net">
      <usync sid mode context index="0" last="true">
        <query><devices version="2"/> | <contact/> | <lid/></query>
        <list><user jid="…"/> … | <user><contact>+123…</contact></user> …</list>
      </usync>
    </iq>

and the answer lists ``<user jid>`` with one child per protocol asked: ``<devices>`` (a
``<device-list>`` of ``<device id key-index is_hosted>`` and a signed ``<key-index-list ts>``),
``<contact type="in|out">``, ``<lid val>``. A malformed answer raises :class:`UsyncError`; a
malformed user entry is skipped (the others are still good).

:class:`DeviceCache` keeps device lists per user until :meth:`DeviceCache.invalidate` (a
``devices`` notification, a participant hash mismatch); every ``<lid>`` seen goes to the LID map.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .binary import BinaryError
from .binary.jid import (
    DEFAULT_USER_SERVER,
    HIDDEN_USER_SERVER,
    HOSTED_LID_SERVER,
    HOSTED_SERVER,
    JID,
    LEGACY_USER_SERVER,
)
from .binary.node import Node

if TYPE_CHECKING:
    from .lid import LIDMap

log = logging.getLogger("mautrix_whatsapp.whatsapp.usync")

SendIQ = Callable[..., Awaitable[Node]]


class UsyncError(ValueError):
    """A usync answer without the structure every answer has (``<usync><list>``)."""


@dataclass(frozen=True)
class KeyIndex:
    """The signed key-index list of a user's devices (ADV): when it was made and the blob."""

    timestamp: int
    signed: bytes | None = None
    expected_timestamp: int | None = None


@dataclass(frozen=True)
class DeviceList:
    """One user's devices as device JIDs (``user:device@server``), with their key indexes."""

    user: JID
    devices: tuple[JID, ...]
    key_indexes: dict[int, int] = field(default_factory=dict)
    key_index: KeyIndex | None = None


@dataclass(frozen=True)
class UserInfo:
    """What one usync answer said about one user."""

    jid: JID
    devices: DeviceList | None = None
    lid: JID | None = None
    is_on_whatsapp: bool | None = None
    query: str | None = None
    """The phone number as asked, for contact queries."""


def build_usync(
    users: Sequence[Node], query: Sequence[Node], *, mode: str = "query", context: str = "message"
) -> Node:
    """The ``<usync>`` element (the IQ's only child)."""
    return Node(
        "usync",
        {
            "sid": f"{secrets.randbelow(1 << 32)}.{secrets.randbelow(1 << 16)}-1",
            "mode": mode,
            "last": "true",
            "index": "0",
            "context": context,
        },
        [Node("query", {}, list(query)), Node("list", {}, list(users))],
    )


def user_node(jid: JID) -> Node:
    """``<user jid>`` for a user (device and agent dropped)."""
    if jid.server not in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
        raise ValueError(f"not a user JID for usync: {jid}")
    return Node("user", {"jid": jid.to_non_ad()})


def phone_user_node(phone: str) -> Node:
    """``<user><contact>+123…</contact></user>`` for a phone number (with or without ``+``)."""
    digits = phone.lstrip("+")
    if not digits.isdigit():
        raise ValueError(f"not a phone number: {phone!r}")
    return Node("user", {}, [Node("contact", {}, f"+{digits}")])


def parse_usync(response: Node) -> list[UserInfo]:
    """The users of a usync answer (the ``<iq type="result">``)."""
    usync = response.get_optional_child_by_tag("usync")
    user_list = usync.get_optional_child_by_tag("list") if usync is not None else None
    if user_list is None:
        raise UsyncError("usync answer without <usync><list>")
    users: list[UserInfo] = []
    for child in user_list.children:
        if child.tag != "user":
            continue
        try:
            users.append(_parse_user(child))
        except (BinaryError, ValueError) as e:
            log.warning("Skipping malformed usync user entry: %s", e)
    return users


def _parse_user(node: Node) -> UserInfo:
    jid = node.attr_jid("jid")
    devices_node = node.get_optional_child_by_tag("devices")
    devices = _parse_devices(jid, devices_node) if devices_node is not None else None
    lid_node = node.get_optional_child_by_tag("lid")
    lid = lid_node.attr_jid_opt("val") if lid_node is not None else None
    if lid is not None and lid.server != HIDDEN_USER_SERVER:
        raise ValueError(f"<lid val> is not a LID: {lid}")
    contact = node.get_optional_child_by_tag("contact")
    on_whatsapp: bool | None = None
    query: str | None = None
    if contact is not None:
        on_whatsapp = contact.attrs.get("type") == "in"
        if contact.content is not None:
            query = contact.content_str().removesuffix(f"@{LEGACY_USER_SERVER}")
    return UserInfo(jid=jid, devices=devices, lid=lid, is_on_whatsapp=on_whatsapp, query=query)


def _parse_devices(user: JID, node: Node) -> DeviceList:
    if node.get_optional_child_by_tag("error") is not None:
        raise ValueError(f"device query for {user} failed: {node.get_child_by_tag('error')!r}")
    user = user.to_non_ad()
    devices: list[JID] = []
    key_indexes: dict[int, int] = {}
    device_list = node.get_optional_child_by_tag("device-list")
    for device in device_list.children_by_tag("device") if device_list is not None else []:
        device_id = device.attr_int("id")
        if not 0 <= device_id <= 0xFFFF:
            raise ValueError(f"device id out of range: {device_id}")
        server = user.server
        if device.attr_bool_opt("is_hosted"):
            server = HOSTED_LID_SERVER if server == HIDDEN_USER_SERVER else HOSTED_SERVER
        devices.append(JID(user.user, server, device_id, ad=True))
        key_index = device.attr_int_opt("key-index")
        if key_index is not None:
            key_indexes[device_id] = key_index
    key_index_node = node.get_optional_child_by_tag("key-index-list")
    key_index_list: KeyIndex | None = None
    if key_index_node is not None:
        key_index_list = KeyIndex(
            key_index_node.attr_int("ts"),
            key_index_node.content_bytes() if key_index_node.content is not None else None,
            key_index_node.attr_int_opt("expected_ts"),
        )
    return DeviceList(user, tuple(devices), key_indexes, key_index_list)


class Usync:
    """The usync queries of one client, with the device-list cache (``client.devices``)."""

    def __init__(self, send_iq: SendIQ, lids: LIDMap) -> None:
        self._send_iq = send_iq
        self._lids = lids
        self._cache: dict[JID, DeviceList] = {}
        self._lock = asyncio.Lock()

    async def query(
        self, users: Sequence[Node], query: Sequence[Node], *, mode: str, context: str
    ) -> list[UserInfo]:
        """Send one usync IQ and parse it; LIDs in the answer are recorded."""
        response = await self._send_iq(
            "usync", "get", [build_usync(users, query, mode=mode, context=context)]
        )
        infos = parse_usync(response)
        pairs = [(info.lid, info.jid.to_non_ad()) for info in infos if info.lid is not None]
        if pairs:
            await self._lids.put_many(pairs)
        return infos

    # --- devices ---

    async def get_devices(self, users: Iterable[JID], *, refresh: bool = False) -> list[JID]:
        """Every device of ``users`` (device JIDs), from the cache or one usync query."""
        lists = await self.get_device_lists(users, refresh=refresh)
        return [device for device_list in lists for device in device_list.devices]

    async def get_device_lists(
        self, users: Iterable[JID], *, refresh: bool = False
    ) -> list[DeviceList]:
        wanted = list(dict.fromkeys(user.to_non_ad() for user in users))
        async with self._lock:
            missing = [user for user in wanted if refresh or user not in self._cache]
            if missing:
                infos = await self.query(
                    [user_node(user) for user in missing],
                    [Node("devices", {"version": "2"})],
                    mode="query",
                    context="message",
                )
                for info in infos:
                    if info.devices is not None:
                        self._cache[info.jid.to_non_ad()] = info.devices
            return [self._cache[user] for user in wanted if user in self._cache]

    def invalidate(self, user: JID) -> None:
        """Forget ``user``'s cached device list (a ``devices`` notification said it changed)."""
        self._cache.pop(user.to_non_ad(), None)

    def cached(self, user: JID) -> DeviceList | None:
        return self._cache.get(user.to_non_ad())

    # --- contacts and LIDs ---

    async def is_on_whatsapp(self, phones: Sequence[str]) -> list[UserInfo]:
        """Which of ``phones`` (``+123…`` or digits) have WhatsApp; ``jid`` is their account."""
        return await self.query(
            [phone_user_node(phone) for phone in phones],
            [Node("contact"), Node("lid")],
            mode="query",
            context="interactive",
        )

    async def get_lids(self, users: Sequence[JID]) -> dict[JID, JID]:
        """The LIDs of phone-number users (asked from the server; all are recorded)."""
        infos = await self.query(
            [user_node(user) for user in users], [Node("lid")], mode="query", context="message"
        )
        return {info.jid.to_non_ad(): info.lid for info in infos if info.lid is not None}
