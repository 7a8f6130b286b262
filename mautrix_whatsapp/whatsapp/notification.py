"""Server notifications about other people's devices and keys (whatsmeow ``notification.go``).

- ``devices``: a user added, removed or re-keyed a device → :class:`~.events.DevicesChanged`,
  after every hook in ``client.device_list_invalidators`` was called with the user (and with
  its LID, when the notification names one): whoever caches device lists drops them there.
- ``encrypt`` with ``<identity/>``: the user's identity key changed (new phone, reinstall) → all
  Signal sessions and stored identities of that user are deleted, then
  :class:`~.events.IdentityChanged`. (The ``<count/>`` kind is the client's pre-key top-up.)
- ``picture`` → :class:`~.events.PictureChanged`; ``privacy_token`` →
  :class:`~.events.PrivacyTokenReceived`; ``account_sync`` → :class:`~.events.AccountSyncChanged`.

The client acks every notification itself; a malformed one is logged and dropped here.
:func:`install` registers the handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from .binary.errors import BinaryError
from .binary.jid import JID
from .binary.node import Node
from .events import (
    AccountSyncChanged,
    DeviceListChange,
    DevicesChanged,
    IdentityChanged,
    PictureChanged,
    PrivacyTokenReceived,
)

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "DeviceListInvalidator",
    "install",
    "parse_account_sync",
    "parse_devices",
    "parse_pictures",
    "parse_privacy_tokens",
]

log = logging.getLogger("mautrix_whatsapp.whatsapp.notification")

DeviceListInvalidator = Callable[[JID], Awaitable[None] | None]
"""Called with a user (non-AD JID) whose cached device list is stale."""

_DEVICE_ACTIONS = frozenset({"add", "remove", "update"})


def parse_devices(node: Node) -> DevicesChanged:
    """``<notification type="devices" from lid?><add|remove|update device_hash>…``."""
    user = node.attr_jid("from").to_non_ad()
    if not user.is_user:
        raise BinaryError(f"devices notification from {user}")
    changes: list[DeviceListChange] = []
    for child in node.children:
        if child.tag not in _DEVICE_ACTIONS:
            continue
        devices = list(child.iter_children("device"))
        key_index = devices[0].attr_int_opt("key-index") if devices else None
        changes.append(
            DeviceListChange(
                action=child.tag,
                devices=tuple(d.attr_jid("jid") for d in devices),
                device_hash=child.attr_str_opt("device_hash") or child.attr_str_opt("hash") or "",
                device_lid_hash=child.attr_str_opt("device_lid_hash") or "",
                key_index=key_index,
                lids=tuple(lid for d in devices if (lid := d.attr_jid_opt("lid")) is not None),
            )
        )
    lid = node.attr_jid_opt("lid")
    return DevicesChanged(
        user=user,
        lid=lid.to_non_ad() if lid is not None else None,
        timestamp=node.attr_unix_time_opt("t"),
        changes=tuple(changes),
    )


def parse_pictures(node: Node) -> list[PictureChanged]:
    """``<notification type="picture" t><set|add jid id author?/>|<delete jid/>…``."""
    timestamp = node.attr_unix_time_opt("t")
    events = []
    for child in node.children:
        if child.tag not in ("set", "add", "delete"):
            continue
        removed = child.tag == "delete"
        events.append(
            PictureChanged(
                jid=child.attr_jid("jid"),
                author=child.attr_jid_opt("author"),
                timestamp=timestamp,
                removed=removed,
                picture_id="" if removed else child.attr_str("id"),
            )
        )
    return events


def parse_privacy_tokens(node: Node) -> list[PrivacyTokenReceived]:
    """``<notification type="privacy_token" from sender_lid?><tokens><token type t>…``."""
    sender = node.attr_jid("from").to_non_ad()
    sender_lid = node.attr_jid_opt("sender_lid")
    tokens = node.get_child_by_tag("tokens")
    events = []
    for child in tokens.iter_children("token"):
        if child.attr_str_opt("type") != "trusted_contact":
            continue
        events.append(
            PrivacyTokenReceived(
                sender=sender,
                sender_lid=sender_lid.to_non_ad() if sender_lid is not None else None,
                token=child.content_bytes(),
                timestamp=child.attr_unix_time_opt("t"),
            )
        )
    return events


def parse_account_sync(node: Node) -> AccountSyncChanged:
    """``<notification type="account_sync">``: ``privacy``/``devices``/``picture``… children."""
    devices: tuple[JID, ...] = ()
    own_devices = node.get_optional_child_by_tag("devices")
    if own_devices is not None:
        devices = tuple(d.attr_jid("jid") for d in own_devices.iter_children("device"))
    return AccountSyncChanged(
        what=tuple(child.tag for child in node.children),
        timestamp=node.attr_unix_time_opt("t"),
        devices=devices,
    )


async def _invalidate(client: Client, users: list[JID]) -> None:
    for hook in list(client.device_list_invalidators):
        for user in users:
            try:
                result = hook(user)
                if result is not None:
                    await result
            except Exception:
                log.exception("Device list invalidation hook failed for %s", user)


async def _on_devices(client: Client, node: Node) -> None:
    event = parse_devices(node)
    await _invalidate(client, [event.user] + ([event.lid] if event.lid else []))
    await client.dispatch(event)


async def _on_encrypt(client: Client, node: Node) -> None:
    if node.get_optional_child_by_tag("identity") is None:
        log.debug("Unknown encrypt notification %s", node.attrs.get("id"))
        return
    sender = node.attr_jid("from")
    if not sender.is_user:
        raise BinaryError(f"identity change from {sender}")
    timestamp: datetime | None = node.attr_unix_time_opt("t")
    log.debug("Identity of %s changed; deleting its sessions and identities", sender)
    # Sessions move to the LID once it is known (send.migrate_session), so a notification from
    # the phone number must clear the LID's too, and the other way round.
    alternate = await client.lids.alternate(sender.to_non_ad())
    for user in (sender, *([alternate] if alternate is not None else [])):
        await client.signal_store.delete_all_sessions(user.signal_address_user)
        await client.signal_store.delete_all_identities(user.signal_address_user)
    await client.dispatch(IdentityChanged(jid=sender.to_non_ad(), timestamp=timestamp))


async def _on_pictures(client: Client, node: Node) -> None:
    for event in parse_pictures(node):
        await client.dispatch(event)


async def _on_privacy_tokens(client: Client, node: Node) -> None:
    for event in parse_privacy_tokens(node):
        await client.dispatch(event)


async def _on_account_sync(client: Client, node: Node) -> None:
    event = parse_account_sync(node)
    own = client.device.jid
    if "devices" in event.what and own is not None:
        own_users = [own.to_non_ad()]
        if client.device.lid is not None:
            own_users.append(client.device.lid.to_non_ad())
        await _invalidate(client, own_users)
    await client.dispatch(event)


_HANDLERS: dict[str, Callable[[Client, Node], Awaitable[None]]] = {
    "devices": _on_devices,
    "encrypt": _on_encrypt,
    "picture": _on_pictures,
    "privacy_token": _on_privacy_tokens,
    "account_sync": _on_account_sync,
}


def install(client: Client) -> None:
    """Register the handlers of every notification type above on ``client``."""
    for kind, handle in _HANDLERS.items():
        client.add_notification_handler(kind, _guarded(client, kind, handle))


def _guarded(
    client: Client, kind: str, handle: Callable[[Client, Node], Awaitable[None]]
) -> Callable[[Node], Awaitable[None]]:
    async def handler(node: Node) -> None:
        try:
            await handle(client, node)
        except BinaryError as e:
            notification_id = node.attrs.get("id")
            log.warning("Ignoring a malformed %s notification %s: %s", kind, notification_id, e)

    return handler
