"""Ghosts: names from the template and preference, one ghost per person, avatars by id."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest
from mautrix.types import ContentURI, UserID
from mautrix.util.async_db import Database
from mautrix.util.logging import TraceLogger

from mautrix_whatsapp.__main__ import WhatsAppBridge
from mautrix_whatsapp.config import Config, ConfigError, DisplaynameFormat
from mautrix_whatsapp.contacts import ContactSync
from mautrix_whatsapp.db import BridgeDB, UserRow
from mautrix_whatsapp.puppet import Names, format_displayname
from mautrix_whatsapp.session import (
    BusinessName,
    ContactNames,
    ProfilePicture,
    PushNames,
    UserPictureChanged,
)

DEFAULT = DisplaynameFormat(
    "{displayname} (WA)", ("full_name", "business_name", "push_name", "phone")
)
BOB_PN = "15550002222@s.whatsapp.net"
BOB_LID = "8800112233@lid"


# ---- names ---------------------------------------------------------------------------------


def test_default_template_prefers_address_book_then_business_then_push_then_phone() -> None:
    everything = Names("Bob Smith", "Bob", "bobby", "Bob's Bikes", "+15550002222")
    assert format_displayname(DEFAULT, everything) == "Bob Smith (WA)"
    assert format_displayname(DEFAULT, Names(push_name="bobby", business_name="Bikes")) == (
        "Bikes (WA)"
    )
    assert format_displayname(DEFAULT, Names(push_name="bobby", phone="+1555")) == "bobby (WA)"
    assert format_displayname(DEFAULT, Names(phone="+15550002222")) == "+15550002222 (WA)"


def test_blank_names_do_not_count_and_a_nameless_lid_ghost_has_none() -> None:
    assert format_displayname(DEFAULT, Names(full_name="  ", push_name=" Bo ")) == "Bo (WA)"
    assert format_displayname(DEFAULT, Names()) is None


def test_own_preference_and_variables() -> None:
    fmt = DisplaynameFormat("{first_name} [{phone}] {displayname}", ("push_name", "full_name"))
    names = Names("Bob Smith", "Bob", "bobby", "", "+1555")
    assert format_displayname(fmt, names) == "Bob [+1555] bobby"


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("bridge.displayname_template", "{nickname} (WA)", "unknown variable {nickname}"),
        ("bridge.displayname_template", "{displayname", "malformed"),
        ("bridge.displayname_template", "", "non-empty string"),
        ("bridge.displayname_preference", ["push_name", "nick"], "unknown name 'nick'"),
        ("bridge.displayname_preference", [], "non-empty list"),
    ],
)
def test_bad_name_config_is_refused(config: Config, key: str, value: Any, needle: str) -> None:
    assert config.displayname_format == DEFAULT
    config[key] = value
    with pytest.raises(ConfigError, match=needle):
        config.validate()


# ---- a bridge on a real database, with a recording Matrix side ------------------------------


class FakeIntent:
    def __init__(self, log: list[tuple[str, str, object]], mxid: UserID) -> None:
        self.log = log
        self.mxid = mxid

    async def ensure_registered(self) -> None:
        pass

    async def set_displayname(self, name: str) -> None:
        self.log.append((self.mxid, "name", name))

    async def set_avatar_url(self, url: ContentURI) -> None:
        self.log.append((self.mxid, "avatar", url))

    async def upload_media(self, data: bytes, mime_type: str, filename: str) -> ContentURI:
        self.log.append((self.mxid, "upload", data))
        return ContentURI(f"mxc://example.org/{data.decode()}")


class FakeAppserviceIntent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []

    def user(self, mxid: UserID) -> FakeIntent:
        return FakeIntent(self.calls, mxid)


class FakeAZ:
    def __init__(self) -> None:
        self.intent = FakeAppserviceIntent()


class FakeSession:
    """Answers profile-picture queries from ``pictures`` (jid → (id, bytes))."""

    def __init__(self) -> None:
        self.pictures: dict[str, tuple[str, bytes]] = {}
        self.asked: list[tuple[str, str | None]] = []
        self.is_connected = True

    async def get_profile_picture(
        self, jid: str, existing_id: str | None = None
    ) -> ProfilePicture | None:
        self.asked.append((jid, existing_id))
        if jid not in self.pictures:
            return None
        picture_id, data = self.pictures[jid]
        return ProfilePicture(picture_id, None if picture_id == existing_id else data)


async def make_bridge(config: Config, database: Database) -> tuple[WhatsAppBridge, FakeAZ]:
    bridge = WhatsAppBridge()
    bridge.config = config
    bridge.log = cast(TraceLogger, logging.getLogger("test.bridge"))
    bridge.tables = BridgeDB(database)
    az = FakeAZ()
    bridge.az = az  # type: ignore[assignment]
    bridge.prepare_bridge_ghost_pattern()
    return bridge, az


async def map_lid(database: Database, lid: str, pn: str) -> None:
    owner = UserID("@alice:example.org")
    await BridgeDB(database).users.upsert(UserRow(mxid=owner))
    await database.execute(
        "INSERT INTO wa_lid_map (owner, lid, pn) VALUES ($1, $2, $3)", owner, lid, pn
    )


def names_set(az: FakeAZ) -> list[tuple[str, str, object]]:
    return [call for call in az.intent.calls if call[1] == "name"]


async def test_a_lid_ghost_folds_into_the_phone_ghost_once_the_number_is_known(
    config: Config, database: Database
) -> None:
    bridge, az = await make_bridge(config, database)
    lid_ghost = await bridge.get_puppet_by_jid("8800112233:5@lid")
    assert lid_ghost is not None and lid_ghost.mxid == "@whatsapp_lid-8800112233:example.com"
    await lid_ghost.update_names(push_name="bobby")
    assert names_set(az) == [(lid_ghost.mxid, "name", "bobby (WA)")]

    await map_lid(database, "8800112233", "15550002222")
    ghost = await bridge.get_puppet_by_jid(BOB_LID)
    assert ghost is not None and ghost.jid == BOB_PN
    assert ghost.mxid == "@whatsapp_15550002222:example.com"
    assert ghost.row.push_name == "bobby", "what the LID ghost knew is kept"
    assert await bridge.get_puppet_by_jid("15550002222:7@s.whatsapp.net") is ghost
    assert await bridge.get_puppet(UserID("@whatsapp_lid-8800112233:example.com")) is ghost
    assert await bridge.tables.puppets.get_by_jid(BOB_LID) is None
    await ghost.update_names(full_name="Bob Smith")
    assert names_set(az)[-1] == (ghost.mxid, "name", "Bob Smith (WA)")

    # After a restart (empty caches) both forms still give the one ghost.
    again, _ = await make_bridge(config, database)
    first = await again.get_puppet_by_jid(BOB_LID)
    assert first is not None and first.jid == BOB_PN and first.row.full_name == "Bob Smith"
    assert await again.get_puppet_by_jid(BOB_PN) is first


async def test_name_changes_rename_the_ghost_once(config: Config, database: Database) -> None:
    bridge, az = await make_bridge(config, database)
    ghost = await bridge.get_puppet_by_jid(BOB_PN)
    assert ghost is not None
    assert await ghost.update_names(push_name="bobby") is True
    assert await ghost.update_names(push_name="bobby") is False
    assert await ghost.update_names(push_name="") is False, "no push name is not a removal"
    assert await ghost.update_names(full_name="Bob Smith", first_name="Bob") is True
    assert await ghost.update_names(push_name="Robert") is False, "the contact name wins"
    assert await ghost.update_names(full_name="", first_name="") is True
    assert [name for _, _, name in names_set(az)] == [
        "bobby (WA)",
        "Bob Smith (WA)",
        "Robert (WA)",
    ]
    row = await bridge.tables.puppets.get_by_jid(BOB_PN)
    assert row is not None and row.displayname == "Robert (WA)" and row.name_set


async def test_avatar_is_uploaded_once_per_picture_id(config: Config, database: Database) -> None:
    bridge, az = await make_bridge(config, database)
    ghost = await bridge.get_puppet_by_jid(BOB_PN)
    assert ghost is not None
    session = FakeSession()
    session.pictures[BOB_PN] = ("p1", b"one")
    assert await ghost.update_avatar(session) is True
    assert await ghost.update_avatar(session) is False
    assert await ghost.update_avatar(session, "p1") is False, "a known id is not even asked"
    assert session.asked == [(BOB_PN, None), (BOB_PN, "p1")]
    session.pictures[BOB_PN] = ("p2", b"two")
    assert await ghost.update_avatar(session, "p2") is True
    assert await ghost.update_avatar(session, "") is True
    avatar_calls = [(kind, value) for _, kind, value in az.intent.calls if kind != "name"]
    assert avatar_calls == [
        ("upload", b"one"),
        ("avatar", "mxc://example.org/one"),
        ("upload", b"two"),
        ("avatar", "mxc://example.org/two"),
        ("avatar", ""),
    ]
    row = await bridge.tables.puppets.get_by_jid(BOB_PN)
    assert row is not None and (row.avatar_id, row.avatar_url, row.avatar_set) == ("", "", True)


async def test_contact_events_name_ghosts_and_fetch_their_avatars(
    config: Config, database: Database
) -> None:
    bridge, az = await make_bridge(config, database)
    session = FakeSession()
    session.pictures[BOB_PN] = ("p1", b"bob")
    contacts = ContactSync(bridge, lambda: session, logging.getLogger("test.contacts"))
    await contacts.handle(ContactNames(BOB_PN, "Bob Smith", "Bob"))
    await contacts.handle(PushNames((("15550003333@s.whatsapp.net", "carol"), ("bad", "x"))))
    await contacts.handle(BusinessName("15550004444@s.whatsapp.net", "Dan's Deli", "dan"))
    await contacts.wait_idle()
    assert sorted(str(name) for _, _, name in names_set(az)) == [
        "Bob Smith (WA)",
        "Dan's Deli (WA)",
        "carol (WA)",
    ]
    assert sorted(jid for jid, _ in session.asked) == [
        BOB_PN,
        "15550003333@s.whatsapp.net",
        "15550004444@s.whatsapp.net",
    ]
    session.pictures[BOB_PN] = ("p2", b"new")
    await contacts.handle(UserPictureChanged(BOB_PN, "p2"))
    await contacts.wait_idle()
    uploads = [value for _, kind, value in az.intent.calls if kind == "upload"]
    assert uploads == [b"bob", b"new"]
    await contacts.stop()
