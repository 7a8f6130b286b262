"""Small bridge pieces: login arguments, phone numbers, ghost IDs, QR images, event mapping."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image

from mautrix_whatsapp import session as s
from mautrix_whatsapp.commands.auth import LOGIN_USAGE, parse_login_args
from mautrix_whatsapp.puppet import InvalidJID, ghost_id_for_jid, jid_for_ghost_id
from mautrix_whatsapp.qr import QR_SIZE, qr_png
from mautrix_whatsapp.wa_session import _platform_type, translate_event
from mautrix_whatsapp.whatsapp import events as ev


@pytest.mark.parametrize(
    ("args", "digits"),
    [
        ([], None),
        (["qr"], None),
        (["QR"], None),
        (["+15551234567"], "15551234567"),
        (["+1", "555", "123-4567"], "15551234567"),
        (["phone", "+49", "(30)", "1234567"], "49301234567"),
        (["", "+4412345678"], "4412345678"),
    ],
)
def test_parse_login_args(args: list[str], digits: str | None) -> None:
    assert parse_login_args(args) == digits


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["5551234567"], LOGIN_USAGE),
        (["qr", "extra"], LOGIN_USAGE),
        (["phone"], "Please give your number"),
        (["phone", "15551234567"], "international format"),
        (["+1555abc"], "only contain digits"),
        (["+0123456789"], "country code"),
        (["+123"], "too short"),
        (["+1234567890123456"], "too long"),
        (["+١٢٣٤٥٦٧٨"], "only contain digits"),  # non-ASCII digits
    ],
)
def test_bad_login_args_say_why(args: list[str], needle: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_login_args(args)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("jid", "ghost_id"),
    [
        ("15551234567@s.whatsapp.net", "15551234567"),
        ("15551234567:3@s.whatsapp.net", "15551234567"),
        ("15551234567.0:3@s.whatsapp.net", "15551234567"),
        ("1000123@lid", "lid-1000123"),
    ],
)
def test_ghost_ids(jid: str, ghost_id: str) -> None:
    assert ghost_id_for_jid(jid) == ghost_id
    assert ghost_id_for_jid(jid_for_ghost_id(ghost_id)) == ghost_id


@pytest.mark.parametrize("jid", ["123-456@g.us", "status@broadcast", "abc@s.whatsapp.net", "x"])
def test_non_user_jids_have_no_ghost(jid: str) -> None:
    with pytest.raises(InvalidJID):
        ghost_id_for_jid(jid)


@pytest.mark.parametrize("ghost_id", ["lid-", "lid-x", "bot", "", "12a"])
def test_bad_ghost_ids(ghost_id: str) -> None:
    with pytest.raises(InvalidJID):
        jid_for_ghost_id(ghost_id)


def test_qr_png_decodes_to_the_text() -> None:
    text = "https://wa.me/settings/linked_devices#2@abc,def+/=,ghi,jkl,9"
    png = qr_png(text)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (QR_SIZE, QR_SIZE)
    [result] = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert result.text == text


def test_translate_event() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    reason = ev.ConnectFailureReason
    assert translate_event(ev.Connected()) == s.Connected()
    assert translate_event(ev.Disconnected(code=503)) == s.Disconnected(reason="code 503")
    assert translate_event(ev.LoggedOut(on_connect=True, reason=reason.LOGGED_OUT)) == (
        s.LoggedOut(kind=s.LogoutKind.LOGGED_OUT, on_connect=True, reason="401")
    )
    gone = translate_event(ev.LoggedOut(on_connect=False, reason=reason.MAIN_DEVICE_GONE))
    assert isinstance(gone, s.LoggedOut) and gone.kind == s.LogoutKind.MAIN_DEVICE_GONE
    banned = translate_event(ev.LoggedOut(on_connect=True, reason=reason.UNKNOWN_LOGOUT))
    assert isinstance(banned, s.LoggedOut) and banned.kind == s.LogoutKind.UNKNOWN
    assert translate_event(ev.TemporaryBan(code=101, expire=timedelta(hours=2))) == (
        s.TemporaryBan(code=101, expires_in=7200.0)
    )
    assert translate_event(ev.ClientOutdated()) == s.ClientOutdated()
    assert translate_event(ev.StreamReplaced()) == s.StreamReplaced()
    assert translate_event(ev.ConnectFailure(reason=409)) == s.ConnectFailed(code=409)
    assert translate_event(ev.PhoneSeen(at=at)) == s.PhoneSeen(timestamp=at.timestamp())
    assert translate_event(ev.KeepAliveRestored()) is None
    assert translate_event(object()) is None


def test_browser_name_maps_to_platform_type() -> None:
    assert _platform_type("unknown") == 0
    assert _platform_type("Chrome") == 1
    assert _platform_type("not a browser") == 0
