"""``sync groups`` and ``sync contacts``: bring portals and ghosts up to date on request.

Groups: every group the user is in gets its portal and room (created, or the user invited to
an existing one). Contacts: every known ghost's name is formatted anew and its avatar asked for
again; existing group rooms are brought up to date (names, topics, avatars, members, power
levels) by ``metadata.sync_group``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..db.portal_data import all_puppet_jids
from .metadata import sync_group

if TYPE_CHECKING:
    from ..user import User


@dataclass(frozen=True)
class GroupSyncResult:
    groups: int
    created: int
    failed: int


async def sync_groups(user: User) -> GroupSyncResult:
    """Make sure each of the user's groups has a room the user is in."""
    session = user.session
    if session is None or not session.is_connected:
        raise RuntimeError("you're not connected to WhatsApp")
    groups = await session.get_joined_groups()
    created = failed = 0
    for group in groups:
        portal = await user.bridge.portals.get_by_jid(group.jid, "")
        if portal is None:
            failed += 1
            continue
        had_room = portal.mxid is not None
        if await portal.ensure_room(user) is None:
            failed += 1
        elif not had_room:
            created += 1
        else:
            await sync_group(portal, user, group)
    return GroupSyncResult(groups=len(groups), created=created, failed=failed)


async def sync_contacts(user: User) -> int:
    """Rename every ghost from its stored names and refresh its avatar; returns how many."""
    jids = await all_puppet_jids(user.bridge.db)
    count = 0
    for jid in jids:
        puppet = await user.bridge.get_puppet_by_jid(jid, create=False)
        if puppet is None:
            continue
        await puppet.update_names()
        user.contacts.want_avatar(puppet)
        count += 1
    await user.contacts.wait_idle()
    return count
