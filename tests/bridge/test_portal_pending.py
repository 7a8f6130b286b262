"""Received messages through ``portal.pending``: kept before the handler returns, bridged
once, their rows gone after; rows left by a crash are bridged at start, exactly once."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
import pytest
from mautrix.types import EventID, UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import MessageRow, UserRow
from mautrix_whatsapp.portal import pending
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from tests.bridge.test_portal_messages import CONTACT, ROOM, _received, _setup


async def _idle(portal: Any) -> None:
    """Wait until the portal's queue ran everything submitted so far, and the deletions."""

    async def nothing() -> None:
        pass

    await portal.queue.run(nothing)
    await portal.bridge.tables.pending.flush()


async def _ready(database: Database) -> tuple[Any, Any, Any]:
    portal, source, shared, _ = _setup(database)
    await portal.bridge.tables.users.upsert(UserRow(mxid=UserID("@me:example.org")))
    await portal.postinit()
    await portal.save()
    return portal, source, shared


async def test_a_message_is_kept_until_bridged(database: Database) -> None:
    portal, source, shared = await _ready(database)
    text = _received("3EB0P1", wa_e2e_pb2.Message(conversation="kept"))
    await pending.accept(portal, source, text)
    [row] = await portal.bridge.tables.pending.all()  # in the DB before the handler returned
    assert (row.id, row.sender, row.user_mxid) == ("3EB0P1", CONTACT, "@me:example.org")
    assert wa_e2e_pb2.Message.FromString(row.message).conversation == "kept"
    await pending.accept(portal, source, text)  # redelivered live: bridged once all the same
    await _idle(portal)
    assert [content.body for _, _, content, _ in shared.sent] == ["kept"]
    assert await portal.bridge.tables.pending.all() == []


async def test_a_message_that_cannot_be_kept_raises(database: Database) -> None:
    portal, source, shared, _ = _setup(database)  # no portal row: the insert fails
    with pytest.raises((sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError)):
        await pending.accept(portal, source, _received("3EB0P2", wa_e2e_pb2.Message()))
    await _idle(portal)
    assert shared.sent == []


async def test_rows_left_by_a_crash_are_bridged_once_in_order(database: Database) -> None:
    portal, source, shared = await _ready(database)
    tables = portal.bridge.tables
    # "first" arrived last but was written earlier (WhatsApp time): it goes first.
    first = replace(
        _received("3EB0P3", wa_e2e_pb2.Message(conversation="first")), timestamp=1_700_000_000.0
    )
    second = _received("3EB0P4", wa_e2e_pb2.Message(conversation="second"))
    bridged = _received("3EB0P5", wa_e2e_pb2.Message(conversation="already in Matrix"))
    for message in (second, bridged, first):
        await tables.pending.insert(pending._row(portal, source, message))
    # The crash came after "already in Matrix" was stored, before its row was deleted.
    await tables.messages.insert(
        MessageRow(portal.jid, portal.receiver, CONTACT, "3EB0P5", EventID("$old"), ROOM, 1)
    )

    async def get_user(mxid: UserID, create: bool = True) -> Any:
        return source if mxid == source.mxid else None

    async def get_by_jid(jid: str, receiver: str, create: bool = True) -> Any:
        return portal if (jid, receiver) == (portal.jid, portal.receiver) else None

    bridge = SimpleNamespace(
        tables=tables, get_user=get_user, portals=SimpleNamespace(get_by_jid=get_by_jid)
    )
    assert await pending.resubmit_all(cast(Any, bridge)) == 3
    await _idle(portal)
    # By WhatsApp time, then arrival; the one already bridged is not sent again.
    assert [content.body for _, _, content, _ in shared.sent] == ["first", "second"]
    assert await tables.pending.all() == []
