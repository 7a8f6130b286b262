"""Matrix → WhatsApp for groups: what a logged-in user does to a group portal's room.

Renaming the room, changing its topic or avatar, inviting a ghost (add), kicking or banning one
(remove) and raising or lowering a ghost's power level across 50 (promote/demote) are done on
WhatsApp with the acting user's session, in the portal's queue. When WhatsApp refuses, the room
gets a notice with the reason; the Matrix change is not reverted behind the user's back, the
notice says that WhatsApp did not follow. A user leaving the room stays in the WhatsApp group,
as the Go bridge does by default (``bridge_matrix_leave: false``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from mautrix.bridge.portal import RejectMatrixInvite
from mautrix.types import (
    ContentURI,
    EventType,
    MessageType,
    RoomID,
    StateEvent,
    TextMessageEventContent,
    UserID,
)
from PIL import Image, UnidentifiedImageError

from ..session import GroupRequestFailed
from .jids import user_jid
from .metadata import ADMIN_LEVEL

if TYPE_CHECKING:
    from ..puppet import Puppet
    from ..user import User
    from .portal import Portal

AVATAR_MIN = 192
AVATAR_MAX = 640
AVATAR_MAX_BYTES = 10 * 1024 * 1024

_PARTICIPANT_REASONS = {
    403: "they only accept group invites from their contacts (send them an invite link)",
    404: "they aren't on WhatsApp or not in the group",
    408: "they left the group recently and can't be added back yet",
    409: "they already are",
}


class AvatarError(ValueError):
    """The room avatar can't be made into a WhatsApp group picture."""


# ---- membership ----------------------------------------------------------------------------


async def handle_matrix_invite(portal: Portal, invited_by: User, puppet: Puppet) -> None:
    """Add the ghost's person to the group; RejectMatrixInvite with the reason otherwise."""
    if not portal.is_group:
        raise RejectMatrixInvite("You can't invite more people to a WhatsApp private chat.")
    reason = await _run(portal, lambda: update_member(portal, invited_by, puppet.jid, "add"))
    if reason is not None:
        await notice(portal, f"Couldn't add {_name(puppet)} to the WhatsApp group: {reason}")
        raise RejectMatrixInvite(f"Not added on WhatsApp: {reason}")


async def handle_matrix_kick(portal: Portal, sender: User, target: UserID) -> None:
    """A kicked (or banned) ghost or bridge user is removed from the WhatsApp group."""
    jid = await jid_of(portal, target)
    if jid is None or not portal.is_group:
        return
    reason = await _run(portal, lambda: update_member(portal, sender, jid, "remove"))
    if reason is not None:
        await notice(
            portal,
            f"Couldn't remove {target} from the WhatsApp group: {reason}. "
            "They are still in the group on WhatsApp.",
        )


async def update_member(portal: Portal, sender: User, jid: str, action: str) -> str | None:
    """Add/remove/promote/demote ``jid`` as ``sender``; None when done, else why not."""
    session = sender.session
    if session is None or sender.wa_jid is None:
        return "you're not logged in to WhatsApp"
    try:
        results = await session.update_participants(portal.jid, [jid], action)
    except GroupRequestFailed as e:
        return str(e)
    for result in results:
        if result.ok or (result.status == 409 and action == "add"):
            continue
        if result.status == 404 and action == "remove":
            continue  # not a member: the removal's end is reached
        return _PARTICIPANT_REASONS.get(result.status, f"WhatsApp error {result.status}")
    return None


async def jid_of(portal: Portal, user_id: UserID) -> str | None:
    """The WhatsApp user a ghost or a logged-in bridge user stands for."""
    bridge = portal.bridge
    puppet = await bridge.get_puppet(user_id)
    if puppet is not None:
        return puppet.jid
    user = await bridge.get_user(user_id, create=False)
    if user is not None and user.wa_jid:
        return user_jid(user.wa_jid)
    return None


# ---- room state ----------------------------------------------------------------------------


async def handle_matrix_state(portal: Portal, sender: User, evt: StateEvent) -> None:
    """Name, topic, avatar and power levels of a group portal, as ``sender`` did them."""
    if not portal.is_group or evt.state_key != "":
        return
    content: Any = evt.content
    if evt.type == EventType.ROOM_NAME:
        await _set_name(portal, sender, str(content.get("name") or ""))
    elif evt.type == EventType.ROOM_TOPIC:
        await _set_topic(portal, sender, str(content.get("topic") or ""))
    elif evt.type == EventType.ROOM_AVATAR:
        await _set_avatar(portal, sender, content.get("url"))
    elif evt.type == EventType.ROOM_POWER_LEVELS:
        prev = evt.unsigned.prev_content if evt.unsigned else None
        await _set_levels(portal, sender, _users(prev), _users(content))


async def _set_name(portal: Portal, sender: User, name: str) -> None:
    if name == (portal.row.name or ""):
        return
    if not name:
        await notice(portal, "WhatsApp groups must have a name: the group keeps its old one.")
        return
    await _set_text(portal, sender, "name", name, "rename the WhatsApp group")


async def _set_topic(portal: Portal, sender: User, topic: str) -> None:
    if topic != (portal.row.topic or ""):
        await _set_text(portal, sender, "topic", topic, "change the WhatsApp group's description")


