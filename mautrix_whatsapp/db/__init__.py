"""The bridge database: tables as small query classes over one ``mautrix`` Database."""

from __future__ import annotations

from mautrix.util.async_db import Database

from .disappearing import DisappearingTable
from .history import HistoryTable
from .media_request import MediaRequestTable  # ---- media requests ----
from .message import MessageRow, MessageTable
from .pending import PendingMessageRow, PendingMessageTable
from .pending_matrix import PendingMatrixTable  # ---- faults ----
from .portal import PortalRow, PortalTable
from .puppet import PuppetRow, PuppetTable
from .reaction import ReactionRow, ReactionTable
from .upgrade import upgrade_table
from .user import UserRow, UserTable


class BridgeDB:
    """The bridge's tables, built on one database and passed to whoever needs them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = UserTable(db)
        self.puppets = PuppetTable(db)
        self.portals = PortalTable(db)
        self.messages = MessageTable(db)
        self.reactions = ReactionTable(db)
        self.disappearing = DisappearingTable(db)  # ---- receipts ----: also timers, reads
        # ---- crash safety ----
        self.pending = PendingMessageTable(db)
        self.history = HistoryTable(db)  # ---- backfill ----
        self.media_requests = MediaRequestTable(db)  # ---- media requests ----
        # ---- faults ----
        self.pending_matrix = PendingMatrixTable(db)


__all__ = [
    "BridgeDB",
    "MessageRow",
    "MessageTable",
    "PendingMessageRow",
    "PendingMessageTable",
    "PortalRow",
    "PortalTable",
    "PuppetRow",
    "PuppetTable",
    "ReactionRow",
    "ReactionTable",
    "UserRow",
    "UserTable",
    "upgrade_table",
]
