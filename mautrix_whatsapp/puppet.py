"""Ghosts: the Matrix users that stand for WhatsApp contacts.

The ghost's localpart is ``username_template`` with ``{userid}`` = the phone digits, or
``lid-<n>`` for contacts known only by their LID (as the Go bridge does). One person is one
ghost: once a LID's phone number is known, the bridge resolves the LID to the phone-number
ghost (``WhatsAppBridge.get_puppet_by_jid``) and folds the LID ghost's names into it.

Names: ``bridge.displayname_template`` over the names a ghost has (address book, push name,
verified business name, phone), ``{displayname}`` being the first non-empty one in
``bridge.displayname_preference``. The avatar is the contact's WhatsApp profile picture,
uploaded to Matrix once per picture id.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mautrix.appservice import IntentAPI
from mautrix.types import ContentURI, UserID

from .config import DisplaynameFormat
from .db import PuppetRow

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge
    from .session import ProfilePicture

log = logging.getLogger("mau.puppet")


class PictureSource(Protocol):
    """The part of a :class:`~.session.WhatsAppSession` avatars need."""

    @property
    def is_connected(self) -> bool: ...

    async def get_profile_picture(
        self, jid: str, existing_id: str | None = None
    ) -> ProfilePicture | None: ...


class InvalidJID(ValueError):
    """Not a WhatsApp user JID the bridge can make a ghost for."""


_USER_PART = re.compile(r"^[0-9]{1,20}$")


def ghost_id_for_jid(jid: str) -> str:
    """``15551234567:3@s.whatsapp.net`` → ``15551234567``; ``42@lid`` → ``lid-42``."""
    user, sep, server = jid.partition("@")
    user = user.split(":", 1)[0].split(".", 1)[0]
    if not sep or not _USER_PART.match(user):
        raise InvalidJID(f"not a WhatsApp user JID: {jid!r}")
    if server == "s.whatsapp.net":
        return user
    if server == "lid":
        return f"lid-{user}"
    raise InvalidJID(f"not a WhatsApp user JID: {jid!r}")


def jid_for_ghost_id(ghost_id: str) -> str:
    """The inverse of :func:`ghost_id_for_jid` (user JIDs without device)."""
    if ghost_id.startswith("lid-") and _USER_PART.match(ghost_id[4:]):
        return f"{ghost_id[4:]}@lid"
    if _USER_PART.match(ghost_id):
        return f"{ghost_id}@s.whatsapp.net"
    raise InvalidJID(f"not a ghost ID: {ghost_id!r}")


@dataclass(frozen=True)
class Names:
    """What a ghost can be named from; empty strings for the unknown ones."""

    full_name: str = ""
    first_name: str = ""
    push_name: str = ""
    business_name: str = ""
    phone: str = ""  # +digits, empty for a LID-only ghost

    @classmethod
    def of(cls, row: PuppetRow) -> Names:
        return cls(
            full_name=row.full_name or "",
            first_name=row.first_name or "",
            push_name=row.push_name or "",
            business_name=row.business_name or "",
            phone=f"+{row.phone}" if row.phone else "",
        )


def format_displayname(fmt: DisplaynameFormat, names: Names) -> str | None:
    """The ghost's name, or None when nothing names it (a LID ghost seen without a name).

    Names are stripped first, so a push name of spaces does not count as a name.
    """
    values = {
        "full_name": names.full_name.strip(),
        "first_name": names.first_name.strip(),
        "push_name": names.push_name.strip(),
        "business_name": names.business_name.strip(),
        "phone": names.phone,
    }
    best = next((values[key] for key in fmt.preference if values[key]), "")
    if not best:
        return None
    return fmt.template.format(displayname=best, **values).strip() or None


class Puppet:
    """A ghost: its row, its Matrix intent, and keeping its name and avatar current."""

    def __init__(self, bridge: WhatsAppBridge, row: PuppetRow) -> None:
        self.bridge = bridge
        self.row = row
        self.mxid: UserID = bridge.ghost_mxid(ghost_id_for_jid(row.jid))
        self.intent: IntentAPI = bridge.az.intent.user(self.mxid)
        self.custom_mxid = row.custom_mxid
        self.is_real_user = False
        self.lock = asyncio.Lock()
        """Held while the profile is changed: several users' sessions report the same people."""

    @property
    def jid(self) -> str:
        return self.row.jid

    @property
    def is_registered(self) -> bool:
        return self.row.is_registered

    @is_registered.setter
    def is_registered(self, value: bool) -> None:
        self.row.is_registered = value

    @property
    def displayname(self) -> str | None:
        return self.row.displayname

    async def save(self) -> None:
        await self.bridge.tables.puppets.upsert(self.row)

    # ---- name --------------------------------------------------------------------------

    async def update_names(
        self,
        *,
        full_name: str | None = None,
        first_name: str | None = None,
        push_name: str | None = None,
        business_name: str | None = None,
    ) -> bool:
        """Record the names given (None: unchanged) and rename the ghost if its name changed.

        An empty ``push_name``/``business_name`` is ignored: WhatsApp sends no name far more
        often than it means "removed". Address-book names are replaced as given (a contact
        edited to have no name is a real change). Returns whether the Matrix name changed.
        """
        async with self.lock:
            row = self.row
            if full_name is not None:
                row.full_name = full_name
            if first_name is not None:
                row.first_name = first_name
            if push_name:
                row.push_name = push_name
            if business_name:
                row.business_name = business_name
            return await self._sync_name()

    async def _sync_name(self) -> bool:
        name = format_displayname(self.bridge.config.displayname_format, Names.of(self.row))
        if name is None or (name == self.row.displayname and self.row.name_set):
            await self.save()
            return False
        self.row.displayname = name
        try:
            await self.intent.ensure_registered()
            await self.intent.set_displayname(name)
            self.row.name_set = True
        except Exception as e:
            log.warning("Failed to set the name of %s: %s", self.mxid, e)
            self.row.name_set = False
        await self.save()
        return self.row.name_set

    # ---- avatar ------------------------------------------------------------------------

    async def update_avatar(self, session: PictureSource, picture_id: str | None = None) -> bool:
        """Make the ghost's avatar the contact's current WhatsApp picture.

        ``picture_id`` comes from a ``picture`` notification (``""``: removed); without it
        the picture is asked for. The image is uploaded only when its id is new. Returns
        whether the Matrix avatar changed.
        """
        async with self.lock:
            row = self.row
            if picture_id is not None and picture_id == row.avatar_id and row.avatar_set:
                return False
            if picture_id == "":
                return await self._set_avatar("", ContentURI(""))
            known = row.avatar_id if row.avatar_set and row.avatar_id else None
            picture = await session.get_profile_picture(self.jid, existing_id=known)
            if picture is None:
                return await self._set_avatar("", ContentURI(""))
            if picture.id == row.avatar_id and row.avatar_url:
                if row.avatar_set:
                    return False
                return await self._set_avatar(picture.id, row.avatar_url)  # uploaded before
            if picture.data is None:
                return False
            await self.intent.ensure_registered()
            mxc = await self.intent.upload_media(
                picture.data, mime_type="image/jpeg", filename="avatar.jpg"
            )
            return await self._set_avatar(picture.id, mxc)

    async def _set_avatar(self, picture_id: str, mxc: ContentURI) -> bool:
        row = self.row
        if row.avatar_set and row.avatar_id == picture_id and row.avatar_url == mxc:
            return False
        row.avatar_id, row.avatar_url = picture_id, mxc
        try:
            await self.intent.ensure_registered()
            await self.intent.set_avatar_url(mxc)
            row.avatar_set = True
        except Exception as e:
            log.warning("Failed to set the avatar of %s: %s", self.mxid, e)
            row.avatar_set = False
        await self.save()
        return row.avatar_set

    def __repr__(self) -> str:
        return f"Puppet({self.row.jid!r})"

    # ---- groups, dms ----

    @property
    def default_mxid_intent(self) -> IntentAPI:
        """The ghost's own intent, by the name mautrix's invite handling uses."""
        return self.intent
