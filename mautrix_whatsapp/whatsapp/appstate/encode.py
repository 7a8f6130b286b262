"""Building our own app-state patches (whatsmeow ``appstate/encode.go``).

A :class:`PatchInfo` names a collection and its mutations; the ``build_*`` functions make the
usual ones (mute, pin, archive, mark read/unread, star, delete chat, push name).
:func:`encode_patch` encrypts each mutation with the newest shared key and computes the MACs
against the collection's current state, so the server and our other devices can verify it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..binary.jid import JID
from ..crypto.cbc import encrypt
from ..proto import wa_common_pb2
from ..proto import wa_server_sync_pb2 as pb
from ..proto import wa_sync_action_pb2 as sa
from .hash import SET, HashState, PrevValueMAC, content_mac, index_mac, patch_mac
from .keys import (
    INDEX_ARCHIVE,
    INDEX_DELETE_CHAT,
    INDEX_MARK_CHAT_AS_READ,
    INDEX_MUTE,
    INDEX_PIN,
    INDEX_SETTING_PUSH_NAME,
    INDEX_STAR,
    ExpandedKeys,
    PatchName,
)


@dataclass
class MutationInfo:
    """One SET: the index (what, then its target), the action's schema version, the value."""

    index: list[str]
    version: int
    value: sa.SyncActionValue


@dataclass
class PatchInfo:
    """Mutations of one collection, sent together (``client.app_state.send(patch)``)."""

    type: PatchName
    mutations: list[MutationInfo]
    timestamp: datetime | None = field(default=None)
    """Stamped on every value; now if None."""


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def build_mute(
    target: JID, mute: bool, duration: timedelta | None = None, *, end: datetime | None = None
) -> PatchInfo:
    """Mute (forever without ``duration``/``end``) or unmute a chat."""
    end_ms: int | None = None
    if end is not None:
        end_ms = _millis(end)
    elif duration is not None and duration > timedelta(0):
        end_ms = int(time.time() * 1000) + int(duration.total_seconds() * 1000)
    if mute and end_ms is None:
        end_ms = -1
    action = sa.MuteAction(muted=mute)
    if end_ms is not None:
        action.muteEndTimestamp = end_ms
    return PatchInfo(
        PatchName.REGULAR_HIGH,
        [MutationInfo([INDEX_MUTE, str(target)], 2, sa.SyncActionValue(muteAction=action))],
    )


def _pin(target: JID, pin: bool) -> MutationInfo:
    return MutationInfo(
        [INDEX_PIN, str(target)], 5, sa.SyncActionValue(pinAction=sa.PinAction(pinned=pin))
    )


def build_pin(target: JID, pin: bool) -> PatchInfo:
    return PatchInfo(PatchName.REGULAR_LOW, [_pin(target, pin)])


def _message_range(
    last_timestamp: datetime | None, last_key: wa_common_pb2.MessageKey | None
) -> sa.SyncActionMessageRange:
    seconds = int((last_timestamp or datetime.now()).timestamp())
    result = sa.SyncActionMessageRange(lastMessageTimestamp=seconds)
    if last_key is not None:
        result.messages.append(sa.SyncActionMessage(key=last_key, timestamp=seconds))
    return result


def build_archive(
    target: JID,
    archive: bool,
    last_timestamp: datetime | None = None,
    last_key: wa_common_pb2.MessageKey | None = None,
) -> PatchInfo:
    """(Un)archive a chat; archiving also unpins it, as WhatsApp does."""
    value = sa.SyncActionValue(
        archiveChatAction=sa.ArchiveChatAction(
            archived=archive, messageRange=_message_range(last_timestamp, last_key)
        )
    )
    mutations = [MutationInfo([INDEX_ARCHIVE, str(target)], 3, value)]
    if archive:
        mutations.append(_pin(target, False))
    return PatchInfo(PatchName.REGULAR_LOW, mutations)


def build_mark_chat_as_read(
    target: JID,
    read: bool,
    last_timestamp: datetime | None = None,
    last_key: wa_common_pb2.MessageKey | None = None,
) -> PatchInfo:
    value = sa.SyncActionValue(
        markChatAsReadAction=sa.MarkChatAsReadAction(
            read=read, messageRange=_message_range(last_timestamp, last_key)
        )
    )
    return PatchInfo(
        PatchName.REGULAR_LOW, [MutationInfo([INDEX_MARK_CHAT_AS_READ, str(target)], 3, value)]
    )


def build_star(chat: JID, sender: JID, message_id: str, from_me: bool, starred: bool) -> PatchInfo:
    sender_part = "0" if chat.user == sender.user else str(sender)
    index = [INDEX_STAR, str(chat), message_id, "1" if from_me else "0", sender_part]
    value = sa.SyncActionValue(starAction=sa.StarAction(starred=starred))
    return PatchInfo(PatchName.REGULAR_HIGH, [MutationInfo(index, 2, value)])


def build_delete_chat(
    target: JID,
    last_timestamp: datetime | None = None,
    last_key: wa_common_pb2.MessageKey | None = None,
    delete_media: bool = False,
) -> PatchInfo:
    value = sa.SyncActionValue(
        deleteChatAction=sa.DeleteChatAction(messageRange=_message_range(last_timestamp, last_key))
    )
    index = [INDEX_DELETE_CHAT, str(target), "1" if delete_media else "0"]
    return PatchInfo(PatchName.REGULAR_HIGH, [MutationInfo(index, 6, value)])


def build_setting_push_name(name: str) -> PatchInfo:
    value = sa.SyncActionValue(pushNameSetting=sa.PushNameSetting(name=name))
    return PatchInfo(PatchName.CRITICAL_BLOCK, [MutationInfo([INDEX_SETTING_PUSH_NAME], 1, value)])


async def encode_patch(
    patch_info: PatchInfo,
    key_id: bytes,
    keys: ExpandedKeys,
    state: HashState,
    prev_value_mac: PrevValueMAC,
) -> tuple[bytes, HashState]:
    """Serialize ``patch_info`` as a SyncdPatch on top of ``state``.

    Returns the patch and the state it leads to (version + 1); the caller sends the patch and
    then re-fetches the collection, as whatsmeow does, rather than trusting this state.
    """
    stamp = _millis(patch_info.timestamp or datetime.now().astimezone())
    mutations: list[pb.SyncdMutation] = []
    for info in patch_info.mutations:
        value = sa.SyncActionValue()
        value.CopyFrom(info.value)
        value.timestamp = stamp
        index = json.dumps(info.index, separators=(",", ":"), ensure_ascii=False).encode()
        data = sa.SyncActionData(index=index, value=value, padding=b"", version=info.version)
        iv = os.urandom(16)
        content = iv + encrypt(keys.value_encryption, iv, data.SerializeToString())
        mac = content_mac(SET, content, key_id, keys.value_mac)
        mutations.append(
            pb.SyncdMutation(
                operation=SET,
                record=pb.SyncdRecord(
                    index=pb.SyncdIndex(blob=index_mac(index, keys.index)),
                    value=pb.SyncdValue(blob=content + mac),
                    keyID=pb.KeyId(ID=key_id),
                ),
            )
        )
    new_state = HashState(version=state.version, hash=state.hash)
    await new_state.update(mutations, prev_value_mac)
    new_state.version += 1
    patch = pb.SyncdPatch(
        snapshotMAC=new_state.snapshot_mac(patch_info.type, keys.snapshot_mac),
        keyID=pb.KeyId(ID=key_id),
        mutations=mutations,
    )
    patch.patchMAC = patch_mac(patch, patch_info.type, keys.patch_mac, new_state.version)
    return patch.SerializeToString(), new_state
