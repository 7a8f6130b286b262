"""Malformed WhatsApp stanzas and protobufs through the newer decoders: each either decodes or
raises its module's typed error (which the client turns into an ignored event), nothing else."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from typing import Any, cast

from mautrix_whatsapp.whatsapp.appstate.decode import parse_patch_list
from mautrix_whatsapp.whatsapp.appstate.errors import AppStateError
from mautrix_whatsapp.whatsapp.binary import BinaryError, Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.call import parse_call
from mautrix_whatsapp.whatsapp.group import parse_group_notification
from mautrix_whatsapp.whatsapp.group_info import GroupError, parse_group_node
from mautrix_whatsapp.whatsapp.history_sync import HistorySyncError, build_chunk, decode_blob
from mautrix_whatsapp.whatsapp.media.retry import MediaRetryError, parse_media_retry
from mautrix_whatsapp.whatsapp.message_info import MessageInfoError, parse_message_info
from mautrix_whatsapp.whatsapp.notification import (
    parse_account_sync,
    parse_devices,
    parse_pictures,
    parse_privacy_tokens,
)
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.receipt import ReceiptError, parse_receipt

from .gen import mutate_bytes
from .runner import Target, no_world_check

OWN = JID.parse("15559990000:4@s.whatsapp.net")
JIDS = [
    "15550001111@s.whatsapp.net",
    "15550001111:3@s.whatsapp.net",
    "120363000000000001@g.us",
    "status@broadcast",
    "1234567890@lid",
    "s.whatsapp.net",
    "@",
    "x@y@z",
    ":@s.whatsapp.net",
]
TAGS = [
    "call",
    "offer",
    "terminate",
    "receipt",
    "list",
    "item",
    "notification",
    "device",
    "devices",
    "key-index-list",
    "set",
    "delete",
    "add",
    "remove",
    "tokens",
    "token",
    "picture",
    "group",
    "participant",
    "description",
    "body",
    "collection",
    "patches",
    "patch",
    "snapshot",
    "rmr",
    "encrypt",
    "enc_p",
    "enc_iv",
    "error",
    "message",
    "enc",
    "privacy",
    "disappearing_mode",
    "account_sync",
    "locked",
    "announcement",
    "ephemeral",
    "create",
    "subject",
    "promote",
    "demote",
    "leave",
    "not_ephemeral",
    "membership_approval_mode",
]
ATTRS = [
    "id",
    "from",
    "to",
    "type",
    "participant",
    "recipient",
    "t",
    "jid",
    "call-id",
    "call-creator",
    "name",
    "version",
    "code",
    "count",
    "creator",
    "creation",
    "subject",
    "s_t",
    "s_o",
    "size",
    "key-index",
    "notify",
    "offline",
    "addressing_mode",
    "lid",
    "phash",
    "has_more_patches",
    "expiration",
    "media_type",
    "edit",
]
VALUES = [
    "",
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "abc",
    "retry",
    "read",
    "played",
    "sender",
    "inactive",
    "offer",
    "terminate",
    "devices",
    "picture",
    "add",
    "regular",
    "critical_block",
    "true",
    "false",
    "lid",
]


def node(rng: random.Random, depth: int = 3) -> Node:
    """A stanza of the tags and attributes these decoders read, values right or wrong."""
    attrs: dict[str, Any] = {}
    for _ in range(rng.randrange(6)):
        key = rng.choice(ATTRS)
        kind = rng.randrange(3)
        attrs[key] = (
            JID.parse(rng.choice(JIDS[:5]))
            if kind == 0
            else rng.choice(JIDS)
            if kind == 1
            else rng.choice(VALUES)
        )
    kind = rng.randrange(4) if depth > 0 else rng.randrange(2)
    content: Any
    if kind == 0:
        content = None
    elif kind == 1:
        content = rng.randbytes(rng.randrange(40))
    else:
        content = [node(rng, depth - 1) for _ in range(rng.randrange(4))]
    return Node(rng.choice(TAGS), attrs, content)


def _stanza(rng: random.Random, tag: str, attrs: dict[str, Any]) -> Node:
    root = node(rng)
    merged = {**attrs, **root.attrs} if rng.random() < 0.5 else {**root.attrs, **attrs}
    return Node(tag, merged, root.content)


def _history_blob(rng: random.Random) -> bytes:
    sync = wa_history_sync_pb2.HistorySync()
    sync.syncType = cast(Any, rng.randrange(7))
    for index in range(rng.randrange(3)):
        conv = sync.conversations.add()
        conv.ID = rng.choice(JIDS)
        message = conv.messages.add()
        message.message.key.ID = f"M{index}"
        message.message.key.remoteJID = rng.choice(JIDS)
        message.message.messageTimestamp = rng.choice([0, 1, 2**40, 1_700_000_000])
        message.message.message.conversation = "hi"
    raw = sync.SerializeToString()
    if rng.random() < 0.5:
        raw = mutate_bytes(rng, raw)
    compressed = zlib.compress(raw)
    return mutate_bytes(rng, compressed) if rng.random() < 0.5 else compressed


def _history_chunk(blob: bytes) -> object:
    """Inflate and parse a blob, then make its typed event as the client does."""
    sync = decode_blob(blob)
    return build_chunk(sync, wa_e2e_pb2.HistorySyncNotification(), "M")


def _check(decode: Callable[[Any], Any], *allowed: type[BaseException]) -> Callable[[Any], Any]:
    """Decode; the typed errors are the allowed outcome besides a result."""

    async def run(data: Any) -> None:
        try:
            outcome = decode(data)
            if hasattr(outcome, "__await__"):
                await outcome
        except allowed:
            pass

    return run


async def _no_download(ref: Any) -> bytes:
    raise AppStateError("no external blobs here")


def _target(
    name: str,
    generate: Callable[[random.Random], Any],
    run: Callable[[Any], Any],
    share: float = 1.0,
) -> Target:
    return Target(name, generate, lambda: no_world_check(run), share)


TARGETS = [
    _target("wa.history_blob", _history_blob, _check(_history_chunk, HistorySyncError)),
    _target(
        "wa.call",
        lambda rng: _stanza(rng, "call", {"from": rng.choice(JIDS)}),
        _check(parse_call, BinaryError),
    ),
    _target(
        "wa.receipt",
        lambda rng: _stanza(rng, "receipt", {"from": rng.choice(JIDS), "id": "X"}),
        _check(lambda n: parse_receipt(n, OWN, None), ReceiptError, BinaryError),
    ),
    _target(
        "wa.media_retry",
        lambda rng: _stanza(rng, "receipt", {"type": "server-error", "id": "X"}),
        _check(parse_media_retry, MediaRetryError, BinaryError),
    ),
    _target(
        "wa.notifications",
        lambda rng: (rng.randrange(4), _stanza(rng, "notification", {"from": rng.choice(JIDS)})),
        _check(
            lambda pair: [parse_devices, parse_pictures, parse_privacy_tokens, parse_account_sync][
                pair[0]
            ](pair[1]),
            BinaryError,
        ),
    ),
    _target(
        "wa.group_info",
        lambda rng: _stanza(rng, "group", {"id": "120363000000000001"}),
        _check(parse_group_node, GroupError),
    ),
    _target(
        "wa.group_notification",
        lambda rng: _stanza(
            rng, "notification", {"type": "w:gp2", "from": rng.choice(JIDS), "id": "N"}
        ),
        _check(parse_group_notification, GroupError),
    ),
    _target(
        "wa.appstate_patches",
        lambda rng: _stanza(rng, "collection", {"name": "regular", "version": "1"}),
        _check(lambda n: parse_patch_list(n, _no_download), AppStateError),
    ),
    _target(
        "wa.message_info",
        lambda rng: _stanza(rng, "message", {"from": rng.choice(JIDS), "id": "X", "t": "1"}),
        _check(lambda n: parse_message_info(n, OWN, None), MessageInfoError, BinaryError),
    ),
]
