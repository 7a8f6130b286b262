"""Groups in the bridge, piece by piece: client group events as session events, the rules the
room's power levels follow, room avatars made WhatsApp pictures, and who a member is on Matrix.
(End to end: tests/e2e/test_groups.py and test_group_sharing.py.)"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from mautrix.types import EventType, PowerLevelStateEventContent, StateEvent, UserID
from PIL import Image

from mautrix_whatsapp import session as s
from mautrix_whatsapp.portal.membership import (
    AvatarError,
    avatar_jpeg,
    handle_matrix_state,
    update_member,
)
from mautrix_whatsapp.portal.metadata import Members, group_levels
from mautrix_whatsapp.wa_session import _group_failure, summarize_group, translate_event
from mautrix_whatsapp.whatsapp import events as ev
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.group_info import GroupInfo, GroupParticipant, NotInGroupError

GROUP = JID.parse("123-456@g.us")
ALICE_PN = JID.parse("15550001111@s.whatsapp.net")
ALICE_LID = JID.parse("42@lid")
BOB_PN = JID.parse("15550002222@s.whatsapp.net")
NOW = datetime(2026, 12, 6, tzinfo=UTC)


# ---- the session seam ----------------------------------------------------------------------


def test_group_change_names_people_by_phone_number_when_revealed() -> None:
    change = ev.GroupInfoChanged(
        jid=GROUP,
        timestamp=NOW,
        sender=ALICE_LID,
        sender_pn=ALICE_PN,
        name=ev.GroupNameChange(name="Trip", set_at=NOW),
        join=(JID.parse("43@lid"),),
        promote=(BOB_PN,),
        lid_pairs=((JID.parse("43@lid"), JID.parse("15550003333@s.whatsapp.net")),),
        locked=True,
    )
    assert translate_event(change) == s.GroupChanged(
        jid="123-456@g.us",
        sender="15550001111@s.whatsapp.net",
        timestamp=NOW.timestamp(),
        name="Trip",
        locked=True,
        join=("15550003333@s.whatsapp.net",),
        promote=("15550002222@s.whatsapp.net",),
    )


def test_topic_removed_is_an_empty_topic() -> None:
    topic = ev.GroupTopicChange(topic="", topic_id="1", set_at=NOW, set_by=None, deleted=True)
    change = translate_event(ev.GroupInfoChanged(jid=GROUP, timestamp=NOW, topic=topic))
    assert isinstance(change, s.GroupChanged) and change.topic == "" and change.name is None


def test_joined_group_and_group_pictures() -> None:
    info = GroupInfo(
        jid=GROUP,
        subject="Trip",
        announce=True,
        participants=(
            GroupParticipant(jid=ALICE_LID, phone_number=ALICE_PN, is_super_admin=True),
            GroupParticipant(jid=BOB_PN),
        ),
    )
    joined = translate_event(ev.JoinedGroup(jid=GROUP, info=info, create_key="K"))
    assert joined == s.JoinedGroup(jid="123-456@g.us", info=summarize_group(info), create_key="K")
    assert summarize_group(info).members == (str(ALICE_PN), str(BOB_PN))
    assert summarize_group(info).admins == {str(ALICE_PN)}
    assert summarize_group(info).announce is True
    picture = ev.PictureChanged(jid=GROUP, author=BOB_PN, timestamp=NOW, removed=True)
    assert translate_event(picture) == s.GroupPictureChanged(
        jid="123-456@g.us", sender=str(BOB_PN), picture_id=""
    )
    # A user's picture stays the ghosts' business (translate_contact_event).
    user_picture = ev.PictureChanged(jid=BOB_PN, author=BOB_PN, timestamp=NOW, removed=False)
    assert translate_event(user_picture) is None


def test_refusals_read_as_reasons() -> None:
    assert "not in this group" in str(_group_failure(NotInGroupError(403, "forbidden", None)))
    assert str(_group_failure(ValueError("odd"))) == "odd"


# ---- power levels ------------------------------------------------------------------------


def test_group_levels_admins_others_and_settings() -> None:
    levels = PowerLevelStateEventContent(users={UserID("@bot:x"): 100, UserID("@old:x"): 50})
    changed = group_levels(
        levels, [UserID("@admin:x")], [UserID("@old:x"), UserID("@bot:x")], True, True
    )
    assert changed
    assert levels.users == {"@bot:x": 100, "@admin:x": 50}  # the bot keeps its 100
    assert levels.events_default == 50
    assert levels.events[EventType.ROOM_NAME] == 50
    assert levels.events[EventType.ROOM_POWER_LEVELS] == 50
    assert levels.kick == 50 and levels.invite == 0
    assert not group_levels(levels, [UserID("@admin:x")], [], True, True)
    group_levels(levels, [], [], announce=False, locked=False)
    assert levels.events_default == 0 and levels.events[EventType.ROOM_TOPIC] == 0


# ---- avatars -----------------------------------------------------------------------------


def _image(size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, format=fmt)
    return out.getvalue()


def test_a_square_jpeg_avatar_passes_unchanged() -> None:
    jpeg = _image((300, 300), "JPEG")
    assert avatar_jpeg(jpeg) == jpeg


def test_other_avatars_become_square_jpegs_within_bounds() -> None:
    for size, side in (((800, 400), 400), ((100, 50), 192), ((2000, 1500), 640)):
        out = Image.open(io.BytesIO(avatar_jpeg(_image(size, "PNG"))))
        assert out.format == "JPEG" and out.size == (side, side)


def test_not_an_image_is_a_clear_error() -> None:
    with pytest.raises(AvatarError, match="isn't an image"):
        avatar_jpeg(b"<html>nope</html>")


# ---- members and requests ----------------------------------------------------------------


def test_members_are_bridge_users_or_ghosts() -> None:
    bridge = SimpleNamespace(ghost_mxid=lambda ghost_id: UserID(f"@whatsapp_{ghost_id}:x"))
    members = Members(bridge, {"15550001111": UserID("@ann:x")})  # type: ignore[arg-type]
    assert members.mxid("15550001111@s.whatsapp.net") == "@ann:x"
    assert members.mxid("15550002222@s.whatsapp.net") == "@whatsapp_15550002222:x"
    assert members.mxid("42@lid") == "@whatsapp_lid-42:x"
    assert members.mxid("123-456@g.us") is None


class FakeGroupSession:
    def __init__(self, statuses: list[int] | None = None, refuse: str | None = None) -> None:
        self.statuses, self.refuse = statuses or [200], refuse
        self.calls: list[tuple[str, list[str], str]] = []

    async def update_participants(
        self, jid: str, participants: list[str], action: str
    ) -> list[s.ParticipantResult]:
        self.calls.append((jid, participants, action))
        if self.refuse:
            raise s.GroupRequestFailed(self.refuse)
        pairs = zip(participants, self.statuses, strict=True)
        return [s.ParticipantResult(p, code) for p, code in pairs]


def _sender(session: Any) -> Any:
    return SimpleNamespace(session=session, wa_jid="15550009999:2@s.whatsapp.net")


async def test_update_member_reasons() -> None:
    portal: Any = SimpleNamespace(jid="123-456@g.us")
    ok = FakeGroupSession()
    assert await update_member(portal, _sender(ok), "1@s.whatsapp.net", "add") is None
    assert ok.calls == [("123-456@g.us", ["1@s.whatsapp.net"], "add")]
    already = FakeGroupSession([409])
    assert await update_member(portal, _sender(already), "1@s.whatsapp.net", "add") is None
    private = FakeGroupSession([403])
    reason = await update_member(portal, _sender(private), "1@s.whatsapp.net", "add")
    assert reason is not None and "invite link" in reason
    refused = FakeGroupSession(refuse="only admins may")
    assert await update_member(portal, _sender(refused), "1@x", "remove") == "only admins may"
    logged_out = SimpleNamespace(session=None, wa_jid=None)
    assert await update_member(portal, logged_out, "1@x", "add") == (  # type: ignore[arg-type]
        "you're not logged in to WhatsApp"
    )


# ---- bad Matrix input ----------------------------------------------------------------------


class NoticeIntent:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, room_id: str, content: Any) -> None:
        self.sent.append(content.body)


def _state_event(event_type: str, content: dict[str, Any]) -> StateEvent:
    data: Any = {
        "type": event_type,
        "room_id": "!room:x",
        "event_id": "$e",
        "sender": "@ann:x",
        "state_key": "",
        "origin_server_ts": 1,
        "content": content,
    }
    return StateEvent.deserialize(data)


async def test_bad_room_state_gets_a_notice_and_reaches_nobody() -> None:
    intent = NoticeIntent()
    row = SimpleNamespace(name="Trip", topic=None, avatar_url=None)
    portal: Any = SimpleNamespace(is_group=True, mxid="!room:x", main_intent=intent, row=row)
    session = FakeGroupSession(refuse="must not be called")
    sender = _sender(session)
    await handle_matrix_state(portal, sender, _state_event("m.room.avatar", {"url": 42}))
    await handle_matrix_state(portal, sender, _state_event("m.room.name", {"name": ""}))
    await handle_matrix_state(portal, sender, _state_event("m.room.name", {"name": "Trip"}))
    assert intent.sent == [
        "Couldn't change the WhatsApp group's picture: the avatar URL isn't an mxc:// URI.",
        "WhatsApp groups must have a name: the group keeps its old one.",
    ]
    assert session.calls == []
