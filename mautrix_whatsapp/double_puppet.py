"""Double puppeting: the bridge speaking for a user with their own Matrix account.

What a user does on WhatsApp outside the bridge (a message from the phone, a reaction, an edit,
a read) then shows in Matrix as done by them, not by a ghost standing for them. The account is
reached, as mautrix-go's bridgev2 does it, per Matrix user (not per ghost):

* automatically, when ``double_puppet.secrets`` has the user's server: ``as_token:<token>`` of
  a second appservice whose namespace covers the users (the recommended method: no login, and
  timestamps work), or a shared-secret login;
* manually, with ``login-matrix <access token>`` (stored in ``double_puppet``, v11), undone by
  ``logout-matrix``.

mautrix's :class:`~mautrix.bridge.CustomPuppetMixin` does the work (token checks with
``whoami``, refusing a token of another user or of a device with encryption keys, automatic
login); :class:`DoublePuppet` gives it one user's state. Everything sent through a double puppet
carries ``fi.mau.double_puppet_source``, and mautrix's Matrix handler drops such events when
they come back, so nothing echoes to WhatsApp.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from mautrix.appservice import DOUBLE_PUPPET_SOURCE_KEY, IntentAPI
from mautrix.bridge import CustomPuppetMixin
from mautrix.errors import MatrixError
from mautrix.types import EventID, RoomID, UserID
from yarl import URL

from .db.double_puppet import DoublePuppetRow, DoublePuppetTable

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge
    from .user import User

log = logging.getLogger("mau.double_puppet")

AS_TOKEN_MARKER = "appservice-config"
"""What mautrix stores as the "token" of a double puppet reached with the config's as_token."""


class DoublePuppet(CustomPuppetMixin):
    """One Matrix user's own account as the bridge uses it; ``intent`` speaks as them.

    Only an instance whose :attr:`is_real_user` is true is handed out (see
    :meth:`DoublePuppets.get`): ``default_mxid_intent`` (the bot) is never used to speak.
    """

    by_custom_mxid: dict[UserID, CustomPuppetMixin] = {}
    login_device_name = "WhatsApp Bridge"

    def __init__(self, table: DoublePuppetTable, user_mxid: UserID, *, persist: bool) -> None:
        self.table = table
        self.persist = persist
        """False while a ``login-matrix`` token is tried: a failed try must not erase the
        user's stored token (mautrix saves when it invalidates a bad one)."""
        self.default_mxid = user_mxid
        self.default_mxid_intent = self.az.intent
        self.custom_mxid: UserID | None = None
        self.access_token: str | None = None
        self.base_url: URL | None = None
        self.intent = self.default_mxid_intent
        self.log = log.getChild(user_mxid)

    def load(self, row: DoublePuppetRow) -> None:
        self.custom_mxid = row.user_mxid
        self.access_token = row.access_token
        self.base_url = URL(row.base_url) if row.base_url else None
        self.intent = self._fresh_intent()

    @property
    def uses_as_token(self) -> bool:
        return self.access_token == AS_TOKEN_MARKER

    async def save(self) -> None:
        if not self.persist:
            return
        if self.is_real_user and self.custom_mxid and self.access_token:
            base_url = str(self.base_url) if self.base_url else None
            await self.table.put(DoublePuppetRow(self.custom_mxid, self.access_token, base_url))
        else:
            await self.table.delete(self.default_mxid)

    async def start(
        self,
        retry_auto_login: bool = False,
        start_sync_task: bool = True,
        check_e2ee_keys: bool = False,
    ) -> None:
        # An appservice "device" has no keys to find (and no device ID to ask about).
        await super().start(
            retry_auto_login=retry_auto_login,
            start_sync_task=start_sync_task,
            check_e2ee_keys=check_e2ee_keys and not self.uses_as_token,
        )

    async def _leave_rooms_with_default_user(self) -> None:
        """Nothing to hand over: no ghost stood in for the user's account."""


