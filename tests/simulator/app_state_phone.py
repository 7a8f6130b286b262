"""The phone's side of app state: its memory as mutations, its patches, and what it makes of
its companions' patches.

The phone keeps a plain view of each collection (index → action value). :func:`reconcile`
compares it with the phone's memory (``phone_memory``) and turns every difference into a patch
encrypted with the phone's latest key (contacts → ``critical_unblock_low`` ``contact`` /
``lid_contact``; pinned → ``regular_low`` ``pin_v1``; archived → ``archive``; marked unread →
``markChatAsRead``; muted → ``regular_high`` ``mute``; its own push name → ``critical_block``
``setting_pushName``), so a change made anywhere in the memory (admin API, bulk import) reaches
the companions at their next sync. A companion's patch is decrypted with the phone's keys and
applied to the memory (:func:`take_patch`), so it causes no patch of the phone's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2, wa_sync_action_pb2

from .accounts import Account
from .app_state_crypto import (
    REMOVE,
    SET,
    AppStateCryptoError,
    MutationKeys,
    decode_record,
    encode_record,
    index_json,
    patch_mac,
    snapshot_mac,
)
from .app_state_keys import PhoneKeys
from .app_state_store import AccountCollections, Collection, next_hash
from .phone_memory import Contact, PhoneMemory

log = logging.getLogger("simulator.app_state_phone")

Value = wa_sync_action_pb2.SyncActionValue


@dataclass(frozen=True)
class Wanted:
    collection: str
    index: list[str]
    version: int
    """The action's version (whatsmeow ``MutationInfo.Version``)."""
    value: Value


def _chat_range(memory: PhoneMemory, jid: str) -> wa_sync_action_pb2.SyncActionMessageRange:
    found = memory.chats.get(jid)
    return wa_sync_action_pb2.SyncActionMessageRange(
        lastMessageTimestamp=found.last_timestamp if found else 0
    )


def wanted_state(account: Account, memory: PhoneMemory) -> dict[str, Wanted]:
    """Everything the memory says should be set, by index JSON."""
    out: list[Wanted] = []
    if account.push_name:
        value = Value(pushNameSetting=wa_sync_action_pb2.PushNameSetting(name=account.push_name))
        out.append(Wanted("critical_block", ["setting_pushName"], 1, value))
    for contact in memory.contacts.values():
        if not (contact.full_name or contact.first_name):
            continue
        if contact.jid.endswith("@lid"):
            action = wa_sync_action_pb2.LidContactAction(
                fullName=contact.full_name, firstName=contact.first_name
            )
            out.append(
                Wanted(
                    "critical_unblock_low",
                    ["lid_contact", contact.jid],
                    1,
                    Value(lidContactAction=action),
                )
            )
            continue
        contact_action = wa_sync_action_pb2.ContactAction(
            fullName=contact.full_name, firstName=contact.first_name
        )
        if contact.lid:
            contact_action.lidJID = contact.lid
        out.append(
            Wanted(
                "critical_unblock_low",
                ["contact", contact.jid],
                2,
                Value(contactAction=contact_action),
            )
        )
    for chat in memory.chats.values():
        if chat.pinned:
            pin = wa_sync_action_pb2.PinAction(pinned=True)
            out.append(Wanted("regular_low", ["pin_v1", chat.jid], 5, Value(pinAction=pin)))
        if chat.archived:
            archive = wa_sync_action_pb2.ArchiveChatAction(
                archived=True, messageRange=_chat_range(memory, chat.jid)
            )
            out.append(
                Wanted("regular_low", ["archive", chat.jid], 3, Value(archiveChatAction=archive))
            )
        if chat.marked_unread:
            mark = wa_sync_action_pb2.MarkChatAsReadAction(
                read=False, messageRange=_chat_range(memory, chat.jid)
            )
            out.append(
                Wanted(
                    "regular_low",
                    ["markChatAsRead", chat.jid],
                    3,
                    Value(markChatAsReadAction=mark),
                )
            )
        if chat.mute_end:
            end = chat.mute_end * 1000 if chat.mute_end > 0 else -1
            mute = wa_sync_action_pb2.MuteAction(muted=True, muteEndTimestamp=end)
            out.append(Wanted("regular_high", ["mute", chat.jid], 2, Value(muteAction=mute)))
    return {index_json(w.index).decode(): w for w in out}


