"""Fetching other devices' pre-key bundles (whatsmeow ``fetchPreKeys``/``nodeToPreKeyBundle``).

A device we have no Signal session with is asked for at the server::

    <iq xmlns="encrypt" type="get"><key><user jid="…" reason="identity"/>…</key></iq>

and each ``<user jid>`` of the answer's ``<list>`` holds ``<registration>`` (4 bytes),
``<identity>`` (32), an optional one-time ``<key><id/><value/></key>`` and the signed
``<skey><id/><value/><signature/></skey>`` — directly or inside ``<keys>`` (the form a retry
receipt carries). Ids are 3 big-endian bytes. A bad entry becomes a :class:`BundleError` for that
device only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from .binary import BinaryError
from .binary.jid import JID
from .binary.node import Node
from .signal.errors import SignalError
from .signal.keys import PreKeyBundle

SendIQ = Callable[..., Awaitable[Node]]


class BundleError(ValueError):
    """A pre-key bundle we could not read (or the server's error for that device)."""


def _bytes(node: Node, tag: str, size: int) -> bytes:
    child = node.get_optional_child_by_tag(tag)
    if child is None:
        raise BundleError(f"pre-key bundle lacks <{tag}>")
    try:
        data = child.content_bytes()
    except BinaryError as e:
        raise BundleError(f"<{tag}> is not bytes") from e
    if len(data) != size:
        raise BundleError(f"<{tag}> has {len(data)} bytes, not {size}")
    return data


def _key_id(node: Node) -> int:
    return int.from_bytes(_bytes(node, "id", 3), "big")


def parse_bundle(device: int, node: Node) -> PreKeyBundle:
    """The bundle in ``node`` (a ``<user>`` of the answer, or a retry ``<receipt>``)."""
    error = node.get_optional_child_by_tag("error")
    if error is not None:
        raise BundleError(f"server error for the pre-key bundle: {error.attrs}")
    registration = int.from_bytes(_bytes(node, "registration", 4), "big")
    keys = node.get_optional_child_by_tag("keys") or node
    identity = _bytes(keys, "identity", 32)
    signed = keys.get_optional_child_by_tag("skey")
    if signed is None:
        raise BundleError("pre-key bundle lacks <skey>")
    one_time = keys.get_optional_child_by_tag("key")
    try:
        return PreKeyBundle(
            registration_id=registration,
            device_id=device,
            identity_key=identity,
            signed_pre_key_id=_key_id(signed),
            signed_pre_key=_bytes(signed, "value", 32),
            signed_pre_key_signature=_bytes(signed, "signature", 64),
            pre_key_id=_key_id(one_time) if one_time is not None else None,
            pre_key=_bytes(one_time, "value", 32) if one_time is not None else None,
        )
    except SignalError as e:
        raise BundleError(f"invalid pre-key bundle: {e}") from e


async def fetch_bundles(
    send_iq: SendIQ, devices: Sequence[JID]
) -> dict[JID, PreKeyBundle | BundleError]:
    """Ask for the bundles of ``devices``; each maps to its bundle or the reason it has none."""
    request = Node(
        "key",
        {},
        [Node("user", {"jid": device, "reason": "identity"}) for device in devices],
    )
    response = await send_iq("encrypt", "get", [request])
    answer = response.get_optional_child_by_tag("list")
    if answer is None:
        raise BundleError("pre-key answer without <list>")
    result: dict[JID, PreKeyBundle | BundleError] = {}
    for user in answer.children_by_tag("user"):
        try:
            jid = user.attr_jid("jid")
        except BinaryError:
            continue
        try:
            result[jid] = parse_bundle(jid.device, user)
        except (BundleError, BinaryError) as e:
            result[jid] = e if isinstance(e, BundleError) else BundleError(str(e))
    for device in devices:
        result.setdefault(device, BundleError(f"no pre-key bundle for {device} in the answer"))
    return result