class DoublePuppets:
    """Every user's double puppet, set up on first use and cached for the process."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        self.bridge = bridge
        self.table = DoublePuppetTable(bridge.db)
        self._puppets: dict[UserID, DoublePuppet | None] = {}
        self._lock = asyncio.Lock()
        config = bridge.config
        DoublePuppet.az = bridge.az
        DoublePuppet.loop = bridge.loop
        DoublePuppet.mx = bridge.matrix
        DoublePuppet.login_shared_secret_map = {
            str(server): str(secret).encode("utf-8")
            for server, secret in (config["double_puppet.secrets"] or {}).items()
            if secret
        }
        DoublePuppet.homeserver_url_map = {
            str(server): URL(str(url))
            for server, url in (config["double_puppet.servers"] or {}).items()
            if url
        }
        DoublePuppet.allow_discover_url = bool(config["double_puppet.allow_discovery"])

    async def get(self, user_mxid: UserID) -> DoublePuppet | None:
        """The user's working double puppet, or None (not set up, or it doesn't work)."""
        if user_mxid == self.bridge.az.bot_mxid or self.bridge.is_bridge_ghost(user_mxid):
            return None
        if user_mxid in self._puppets:
            return self._puppets[user_mxid]
        async with self._lock:
            if user_mxid not in self._puppets:
                self._puppets[user_mxid] = await self._set_up(user_mxid)
            return self._puppets[user_mxid]

    async def _set_up(self, user_mxid: UserID) -> DoublePuppet | None:
        puppet = DoublePuppet(self.table, user_mxid, persist=True)
        row = await self.table.get(user_mxid)
        try:
            if row is not None and not (
                row.access_token == AS_TOKEN_MARKER and not self._may_auto_login(user_mxid)
            ):
                puppet.load(row)
                await puppet.start(retry_auto_login=self._may_auto_login(user_mxid))
            elif self._may_auto_login(user_mxid):
                await puppet.switch_mxid("auto", user_mxid)
            else:
                if row is not None:  # automatic, but the secret is gone from the config
                    await self.table.delete(user_mxid)
                return None
        except Exception as e:
            log.warning("Double puppeting for %s doesn't work: %s", user_mxid, e)
            return None
        return puppet if puppet.is_real_user else None

    def _may_auto_login(self, user_mxid: UserID) -> bool:
        if not self.bridge.config.get_permissions(user_mxid).user:
            return False
        try:
            return DoublePuppet.can_auto_login(user_mxid)
        except ValueError:
            return False

    async def login(self, user_mxid: UserID, access_token: str) -> DoublePuppet:
        """``login-matrix``: use ``access_token`` from now on (mautrix's errors if it is bad:
        their messages are for the user)."""
        async with self._lock:
            puppet = DoublePuppet(self.table, user_mxid, persist=False)
            await puppet.switch_mxid(access_token, user_mxid)
            puppet.persist = True
            await puppet.save()
            self._puppets[user_mxid] = puppet
            return puppet

    async def logout(self, user_mxid: UserID) -> bool:
        """``logout-matrix``: forget the user's token. False if they had none.

        Automatic double puppeting comes back on next use where the config provides it (as
        in bridgev2).
        """
        async with self._lock:
            row = await self.table.get(user_mxid)
            cached = self._puppets.pop(user_mxid, None)
            if row is None and cached is None:
                return False
            await self.table.delete(user_mxid)
            return True


# ---- glue for the portal: small helpers that do nothing without a double puppet ----


async def intent_for(bridge: WhatsAppBridge, user: User) -> IntentAPI | None:
    """The intent that speaks as ``user`` themself, if they are double puppeted.

    A bridge without the registry (the portal unit tests' stand-in bridges) has none."""
    puppets: DoublePuppets | None = getattr(bridge, "double_puppets", None)
    puppet = await puppets.get(user.mxid) if puppets is not None else None
    return puppet.intent if puppet is not None else None


async def join_room(bridge: WhatsAppBridge, user: User, room_id: RoomID, bot: IntentAPI) -> None:
    """The user's account accepts its invite into a new portal room (so they needn't)."""
    intent = await intent_for(bridge, user)
    if intent is None:
        return
    try:
        await intent.ensure_joined(room_id, bot=bot)
    except MatrixError as e:
        log.warning("%s couldn't join %s as a double puppet: %s", user.mxid, room_id, e)


async def mark_read(
    bridge: WhatsAppBridge, user: User, room_id: RoomID, event_id: EventID
) -> None:
    """The user read up to ``event_id`` elsewhere: their own read receipt and marker."""
    intent = await intent_for(bridge, user)
    if intent is None:
        return
    try:
        await intent.mark_read(room_id, event_id)
    except MatrixError as e:
        log.warning("Couldn't mark %s read for %s: %s", event_id, user.mxid, e)


def mark_edit(intent: IntentAPI, content: Any) -> None:
    """Put the double-puppet marker into an edit's ``m.new_content`` too.

    mautrix reads a received edit as its ``m.new_content`` alone, so the marker the intent adds
    at the top would be lost and the edit would go back to WhatsApp.
    """
    if not (isinstance(intent, IntentAPI) and intent.api.is_real_user and intent.api.bridge_name):
        return
    new_content = content.get("m.new_content") if hasattr(content, "get") else None
    if isinstance(new_content, dict):
        new_content[DOUBLE_PUPPET_SOURCE_KEY] = intent.api.bridge_name
