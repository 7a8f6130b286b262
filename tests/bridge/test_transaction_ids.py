"""Appservice transaction ids: a repeat is the same id with the same events, not the id alone
(Synapse on SQLite reuses ids after a restart)."""

from __future__ import annotations

from mautrix_whatsapp.transaction_ids import NeverSeen, TransactionMemory


def test_same_id_same_events_is_a_repeat_new_events_are_not() -> None:
    memory = TransactionMemory()
    first = memory.digest([{"event_id": "$a"}, {"event_id": "$b"}], {"ephemeral": None})
    memory.remember("7", first)
    assert memory.is_repeat("7", first)
    reused = memory.digest([{"event_id": "$c"}], {"ephemeral": None})
    assert not memory.is_repeat("7", reused)
    assert not memory.is_repeat("8", first)


def test_mautrix_check_sees_no_id() -> None:
    ids = NeverSeen()
    ids.add("7")
    assert "7" not in ids