def _default(memory: PhoneMemory, index: list[str]) -> Wanted | None:
    """What an index the memory no longer sets goes back to (None: the index is removed)."""
    kind, jid = index[0], index[1] if len(index) > 1 else ""
    if kind == "pin_v1":
        return Wanted("regular_low", index, 5, Value(pinAction={"pinned": False}))
    if kind == "archive":
        action = wa_sync_action_pb2.ArchiveChatAction(
            archived=False, messageRange=_chat_range(memory, jid)
        )
        return Wanted("regular_low", index, 3, Value(archiveChatAction=action))
    if kind == "markChatAsRead":
        mark = wa_sync_action_pb2.MarkChatAsReadAction(
            read=True, messageRange=_chat_range(memory, jid)
        )
        return Wanted("regular_low", index, 3, Value(markChatAsReadAction=mark))
    if kind == "mute":
        return Wanted("regular_high", index, 2, Value(muteAction={"muted": False}))
    return None


MANAGED = {
    "setting_pushName",
    "contact",
    "lid_contact",
    "pin_v1",
    "archive",
    "markChatAsRead",
    "mute",
}
"""The indexes the phone derives from its memory; others (stars, labels…) it only stores."""


def meaning(kind: str, value: Value) -> tuple[object, ...]:
    """What the memory keeps of a value: two values with the same meaning need no patch."""
    if kind == "pin_v1":
        return (value.pinAction.pinned,)
    if kind == "archive":
        return (value.archiveChatAction.archived,)
    if kind == "markChatAsRead":
        return (value.markChatAsReadAction.read,)
    if kind == "mute":
        end = value.muteAction.muteEndTimestamp
        return (value.muteAction.muted, end // 1000 if end > 0 else min(end, 0))
    if kind == "contact":
        action = value.contactAction
        return (action.fullName, action.firstName, action.lidJID)
    if kind == "lid_contact":
        return (value.lidContactAction.fullName, value.lidContactAction.firstName)
    if kind == "setting_pushName":
        return (value.pushNameSetting.name,)
    copy = Value()
    copy.CopyFrom(value)
    copy.ClearField("timestamp")
    return (copy.SerializeToString(deterministic=True),)


@dataclass
class PlainEntry:
    index: list[str]
    value: Value
    version: int


@dataclass
class AccountAppState:
    """One account's collections (server) and its phone's plain view of them."""

    server: AccountCollections = field(default_factory=AccountCollections)
    plain: dict[str, dict[str, PlainEntry]] = field(default_factory=dict)
    """By collection, then index JSON."""
    failures: list[str] = field(default_factory=list)
    """Companion patches the phone could not read (no key material in them)."""
    snapshots_served: int = 0
    corrupt_next: str = ""
    """``patch_mac``, ``value_mac`` or ``snapshot_mac``: the next patch or snapshot served to
    any companion of the account is corrupted that way (once)."""

    def view(self, name: str) -> dict[str, PlainEntry]:
        return self.plain.setdefault(name, {})


def make_patch(
    collection: Collection,
    keys: MutationKeys,
    key_id: bytes,
    changes: list[tuple[int, Wanted]],
    now_ms: int,
) -> wa_server_sync_pb2.SyncdPatch:
    """Encrypt ``changes`` into the next patch of ``collection`` (whatsmeow ``EncodePatch``)."""
    mutations = []
    for operation, wanted in changes:
        value = Value()
        value.CopyFrom(wanted.value)
        value.timestamp = now_ms
        record = encode_record(keys, key_id, wanted.index, value, wanted.version, operation)
        mutation = wa_server_sync_pb2.SyncdMutation(record=record)
        mutation.operation = operation  # type: ignore[assignment]
        mutations.append(mutation)
    new_hash, _ = next_hash(collection.hash, collection.records, mutations)
    version = collection.version + 1
    snapshot = snapshot_mac(keys, new_hash, version, collection.name)
    patch = wa_server_sync_pb2.SyncdPatch(
        mutations=mutations, snapshotMAC=snapshot, keyID=wa_server_sync_pb2.KeyId(ID=key_id)
    )
    value_macs = [m.record.value.blob[-32:] for m in mutations]
    patch.patchMAC = patch_mac(keys, snapshot, value_macs, version, collection.name)
    return patch


def reconcile(
    account: Account, memory: PhoneMemory, app_state: AccountAppState, keys: PhoneKeys
) -> list[Collection]:
    """Make the phone's patches for whatever the memory changed; the collections that moved."""
    wanted = wanted_state(account, memory)
    changes: dict[str, list[tuple[int, Wanted]]] = {}
    for name in app_state.server.collections:
        view = app_state.view(name)
        for key, entry in view.items():
            kind = entry.index[0]
            if kind not in MANAGED or key in wanted:
                continue
            default = _default(memory, entry.index)
            if default is None:
                changes.setdefault(name, []).append(
                    (REMOVE, Wanted(name, entry.index, entry.version, entry.value))
                )
            elif meaning(kind, default.value) != meaning(kind, entry.value):
                changes.setdefault(name, []).append((SET, default))
    for key, item in wanted.items():
        current = app_state.view(item.collection).get(key)
        if current is None or meaning(item.index[0], current.value) != meaning(
            item.index[0], item.value
        ):
            changes.setdefault(item.collection, []).append((SET, item))
    if not changes:
        return []
    sync_key = keys.latest(account)
    mutation_keys = MutationKeys.expand(sync_key.key_data)
    now_ms = int(time.time() * 1000)
    moved = []
    for name, items in changes.items():
        collection = app_state.server.collections[name]
        patch = make_patch(collection, mutation_keys, sync_key.key_id, items, now_ms)
        collection.append(patch)
        view = app_state.view(name)
        for operation, item in items:
            key_text = index_json(item.index).decode()
            if operation == REMOVE:
                view.pop(key_text, None)
            else:
                view[key_text] = PlainEntry(item.index, item.value, item.version)
        log.info(
            "%s: phone patch %s v%d (%d mutations)",
            account.phone,
            name,
            collection.version,
            len(items),
        )
        moved.append(collection)
    return moved


def apply_to_memory(
    account: Account,
    memory: PhoneMemory,
    index: list[str],
    value: Value,
    removed: bool,
    lid_to_pn: Callable[[str], str],
) -> None:
    """What a companion's mutation changes in the phone's memory."""
    kind = index[0]
    jid = lid_to_pn(index[1]) if len(index) > 1 else ""
    if kind == "pin_v1":
        pinned = value.pinAction.pinned and not removed
        memory.chat(jid).pinned = (value.timestamp // 1000 or int(time.time())) if pinned else 0
    elif kind == "archive":
        memory.chat(jid).archived = value.archiveChatAction.archived and not removed
    elif kind == "markChatAsRead":
        memory.chat(jid).marked_unread = not value.markChatAsReadAction.read and not removed
    elif kind == "mute":
        end = value.muteAction.muteEndTimestamp
        muted = value.muteAction.muted and not removed
        memory.chat(jid).mute_end = (end // 1000 if end > 0 else -1) if muted else 0
    elif kind == "contact":
        if removed:
            memory.contacts.pop(jid, None)
            return
        action = value.contactAction
        known = memory.contacts.get(jid)
        memory.contacts[jid] = Contact(
            jid, action.fullName, action.firstName, action.lidJID or (known.lid if known else "")
        )
    elif kind == "lid_contact":
        lid = index[1]
        if removed:
            memory.contacts.pop(lid, None)
            return
        action_lid = value.lidContactAction
        memory.contacts[lid] = Contact(lid, action_lid.fullName, action_lid.firstName)
    elif kind == "setting_pushName" and not removed:
        account.push_name = value.pushNameSetting.name


def take_patch(
    account: Account,
    memory: PhoneMemory,
    app_state: AccountAppState,
    keys: PhoneKeys,
    name: str,
    patch: wa_server_sync_pb2.SyncdPatch,
    lid_to_pn: Callable[[str], str],
) -> None:
    """The phone reads a companion's stored patch and applies it to its memory."""
    view = app_state.view(name)
    for mutation in patch.mutations:
        key = keys.find(mutation.record.keyID.ID)
        if key is None:
            app_state.failures.append(f"{name} v{patch.version.version}: unknown key")
            continue
        try:
            decoded = decode_record(
                MutationKeys.expand(key.key_data), mutation.record, mutation.operation
            )
        except AppStateCryptoError as e:
            app_state.failures.append(f"{name} v{patch.version.version}: {e}")
            continue
        removed = mutation.operation == REMOVE
        key_text = index_json(decoded.index).decode()
        if removed:
            view.pop(key_text, None)
        else:
            view[key_text] = PlainEntry(decoded.index, decoded.data.value, decoded.data.version)
        if decoded.index:
            apply_to_memory(account, memory, decoded.index, decoded.data.value, removed, lid_to_pn)
