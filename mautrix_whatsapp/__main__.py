"""The bridge daemon: ``python -m mautrix_whatsapp [-c config.yaml] [-g]``."""

from __future__ import annotations

import asyncio
import functools
import os
import pkgutil
import re
import signal
import sys
import time

from mautrix.bridge import Bridge
from mautrix.types import RoomID, UserID
from mautrix.util.config import ConfigValueError

from .config import Config, ConfigError, parse_duration
from .db import BridgeDB, PuppetRow, UserRow, upgrade_table
from .db.outage import retry_statements_through_outages  # ---- faults ----
from .double_puppet import DoublePuppet, DoublePuppets
from .matrix import MatrixHandler
from .matrix_pending import MatrixEventKeeper  # ---- faults ----
from .metrics import MetricsServer, install_matrix_request_timing
from .portal import Portal, PortalRegistry
from .portal.disappearing import DisappearingLoop
from .puppet import InvalidJID, Puppet, ghost_id_for_jid, jid_for_ghost_id
from .session import SessionFactory
from .user import User
from .version import linkified_version, version
from .web.login_page import LoginPage
from .web.provisioning import ProvisioningAPI

FIRST_RUN_TEXT = """\
Didn't find a config file, so I wrote the default one to {path}.

Edit it before starting the bridge:
  * homeserver.address and homeserver.domain: your Matrix homeserver
  * appservice.address, hostname and port: where the homeserver reaches the bridge
  * appservice.database: SQLite by default; use postgres://... for many users
  * bridge.permissions: who may use the bridge

Then generate the registration with
  {command} -g -c {path} -r registration.yaml
register registration.yaml with your homeserver (Synapse: app_service_config_files),
restart the homeserver, and start the bridge with
  {command} -c {path}
"""


def write_default_config(path: str) -> None:
    """Copy the packaged example config to ``path`` (the first-run experience)."""
    data = pkgutil.get_data("mautrix_whatsapp", "example-config.yaml")
    if data is None:
        raise FileNotFoundError("example-config.yaml is missing from the package")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def _own_command() -> str:
    """How this bridge was started, for instructions (``.venv/bin/python -m …``)."""
    python = os.path.relpath(sys.executable)
    if python.startswith(".."):
        python = sys.executable
    elif os.sep not in python:
        python = f".{os.sep}{python}"
    return f"{python} -m mautrix_whatsapp"


