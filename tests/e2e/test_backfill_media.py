"""Backfilled media whose file expired, end to end (a real Synapse, the bridge as a process, the
simulator's phone given a past through its admin API): the message is bridged at once as a
placeholder, the file is asked of the phone, and the placeholder is replaced by the media, or
edited to say the phone could not supply it."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import qr_login, sim_admin, user_with_management_room
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401
from tests.whatsapp import media_samples

TIMEOUT = 90.0
CONTACT = "15550004101"
REQUESTED = "Old photo. Media will be automatically requested from your phone later."
NOT_ENABLED = "Old photo. Requesting old media is not enabled on this bridge."
FAILED = "Failed to bridge media after re-requesting it from your phone: "


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


def _photo(data: bytes, caption: str) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {"type": "image", "data": encoded, "mimetype": "image/jpeg", "caption": caption}


async def _phone_with_old_photos(simulator: SimulatorInfo, photos: dict[str, bytes]) -> int:
    """A default phone whose one chat (with ``CONTACT``) holds a text, then a photo per
    ``photos`` item (id → bytes; its caption is the id), then a text; every photo's blob is
    expired in the media store, and those with an id starting ``GONE`` are dropped (the phone
    has no file to upload again either). Returns the first message's time; photo ``i``
    (from 1) is ``60 * i`` seconds later."""
    account = await sim_admin(simulator, "POST", "/accounts", json={"default": True})
    phone = str(account["phone"])
    base = int(time.time()) - 3600
    messages: list[dict[str, Any]] = [{"id": "T0", "from": CONTACT, "t": base, "text": "before"}]
    for i, (message_id, data) in enumerate(photos.items(), start=1):
        media = _photo(data, message_id)
        messages.append({"id": message_id, "from": CONTACT, "t": base + 60 * i, "media": media})
    messages.append({"id": "T9", "from": CONTACT, "t": base + 3000, "text": "after"})
    chat = {"with": CONTACT, "messages": messages}
    await sim_admin(simulator, "POST", f"/accounts/{phone}/history", json={"chats": [chat]})
    for message_id in photos:
        body: dict[str, Any] = {"account": phone, "id": message_id}
        if message_id.startswith("GONE"):
            body["gone"] = True
        await sim_admin(simulator, "POST", "/media/expire", json=body)
    return base


async def _portal(user: MatrixTestUser, known: set[str]) -> str:
    """Join the first invite to a room that is not a space (the chat's portal)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        await user.sync_once(timeout_ms=2000)
        for room in user.invited_rooms():
            if room in known:
                continue
            known.add(room)
            state = user.invite_state(room)
            if any(e.get("content", {}).get("type") == "m.space" for e in state):
                continue
            await user.join(room)
            return room
    raise TimeoutError("no invite to the chat's portal")


def _notice(body_start: str, caption: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return (
            event.get("type") == "m.room.message"
            and content.get("msgtype") == "m.notice"
            and "m.relates_to" not in content
            and str(content.get("body", "")).startswith(body_start)
            and str(content.get("body", "")).endswith(caption)
        )

    return match


def _edit_of(event_id: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        relation = event.get("content", {}).get("m.relates_to", {})
        return bool(
            relation.get("rel_type") == "m.replace" and relation.get("event_id") == event_id
        )

    return match


@pytest.mark.parametrize("bridge_overrides", [{"bridge.history_sync.dispatch_wait": "1s"}])
async def test_expired_photo_is_requested_and_replaces_its_placeholder(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    """An expired photo the phone still has: placeholder first, then an ``m.replace`` whose
    new content is the image, with the photo's bytes; a photo the phone lost too: the
    placeholder is edited to say it could not be had. The texts around them are bridged."""
    photo, lost = media_samples.jpeg(64, 48), media_samples.jpeg(32, 16)
    base = await _phone_with_old_photos(simulator, {"OLD1": photo, "GONE1": lost})
    user, management = await user_with_management_room(matrix_user, synapse)
    await qr_login(user, management, synapse.bot_mxid, simulator)
    room = await _portal(user, {management})
    ghost = f"@whatsapp_{CONTACT}:{synapse.server_name}"

    old = await user.wait_for_event(room, _notice(REQUESTED, "OLD1"), TIMEOUT)
    gone = await user.wait_for_event(room, _notice(REQUESTED, "GONE1"), TIMEOUT)
    for i, event in enumerate((old, gone), start=1):
        assert event["sender"] == ghost
        assert event["origin_server_ts"] == (base + 60 * i) * 1000

    replaced = await user.wait_for_event(room, _edit_of(old["event_id"]), TIMEOUT)
    assert replaced["sender"] == ghost
    new_content = replaced["content"]["m.new_content"]
    assert new_content["msgtype"] == "m.image"
    assert new_content["body"] == "OLD1"
    assert new_content["info"]["mimetype"] == "image/jpeg"
    assert new_content["info"]["size"] == len(photo)
    assert await user.download_media(new_content["url"]) == photo

    failed = await user.wait_for_event(room, _edit_of(gone["event_id"]), TIMEOUT)
    final = failed["content"]["m.new_content"]
    assert final["msgtype"] == "m.notice"
    assert final["body"].startswith(FAILED), final
    assert final["body"].endswith("GONE1")
    assert "url" not in final

    texts = [
        e["content"]["body"]
        for e in user.events(room)
        if e.get("type") == "m.room.message" and e["content"].get("msgtype") == "m.text"
    ]
    assert texts == ["before", "after"]


@pytest.mark.parametrize(
    "bridge_overrides",
    [
        {
            "bridge.history_sync.dispatch_wait": "1s",
            "bridge.history_sync.media_requests.auto_request_media": False,
        }
    ],
)
async def test_without_auto_request_the_placeholder_is_final(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    """``auto_request_media: false``: the expired photo is bridged at once as a notice saying
    old media is not requested, and nothing replaces it (the phone would have the file: the
    bridge did not ask)."""
    await _phone_with_old_photos(simulator, {"OLD2": media_samples.jpeg(40, 30)})
    user, management = await user_with_management_room(matrix_user, synapse)
    await qr_login(user, management, synapse.bot_mxid, simulator)
    room = await _portal(user, {management})
    old = await user.wait_for_event(room, _notice(NOT_ENABLED, "OLD2"), TIMEOUT)
    after = await user.wait_for_event(
        room, lambda e: e.get("content", {}).get("body") == "after", TIMEOUT
    )
    assert after["origin_server_ts"] > old["origin_server_ts"]
    media = await sim_admin(simulator, "GET", "/media")
    expired = [b for b in media["blobs"] if b["expired"] and b["type"] == "image"]
    assert len(expired) == 1, media  # no copy uploaded again: the phone was never asked
    assert not [e for e in user.events(room) if _edit_of(old["event_id"])(e)]


def _minutes_from_now(hours: int) -> int:
    """Local minutes after midnight ``hours`` from now (a ``request_local_time`` far off)."""
    now = datetime.now().astimezone()
    return (now.hour * 60 + now.minute + hours * 60) % (24 * 60)


@pytest.mark.parametrize(
    "bridge_overrides",
    [
        {
            "bridge.history_sync.dispatch_wait": "1s",
            "bridge.history_sync.media_requests.request_method": "local_time",
            "bridge.history_sync.media_requests.request_local_time": _minutes_from_now(12),
        }
    ],
)
async def test_a_stored_request_survives_a_restart(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
) -> None:
    """``local_time`` twelve hours off: the placeholder comes, the phone is not asked. The
    bridge is stopped, set to ``immediate`` and started again: the request it stored is
    sent when the session connects, and the placeholder is replaced by the photo."""
    photo = media_samples.jpeg(48, 40)
    await _phone_with_old_photos(simulator, {"OLD3": photo})
    user, management = await user_with_management_room(matrix_user, synapse)
    await qr_login(user, management, synapse.bot_mxid, simulator)
    room = await _portal(user, {management})
    old = await user.wait_for_event(room, _notice(REQUESTED, "OLD3"), TIMEOUT)
    await user.wait_for_event(room, lambda e: e.get("content", {}).get("body") == "after", TIMEOUT)
    media = await sim_admin(simulator, "GET", "/media")
    assert [b["expired"] for b in media["blobs"] if b["type"] == "image"] == [True], media

    bridge.stop()
    config = bridge.config_path.read_text()
    assert "request_method: local_time" in config
    bridge.config_path.write_text(
        config.replace("request_method: local_time", "request_method: immediate")
    )
    bridge.start()
    replaced = await user.wait_for_event(room, _edit_of(old["event_id"]), TIMEOUT)
    new_content = replaced["content"]["m.new_content"]
    assert new_content["msgtype"] == "m.image"
    assert await user.download_media(new_content["url"]) == photo
