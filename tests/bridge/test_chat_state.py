"""Chat state mirroring: what the phone's state of a chat becomes on the user's own account
(read marker, marked unread, push rule, tags), decided without I/O; the app-state events it
comes from live; and that nothing is sent without a double puppet."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from mautrix_whatsapp.config import ChatStateSettings
from mautrix_whatsapp.db.history import HistoryConversationRow
from mautrix_whatsapp.portal.chat_state import (
    ChatStateChange,
    apply,
    backfill_change,
    is_muted,
    live_change,
    updated_conversation,
)
from mautrix_whatsapp.session import ChatStateChanged
from mautrix_whatsapp.wa_chat_state import translate_chat_state_event
from mautrix_whatsapp.whatsapp.appstate import events as app_events
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_sync_action_pb2 as sa

NOW = 1_800_000_000.0
ALL = ChatStateSettings(
    mute_bridging=True,
    archive_tag="m.lowpriority",
    pinned_tag="m.favourite",
    sync_manual_marked_unread=True,
)
GO_DEFAULTS = ChatStateSettings(
    mute_bridging=False, archive_tag=None, pinned_tag=None, sync_manual_marked_unread=True
)


def _conv(**fields: Any) -> HistoryConversationRow:
    values: dict[str, Any] = {"last_message_at": int(NOW) - 3600, **fields}
    return HistoryConversationRow("@u:example.com", "1555@s.whatsapp.net", **values)


def test_muted_means_for_ever_or_until_a_time_ahead() -> None:
    assert is_muted(-1, NOW)
    assert is_muted(NOW + 1, NOW)
    assert not is_muted(NOW - 1, NOW)
    assert not is_muted(0, NOW)


def test_a_chat_read_on_the_phone_is_read_and_nothing_else() -> None:
    assert backfill_change(_conv(), ALL, 0, NOW) == ChatStateChange(read=True)


def test_unread_chats_stay_unread_until_older_than_the_threshold() -> None:
    unread = _conv(unread_count=3)
    assert backfill_change(unread, ALL, 0, NOW) == ChatStateChange(read=False)
    assert backfill_change(unread, ALL, 2, NOW) == ChatStateChange(read=False)
    stale = _conv(unread_count=3, last_message_at=int(NOW) - 3 * 3600)
    assert backfill_change(stale, ALL, 2, NOW).read
    assert not backfill_change(stale, ALL, 0, NOW).read  # 0: never


def test_marked_unread_by_hand_is_kept_unless_read_by_age_or_turned_off() -> None:
    marked = _conv(marked_unread=True)
    assert backfill_change(marked, ALL, 0, NOW) == ChatStateChange(marked_unread=True)
    old = _conv(marked_unread=True, last_message_at=int(NOW) - 48 * 3600)
    assert backfill_change(old, ALL, 24, NOW) == ChatStateChange(read=True)
    off = ChatStateSettings(True, None, None, sync_manual_marked_unread=False)
    assert backfill_change(marked, off, 0, NOW).marked_unread is None


def test_mute_pin_and_archive_follow_the_config() -> None:
    conv = _conv(mute_end=-1, pinned_at=int(NOW) - 10, archived=True)
    change = backfill_change(conv, ALL, 0, NOW)
    assert change.muted is True
    assert change.tags == (("m.favourite", True), ("m.lowpriority", True))
    assert backfill_change(_conv(mute_end=int(NOW) - 5), ALL, 0, NOW).muted is None
    assert backfill_change(conv, GO_DEFAULTS, 0, NOW) == ChatStateChange(read=True)


def test_live_changes_map_one_setting_each() -> None:
    def change(**fields: Any) -> ChatStateChange:
        evt = ChatStateChanged("1555@s.whatsapp.net", NOW, **fields)
        return live_change(evt, ALL, NOW)

    assert change(pinned=True) == ChatStateChange(tags=(("m.favourite", True),))
    assert change(pinned=False) == ChatStateChange(tags=(("m.favourite", False),))
    assert change(archived=False) == ChatStateChange(tags=(("m.lowpriority", False),))
    assert change(mute_end=-1.0) == ChatStateChange(muted=True)
    assert change(mute_end=0.0) == ChatStateChange(muted=False)
    assert change(mute_end=NOW - 60) == ChatStateChange(muted=False)
    assert change(read=True) == ChatStateChange(read=True, marked_unread=False)
    assert change(read=False) == ChatStateChange(marked_unread=True)
    evt = ChatStateChanged("1555@s.whatsapp.net", NOW, pinned=True, mute_end=-1.0)
    assert live_change(evt, GO_DEFAULTS, NOW).empty


def test_a_snapshots_read_does_not_move_the_read_marker() -> None:
    evt = ChatStateChanged("1555@s.whatsapp.net", NOW, read=True, from_full_sync=True)
    assert live_change(evt, ALL, NOW) == ChatStateChange(marked_unread=False)


def test_a_chat_not_yet_filled_keeps_the_new_setting_for_its_portal() -> None:
    conv = _conv(unread_count=2, marked_unread=True)

    def after(**fields: Any) -> HistoryConversationRow:
        return updated_conversation(conv, ChatStateChanged(conv.chat_jid, NOW, **fields))

    assert after(pinned=True).pinned_at == int(NOW)
    assert after(pinned=False).pinned_at == 0
    assert after(archived=True).archived
    assert after(mute_end=-1.0).mute_end == -1
    read = after(read=True)
    assert (read.unread_count, read.marked_unread) == (0, False)
    assert backfill_change(read, ALL, 0, NOW).read
    assert after(read=False).marked_unread


class _FakeLIDs:
    async def get_pn(self, jid: JID) -> JID | None:
        return JID("1555", "s.whatsapp.net") if jid.user == "99" else None


async def test_app_state_events_become_chat_state_changes() -> None:
    client = cast(Any, SimpleNamespace(lids=_FakeLIDs()))
    at = datetime.fromtimestamp(NOW, UTC)
    dm = JID("1555", "s.whatsapp.net")
    lid = JID("99", "lid")

    async def of(event: object) -> ChatStateChanged | None:
        return await translate_chat_state_event(client, event)

    assert await of(app_events.Pin(lid, True, at, False)) == ChatStateChanged(
        "1555@s.whatsapp.net", NOW, pinned=True
    )
    archive = app_events.Archive(dm, False, at, True, sa.ArchiveChatAction())
    assert (await of(archive)) == ChatStateChanged(
        str(dm), NOW, archived=False, from_full_sync=True
    )
    forever = app_events.Mute(dm, True, app_events.MUTED_FOREVER, at, False)
    assert (await of(forever)) == ChatStateChanged(str(dm), NOW, mute_end=-1.0)
    until = app_events.Mute(dm, True, datetime.fromtimestamp(NOW + 60, UTC), at, False)
    assert (await of(until)) == ChatStateChanged(str(dm), NOW, mute_end=NOW + 60)
    unmuted = app_events.Mute(dm, False, None, at, False)
    assert (await of(unmuted)) == ChatStateChanged(str(dm), NOW, mute_end=0.0)
    read = app_events.MarkChatAsRead(dm, False, at, False, sa.MarkChatAsReadAction())
    assert (await of(read)) == ChatStateChanged(str(dm), NOW, read=False)
    assert await of(app_events.PushNameSetting("me", at, False)) is None


class _RecordingIntent:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def mark_read(self, room_id: str, event_id: str) -> None:
        self.calls.append(("read", room_id, event_id))

    async def set_account_data(self, kind: str, data: Any, room_id: str) -> None:
        self.calls.append(("data", kind, data, room_id))

    async def set_push_rule(self, scope: str, kind: str, rule: str, actions: list[Any]) -> None:
        self.calls.append(("push", str(scope), str(kind), rule, [str(a) for a in actions]))

    async def remove_push_rule(self, scope: str, kind: str, rule: str) -> None:
        self.calls.append(("unpush", rule))

    async def set_room_tag(self, room_id: str, tag: str) -> None:
        self.calls.append(("tag", room_id, tag))

    async def remove_room_tag(self, room_id: str, tag: str) -> None:
        self.calls.append(("untag", room_id, tag))


def _portal(puppet: Any) -> Any:
    async def get(user_mxid: str) -> Any:
        return puppet

    async def get_last(jid: str, receiver: str) -> Any:
        return SimpleNamespace(mxid="$last")

    tables = SimpleNamespace(messages=SimpleNamespace(get_last=get_last))
    bridge = SimpleNamespace(tables=tables, double_puppets=SimpleNamespace(get=get))
    return SimpleNamespace(
        mxid="!room",
        jid="1555@s.whatsapp.net",
        receiver="",
        bridge=bridge,
        log=logging.getLogger(),
    )


@pytest.mark.parametrize("with_registry", [True, False])
async def test_nothing_is_sent_without_a_double_puppet(with_registry: bool) -> None:
    portal = _portal(None)
    if not with_registry:
        del portal.bridge.double_puppets
    user = cast(Any, SimpleNamespace(mxid="@u:example.com"))
    assert not await apply(portal, user, ChatStateChange(read=True, muted=True))


async def test_a_change_is_made_as_the_user() -> None:
    intent = _RecordingIntent()
    portal = _portal(SimpleNamespace(intent=intent))
    user = cast(Any, SimpleNamespace(mxid="@u:example.com"))
    change = ChatStateChange(
        read=True, marked_unread=False, muted=True, tags=(("m.favourite", True), ("x", False))
    )
    assert await apply(portal, user, change)
    assert intent.calls == [
        ("read", "!room", "$last"),
        ("data", "m.marked_unread", {"unread": False}, "!room"),
        ("data", "com.famedly.marked_unread", {"unread": False}, "!room"),
        ("push", "global", "room", "!room", ["dont_notify"]),
        ("tag", "!room", "m.favourite"),
        ("untag", "!room", "x"),
    ]
    intent.calls.clear()
    assert await apply(portal, user, ChatStateChange(muted=False))
    assert intent.calls == [("unpush", "!room")]
    assert not await apply(portal, user, ChatStateChange())
