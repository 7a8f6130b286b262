"""The User's reactions to session events, with a fake bridge: notices, states, DB updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from mautrix.types import RoomID, UserID
from mautrix.util.bridge_state import BridgeStateEvent

from mautrix_whatsapp.config import Config
from mautrix_whatsapp.db import UserRow
from mautrix_whatsapp.session import (
    ClientOutdated,
    Connected,
    ConnectFailed,
    Disconnected,
    EventSink,
    LoggedOut,
    LoginUpdate,
    LogoutKind,
    PhoneSeen,
    StreamReplaced,
    TemporaryBan,
)
from mautrix_whatsapp.user import User, format_duration

MGMT = RoomID("!mgmt:example.org")


@dataclass
class FakeIntent:
    notices: list[tuple[RoomID, str]] = field(default_factory=list)

    async def send_notice(self, room_id: RoomID, text: str, html: str | None = None) -> str:
        self.notices.append((room_id, text))
        return f"$event{len(self.notices)}"


@dataclass
class FakeAZ:
    intent: FakeIntent = field(default_factory=FakeIntent)
    as_token: str = "as"


@dataclass
class FakeUsers:
    saved: list[UserRow] = field(default_factory=list)

    async def upsert(self, row: UserRow) -> None:
        self.saved.append(UserRow(**vars(row)))


@dataclass
class FakeTables:
    users: FakeUsers = field(default_factory=FakeUsers)


@dataclass
class FakeSession:
    connected: bool = True
    calls: list[str] = field(default_factory=list)

    @property
    def device_jid(self) -> str | None:
        return None

    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> None:
        self.calls.append("connect")

    async def disconnect(self) -> None:
        self.calls.append("disconnect")
        self.connected = False

    async def logout(self) -> None:
        self.calls.append("logout")

    async def login_qr(self) -> AsyncIterator[LoginUpdate]:
        return
        yield

    async def login_phone(self, phone: str) -> AsyncIterator[LoginUpdate]:
        return
        yield

    async def is_on_whatsapp(self, phone: str) -> str | None:
        return None


class FakeBridge:
    def __init__(self, config: Config, delay: float = 0.05) -> None:
        self.config = config
        self.az = FakeAZ()
        self.loop = asyncio.get_running_loop()
        self.tables = FakeTables()
        self.disconnect_notice_delay = delay
        self.sessions: list[FakeSession] = []

    async def session_factory(self, mxid: str, sink: EventSink) -> FakeSession:
        session = FakeSession()
        self.sessions.append(session)
        return session


@pytest.fixture
def config(config: Config) -> Config:
    """The example config (from conftest) with permissions for example.org and an admin."""
    config["bridge.permissions"] = {"example.org": "user", "@root:example.org": "admin"}
    return config


async def make_user(config: Config, **row: Any) -> tuple[User, FakeBridge]:
    bridge = FakeBridge(config)
    values = {"mxid": UserID("@alice:example.org"), "management_room": MGMT, **row}
    user = User(bridge, UserRow(**values))  # type: ignore[arg-type]
    return user, bridge


def notices(bridge: FakeBridge) -> list[str]:
    return [text for _, text in bridge.az.intent.notices]


async def logged_in(config: Config) -> tuple[User, FakeBridge]:
    user, bridge = await make_user(
        config, wa_jid="15551234567:3@s.whatsapp.net", phone="15551234567"
    )
    await user.get_session()
    return user, bridge


async def test_permissions_come_from_config(config: Config) -> None:
    user, _ = await make_user(config)
    assert (user.is_whitelisted, user.is_admin, user.relay_whitelisted) == (True, False, True)
    root, _ = await make_user(config, mxid=UserID("@root:example.org"))
    assert root.is_admin
    stranger, _ = await make_user(config, mxid=UserID("@x:elsewhere.net"))
    assert not stranger.is_whitelisted and not stranger.relay_whitelisted


async def test_logged_out_from_the_phone(config: Config) -> None:
    user, bridge = await logged_in(config)
    await user.handle_event(LoggedOut(kind=LogoutKind.LOGGED_OUT))
    assert notices(bridge) == [
        "You were logged out from another device. Relogin to continue using the bridge."
    ]
    assert not await user.is_logged_in()
    assert bridge.tables.users.saved[-1].wa_jid is None
    assert user.session is None and bridge.sessions[0].calls == ["disconnect"]
    [state] = [user._state]
    assert state is not None and state.state_event == BridgeStateEvent.BAD_CREDENTIALS
    assert state.error == "wa-logged-out"


@pytest.mark.parametrize(
    ("kind", "needle"),
    [(LogoutKind.MAIN_DEVICE_GONE, "Your phone was logged out"), (LogoutKind.UNKNOWN, "unknown")],
)
async def test_other_logouts(config: Config, kind: LogoutKind, needle: str) -> None:
    user, bridge = await logged_in(config)
    await user.handle_event(LoggedOut(kind=kind))
    assert len(notices(bridge)) == 1 and needle in notices(bridge)[0]
    assert user._state is not None and user._state.error == kind.value


async def test_logout_while_not_logged_in_is_silent(config: Config) -> None:
    user, bridge = await make_user(config)
    await user.handle_event(LoggedOut(kind=LogoutKind.LOGGED_OUT))
    assert notices(bridge) == []


async def test_failures_each_have_their_notice(config: Config) -> None:
    user, bridge = await logged_in(config)
    await user.handle_event(TemporaryBan(code=102, expires_in=90_000))
    await user.handle_event(ClientOutdated())
    await user.handle_event(StreamReplaced())
    await user.handle_event(ConnectFailed(code=409, message="bad user agent"))
    texts = notices(bridge)
    assert texts[0] == (
        "You've been temporarily banned: 102: too many people blocked you. "
        "The ban expires in 1 day, 1 hour."
    )
    assert "client outdated" in texts[1] and "must be updated" in texts[1]
    assert texts[2].startswith("Stream replaced") and "reconnect" in texts[2]
    assert "error 409: bad user agent" in texts[3]
    assert user._state is not None and user._state.error == "wa-connect-failure-409"


async def test_short_drop_is_quiet_lasting_drop_is_announced(config: Config) -> None:
    user, bridge = await logged_in(config)
    await user.handle_event(Disconnected(reason="code 503"))
    await user.handle_event(Connected())
    await asyncio.sleep(0.1)
    assert notices(bridge) == []

    await user.handle_event(Disconnected())
    await user.handle_event(Disconnected())  # repeated drops: one notice
    await asyncio.sleep(0.15)
    await user.handle_event(Connected())
    assert notices(bridge) == [
        "Disconnected from WhatsApp. Trying to reconnect.",
        "Reconnected to WhatsApp.",
    ]
    assert user._state is not None and user._state.state_event == BridgeStateEvent.CONNECTED


async def test_phone_offline_warning_at_most_every_12_hours(config: Config) -> None:
    user, bridge = await logged_in(config)
    now = time.time()
    await user.handle_event(PhoneSeen(timestamp=now - 14 * 86400))
    await user.handle_event(PhoneSeen(timestamp=now - 13 * 86400))
    await user.handle_event(Connected())
    assert len(notices(bridge)) == 1
    assert "hasn't been seen in over 12 days" in notices(bridge)[0]
    assert user.row.phone_last_seen == int(now - 13 * 86400)
    # Twelve hours later the warning may come again.
    assert user.row.offline_notice_ts is not None
    user.row.offline_notice_ts -= 12 * 3600 + 1
    await user.handle_event(Connected())
    assert len(notices(bridge)) == 2
    # The phone came back: the next absence warns afresh.
    await user.handle_event(PhoneSeen(timestamp=now))
    assert user.row.offline_notice_ts is None


async def test_phone_last_seen_only_moves_forward_and_is_saved_hourly(config: Config) -> None:
    user, bridge = await logged_in(config)
    now = int(time.time())
    await user.handle_event(PhoneSeen(timestamp=now - 7200))
    assert user.row.phone_last_seen == now - 7200
    assert [row.phone_last_seen for row in bridge.tables.users.saved] == [now - 7200]
    # Older news (the offline queue, a restarted client's seed) never moves it back.
    await user.handle_event(PhoneSeen(timestamp=now - 9000))
    # Less than an hour newer: not worth a database write.
    await user.handle_event(PhoneSeen(timestamp=now - 7200 + 1800))
    assert user.row.phone_last_seen == now - 7200
    assert len(bridge.tables.users.saved) == 1
    await user.handle_event(PhoneSeen(timestamp=now))
    assert [row.phone_last_seen for row in bridge.tables.users.saved] == [now - 7200, now]
    assert notices(bridge) == []


async def test_no_management_room_no_crash(config: Config) -> None:
    user, bridge = await make_user(config, management_room=None, wa_jid="1:1@s.whatsapp.net")
    await user.handle_event(StreamReplaced())
    assert notices(bridge) == []
    assert user._state is not None and user._state.error == "wa-stream-replaced"


async def test_login_success_and_logout_update_the_row(config: Config) -> None:
    user, bridge = await make_user(config)
    await user.get_session()
    await user.on_login_success("15550001111:4@s.whatsapp.net", "15550001111")
    assert await user.is_logged_in() and user.phone == "15550001111"
    states = await user.get_bridge_states()
    assert [s.state_event for s in states] == [BridgeStateEvent.CONNECTED]
    await user.logout()
    assert not await user.is_logged_in()
    assert bridge.sessions[0].calls == ["logout"]
    assert await user.get_bridge_states() == []


async def test_own_logout_is_not_reported_as_a_logout_from_elsewhere(config: Config) -> None:
    user, bridge = await logged_in(config)
    session = bridge.sessions[0]

    async def logout_that_ends_the_stream() -> None:
        # WhatsApp answers the unlink by ending the stream with 401 before we close it.
        await user.handle_event(LoggedOut(kind=LogoutKind.LOGGED_OUT))
        session.calls.append("logout")

    session.logout = logout_that_ends_the_stream  # type: ignore[method-assign]
    await user.logout()
    assert session.calls == ["logout"]
    assert notices(bridge) == []
    assert not await user.is_logged_in()
    # Afterwards a LoggedOut is news again (for the next link).
    user.row.wa_jid = "15551234567:4@s.whatsapp.net"
    await user.handle_event(LoggedOut(kind=LogoutKind.LOGGED_OUT))
    assert notices(bridge) == [
        "You were logged out from another device. Relogin to continue using the bridge."
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 seconds"),
        (59, "59 seconds"),
        (3600, "1 hour"),
        (90_061, "1 day, 1 hour"),
        (7 * 86400 + 120, "7 days, 2 minutes"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


async def test_offline_check_runs_periodically_while_connected(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mautrix_whatsapp.user as user_module

    monkeypatch.setattr(user_module, "PHONE_OFFLINE_CHECK_EVERY", 0.02)
    user, bridge = await make_user(config)
    await user.get_session()
    await user.on_login_success("15550001111:4@s.whatsapp.net", "15550001111")
    assert user.row.phone_last_seen is None  # learnt from what the phone sends, not assumed
    # No Connected after the link is recorded (the client's came first): the check runs anyway.
    await user.handle_event(PhoneSeen(timestamp=time.time()))
    assert notices(bridge) == []
    # Nothing new from the phone for 13 days: the periodic check notices without any event.
    assert user.row.phone_last_seen is not None
    user.row.phone_last_seen -= 13 * 86400
    await asyncio.sleep(0.1)
    assert len(notices(bridge)) == 1 and "over 12 days" in notices(bridge)[0]
    await user.disconnect()
    assert user._offline_check_task is None
