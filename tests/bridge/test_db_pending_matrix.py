"""``pending_matrix_event``: Matrix events kept until handled (SQLite and PostgreSQL)."""

from __future__ import annotations

from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB


def _event(event_id: str, body: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": "m.room.message",
        "room_id": "!room:example.org",
        "sender": "@alice:example.org",
        "content": {"msgtype": "m.text", "body": body},
    }


async def test_kept_once_in_arrival_order_until_deleted(database: Database) -> None:
    table = BridgeDB(database).pending_matrix
    await table.insert_many([_event("$b", "first"), _event("$a", "second")])
    # A retried transaction: the kept copy stays as it was, and first.
    await table.insert_many([_event("$b", "changed"), _event("$c", "third")])
    kept = await table.all()
    assert [(e["event_id"], e["content"]["body"]) for e in kept] == [
        ("$b", "first"),
        ("$a", "second"),
        ("$c", "third"),
    ]
    await table.delete("$a")
    assert [e["event_id"] for e in await table.all()] == ["$b", "$c"]


async def test_a_started_send_is_known_to_the_next_run(database: Database) -> None:
    table = BridgeDB(database).pending_matrix
    await table.insert_many([_event("$a", "hi")])
    assert await table.start_attempt("$a") is False  # first run: not started before
    assert await table.start_attempt("$a") is True  # after a crash: it may have gone out
    assert await table.start_attempt("$unknown") is False  # not kept (e.g. encrypted)