async def _set_text(portal: Portal, sender: User, field: str, value: str, what: str) -> None:
    """Set the group's name or topic (``field``) on WhatsApp and remember it (so its echo
    from WhatsApp changes nothing); a notice says why not when WhatsApp refuses."""

    async def job() -> str | None:
        if field == "name":
            reason = await _with_session(sender, lambda s: s.set_group_name(portal.jid, value))
        else:
            reason = await _with_session(sender, lambda s: s.set_group_topic(portal.jid, value))
        if reason is None:
            setattr(portal.row, field, value or None)
            await portal.save()
        return reason

    reason = await _run(portal, job)
    if reason is not None:
        await notice(portal, f"Couldn't {what}: {reason}")


async def _set_avatar(portal: Portal, sender: User, url: object) -> None:
    """A new room avatar becomes the group's picture; no avatar removes it."""
    if url not in (None, "") and not (isinstance(url, str) and url.startswith("mxc://")):
        await notice(
            portal,
            "Couldn't change the WhatsApp group's picture: the avatar URL isn't an mxc:// URI.",
        )
        return
    mxc = ContentURI(url) if isinstance(url, str) and url else None
    if mxc == portal.row.avatar_url:
        return

    async def job() -> str | None:
        jpeg: bytes | None = None
        if mxc is not None:
            try:
                data = await portal.main_intent.download_media(mxc)
                jpeg = avatar_jpeg(data)
            except AvatarError as e:
                return str(e)
            except Exception as e:
                return f"the avatar couldn't be downloaded ({e})"
        session = sender.session
        if session is None or sender.wa_jid is None:
            return "you're not logged in to WhatsApp"
        try:
            picture_id = await session.set_group_photo(portal.jid, jpeg)
        except GroupRequestFailed as e:
            return str(e)
        portal.avatar_id = picture_id if jpeg is not None else ""
        portal.row.avatar_url = mxc
        await portal.save()
        return None

    reason = await _run(portal, job)
    if reason is not None:
        await notice(portal, f"Couldn't change the WhatsApp group's picture: {reason}")


def avatar_jpeg(data: bytes) -> bytes:
    """A WhatsApp group picture: a square JPEG of 192 to 640 px; one that is already one passes
    unchanged, others are cropped to the centre square and scaled."""
    if len(data) > AVATAR_MAX_BYTES:
        raise AvatarError("the avatar is too large (over 10 MiB)")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if image.format == "JPEG" and width == height and AVATAR_MIN <= width <= AVATAR_MAX:
            return data
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        size = max(AVATAR_MIN, min(side, AVATAR_MAX))
        square = image.convert("RGB").crop((left, top, left + side, top + side))
        out = io.BytesIO()
        square.resize((size, size)).save(out, format="JPEG", quality=90)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise AvatarError(f"the avatar isn't an image WhatsApp can show ({e})") from e
    return out.getvalue()


def _users(content: object) -> dict[str, int]:
    users = content.get("users") if isinstance(content, dict) else getattr(content, "users", None)
    if not isinstance(users, dict):
        return {}
    return {str(k): v for k, v in users.items() if isinstance(v, int)}


async def _set_levels(
    portal: Portal, sender: User, before: dict[str, int], after: dict[str, int]
) -> None:
    """Ghosts (and bridge users) whose level crossed 50 are promoted or demoted."""
    for user_id in sorted(set(before) | set(after)):
        was, now = before.get(user_id, 0) >= ADMIN_LEVEL, after.get(user_id, 0) >= ADMIN_LEVEL
        if was == now or user_id == portal.bridge.az.bot_mxid:
            continue
        jid = await jid_of(portal, UserID(user_id))
        if jid is None:
            continue
        action = "promote" if now else "demote"
        reason = await _run(portal, lambda j=jid, a=action: update_member(portal, sender, j, a))
        if reason is not None:
            verb = "make" if now else "stop"
            await notice(
                portal,
                f"Couldn't {verb} {user_id} {'a' if now else 'being a'} WhatsApp group admin: "
                f"{reason}. The power level is changed on Matrix only.",
            )


# ---- helpers -------------------------------------------------------------------------------


async def _with_session(sender: User, call: Any) -> str | None:
    session = sender.session
    if session is None or sender.wa_jid is None:
        return "you're not logged in to WhatsApp"
    try:
        await call(session)
    except GroupRequestFailed as e:
        return str(e)
    return None


async def _run(portal: Portal, job: Any) -> str | None:
    """Run ``job`` in the portal's queue (in order with messages) and return its result."""
    result: list[str | None] = [None]

    async def wrapped() -> None:
        result[0] = await job()

    await portal.queue.run(wrapped)
    return result[0]


def _name(puppet: Puppet) -> str:
    return puppet.displayname or puppet.jid.partition("@")[0]


async def notice(portal: Portal, text: str) -> None:
    """Tell the room (from the bot) what didn't happen on WhatsApp, and why."""
    room_id = portal.mxid
    if room_id is None:
        return
    content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=text)
    try:
        await portal.main_intent.send_message(RoomID(room_id), content)
    except Exception:
        portal.log.warning("Couldn't send a notice to %s", room_id, exc_info=True)