class WhatsAppBridge(Bridge):
    """The process: mautrix's lifecycle plus this bridge's users, ghosts and sessions.

    It is the one object that knows everything, so it is passed to its collaborators (users,
    portals, the session factory) rather than imported by them; they name it only in type hints.
    """

    module = "mautrix_whatsapp"
    name = "mautrix-whatsapp"
    beeper_service_name = "whatsapp"
    beeper_network_name = "whatsapp"
    command = "python -m mautrix_whatsapp"
    description = "A Matrix-WhatsApp puppeting bridge."
    repo_url = "https://github.com/mautrix/whatsapp"
    version = version
    markdown_version = linkified_version
    config_class = Config
    matrix_class = MatrixHandler
    upgrade_table = upgrade_table

    config: Config
    matrix: MatrixHandler
    tables: BridgeDB
    portals: PortalRegistry
    session_factory: SessionFactory
    provisioning: ProvisioningAPI | None = None
    login_page: LoginPage | None = None

    def __init__(self, session_factory: SessionFactory | None = None) -> None:
        super().__init__()
        self._session_factory_override = session_factory
        self._users: dict[UserID, User] = {}
        self._puppets: dict[str, Puppet] = {}
        self._puppets_lock = asyncio.Lock()
        self._pn_by_lid: dict[str, str] = {}
        self._users_lock = asyncio.Lock()
        self._ghost_re: re.Pattern[str] | None = None
        self.metrics_server: MetricsServer | None = None

    # ---- config ------------------------------------------------------------------------

    def prepare_config(self) -> None:
        path = self.args.config
        if not os.path.exists(path):
            write_default_config(path)
            print(FIRST_RUN_TEXT.format(path=path, command=_own_command()))
            sys.exit(0)
        super().prepare_config()

    def check_config(self) -> None:
        """Refuse placeholder and malformed values, naming the key to edit."""
        try:
            self.config.check_default_values()
            self.config.validate()
        except (ConfigValueError, ConfigError) as e:
            print(f"Can't start: {e} (edit {self.args.config})", file=sys.stderr)
            sys.exit(11)

    def start_prometheus(self) -> None:
        """mautrix's own metrics server reads ``metrics.listen_port``; ours is ``listen``
        (``host:port``, as mautrix-whatsapp has it) and runs in :meth:`start` instead."""

    @property
    def disconnect_notice_delay(self) -> float:
        key = "bridge.disconnect_notice_delay"
        return parse_duration(key, self.config[key])

    # ---- setup and lifecycle -----------------------------------------------------------

    def prepare_db(self) -> None:
        # ---- faults ---- mautrix exits the process on an asyncpg internal client error by
        # default; a PostgreSQL restart causes them on connections in use (a server message
        # arriving mid-transaction), and the bridge must ride that out: the failed statement
        # raises instead, and the pool drops the connection when it is released.
        opts = self.config["appservice.database_opts"]
        postgres = str(self.config["appservice.database"]).startswith(("postgres", "cockroach"))
        if postgres and isinstance(opts, dict) and "meow_exit_on_ice" not in opts:
            opts["meow_exit_on_ice"] = False
        super().prepare_db()
        retry_statements_through_outages(self.db, self.log.getChild("db"))  # ---- faults ----
        self.tables = BridgeDB(self.db)

    def prepare_bridge(self) -> None:
        if self._session_factory_override is not None:
            self.session_factory = self._session_factory_override
        else:
            from .wa_session import ClientSessionFactory

            self.session_factory = ClientSessionFactory(self)
        self.prepare_bridge_ghost_pattern()
        self.portals = PortalRegistry(self)
        super().prepare_bridge()
        settings = self.config.provisioning
        if settings.enabled:
            self.provisioning = ProvisioningAPI(self, settings)
            self.provisioning.register(self.az.app)
            self.login_page = LoginPage(self.provisioning)
            self.login_page.register(self.az.app)

    def prepare_bridge_ghost_pattern(self) -> None:
        """The pattern of ghost MXIDs, from ``username_template`` (split out for tests)."""
        template = self.config["bridge.username_template"]
        prefix, suffix = template.split("{userid}", 1)
        domain = self.config["homeserver.domain"]
        self._ghost_re = re.compile(
            f"^@{re.escape(prefix)}(.+){re.escape(suffix)}:{re.escape(domain)}$"
        )

    async def start(self) -> None:
        """Start mautrix's parts, then reconnect every logged-in user.

        The reconnect runs after ``super().start()`` instead of as a startup action: a startup
        action is a coroutine made up front, and a stop during startup (SIGTERM while waiting
        for the homeserver) would leave it never awaited.
        """
        recovery_from = int(time.time() * 1000)  # the homeserver resends from now on
        listen = self.config.metrics_listen
        if listen is not None:
            install_matrix_request_timing()
            self.metrics_server = MetricsServer(*listen)
            await self.metrics_server.start()
        self.matrix_events.install()  # ---- faults ----
        await super().start()
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(signum, self._stop_on_signal)
        self.disappearing.start()  # ---- receipts ----
        await self.resubmit_pending_messages()
        await self.matrix_events.resubmit_all()  # ---- faults ----
        self.matrix_events.missed.started(recovery_from)  # ---- faults ----
        await self._reconnect_users()

    def _stop_on_signal(self) -> None:
        """Stop at a safe point once running.

        mautrix turns SIGTERM into a KeyboardInterrupt raised wherever the loop happens to be:
        inside a database query, a websocket write or a notice being sent, which are then left
        half done while the stop runs. Once startup is over, the signal instead ends the main
        wait, and the normal stop runs. (During startup the interrupt is still what ends a
        bridge that waits for its homeserver.)
        """
        if not self._stop_task.done():
            self.log.debug("Stop signal received, stopping...")
            self.manual_stop(0)

    async def _reconnect_users(self) -> None:
        """Every logged-in user reconnects (each connection is made in the background)."""
        for row in await self.tables.users.all_logged_in():
            try:
                user = await self.get_user(row.mxid)
                if user is not None:
                    await user.connect()
            except Exception:
                self.log.exception("Failed to reconnect %s", row.mxid)

    def prepare_stop(self) -> None:
        self.add_shutdown_actions(*(user.disconnect() for user in self._users.values()))
        self.add_shutdown_actions(self.portals.stop())
        self.add_shutdown_actions(self.disappearing.stop())  # ---- receipts ----
        self.add_shutdown_actions(self.matrix_events.missed.stop())  # ---- faults ----
        if self.metrics_server is not None:
            self.add_shutdown_actions(self.metrics_server.stop())

    # ---- lookups -----------------------------------------------------------------------

    def ghost_mxid(self, ghost_id: str) -> UserID:
        localpart = self.config["bridge.username_template"].format(userid=ghost_id)
        return UserID(f"@{localpart}:{self.config['homeserver.domain']}")

    def is_bridge_ghost(self, user_id: UserID) -> bool:
        return bool(self._ghost_re and self._ghost_re.match(user_id))

    async def get_user(self, user_id: UserID, create: bool = True) -> User | None:
        if user_id == self.az.bot_mxid or self.is_bridge_ghost(user_id):
            return None
        async with self._users_lock:
            user = self._users.get(user_id)
            if user is not None:
                return user
            row = await self.tables.users.get_by_mxid(user_id)
            if row is None:
                if not create:
                    return None
                row = UserRow(mxid=user_id)
                await self.tables.users.upsert(row)
            user = User(self, row)
            self._users[user_id] = user
            return user

    async def get_portal(self, room_id: RoomID) -> Portal | None:  # type: ignore[override]
        return await self.portals.get_by_mxid(room_id)

    async def get_puppet(  # type: ignore[override]
        self, user_id: UserID, create: bool = False
    ) -> Puppet | None:
        match = self._ghost_re.match(user_id) if self._ghost_re else None
        if not match:
            return None
        try:
            jid = jid_for_ghost_id(match.group(1))
        except InvalidJID:
            return None
        return await self.get_puppet_by_jid(jid, create=create)

    async def get_puppet_by_jid(self, jid: str, create: bool = True) -> Puppet | None:
        """The ghost of ``jid`` (any device, phone number or LID): the same ghost for both
        forms of one person once the LID's number is known (see :mod:`.puppet`)."""
        try:
            user_jid = jid_for_ghost_id(ghost_id_for_jid(jid))
        except InvalidJID:
            return None
        async with self._puppets_lock:
            user_jid = await self._canonical_jid(user_jid)
            puppet = self._puppets.get(user_jid)
            if puppet is not None:
                return puppet
            row = await self.tables.puppets.get_by_jid(user_jid)
            if row is None:
                if not create:
                    return None
                phone, _, server = user_jid.partition("@")
                row = PuppetRow(jid=user_jid, phone=phone if server == "s.whatsapp.net" else None)
                await self.tables.puppets.upsert(row)
            puppet = Puppet(self, row)
            self._puppets[user_jid] = puppet
            return puppet

    async def _canonical_jid(self, user_jid: str) -> str:
        """A LID whose phone number is known becomes the number; the LID's ghost (if it was
        made before the number was known) gives its names to the number's and is dropped."""
        lid, _, server = user_jid.partition("@")
        if server != "lid":
            return user_jid
        pn = self._pn_by_lid.get(lid) or await self.tables.puppets.pn_for_lid(lid)
        if pn is None:
            return user_jid
        self._pn_by_lid[lid] = pn
        pn_jid = f"{pn}@s.whatsapp.net"
        old = self._puppets.pop(user_jid, None)
        old_row = old.row if old else await self.tables.puppets.get_by_jid(user_jid)
        if old_row is not None:
            await self._fold_lid_ghost(old_row, pn_jid)
        return pn_jid

    async def _fold_lid_ghost(self, lid_row: PuppetRow, pn_jid: str) -> None:
        """Copy what the LID ghost knew into the phone-number ghost's row, then forget it.

        The LID ghost's Matrix account stays (it may be in rooms); portals replace it in
        their members as they sync. Names the phone-number ghost already has win.
        """
        row = self._puppets[pn_jid].row if pn_jid in self._puppets else None
        row = row or await self.tables.puppets.get_by_jid(pn_jid)
        if row is None:
            row = PuppetRow(jid=pn_jid, phone=pn_jid.partition("@")[0])
        for name in ("full_name", "first_name", "push_name", "business_name"):
            if not getattr(row, name) and getattr(lid_row, name):
                setattr(row, name, getattr(lid_row, name))
        if row.avatar_id is None and lid_row.avatar_id is not None:
            row.avatar_id, row.avatar_url = lid_row.avatar_id, lid_row.avatar_url
        row.name_set = row.avatar_set = False  # the merged names and avatar are set anew
        await self.tables.puppets.upsert(row)
        await self.tables.puppets.delete(lid_row.jid)
        self.log.debug("Folded the ghost of %s into %s", lid_row.jid, pn_jid)

    async def get_double_puppet(  # type: ignore[override]
        self, user_id: UserID
    ) -> DoublePuppet | None:
        return await self.double_puppets.get(user_id)  # ---- double puppet ----

    async def count_logged_in_users(self) -> int:
        return await self.tables.users.count_logged_in()

    # ---- receipts ----

    @functools.cached_property
    def disappearing(self) -> DisappearingLoop:
        """Redacts disappearing messages when they expire (started with the bridge)."""
        return DisappearingLoop(self)

    # ---- crash safety ----

    async def resubmit_pending_messages(self) -> None:
        """Queue what the last run received but did not bridge, ahead of anything new (so
        before the users reconnect)."""
        from .portal.pending import resubmit_all

        await resubmit_all(self)

    # ---- double puppet ----

    @functools.cached_property
    def double_puppets(self) -> DoublePuppets:
        """Users' own Matrix accounts, for what they do on WhatsApp outside the bridge."""
        return DoublePuppets(self)

    # ---- faults ----

    @functools.cached_property
    def matrix_events(self) -> MatrixEventKeeper:
        """Keeps Matrix message events from the transaction's reply until handled."""
        return MatrixEventKeeper(self)


def main() -> None:
    WhatsAppBridge().run()


if __name__ == "__main__":
    main()
