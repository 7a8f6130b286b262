"""Crash safety of received messages: durably queued before WhatsApp gets its receipt.

:func:`accept` writes the message to ``pending_message`` and queues its job; only then does
the handler return, and only then does the client send WhatsApp the delivery receipt (a
handler that raises holds the receipt back, so WhatsApp redelivers). The job bridges the
message and deletes the row. After a crash, :func:`resubmit_all` queues what is left, before
any user reconnects, so it comes ahead of anything the new connections receive.

Exactly once: a portal's jobs run one at a time and a message already in the ``message`` table
is dropped (so a pending row and a redelivery of the same message bridge it once); a Matrix
send cut short by the crash is repeated with the same transaction id (:mod:`.txn_ids`),
which the homeserver answers with the event it already made.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mautrix.types import UserID

from ..db.pending import PendingMessageRow
from ..session import MessageReceived
from ..transient import retry_transient
from ..whatsapp.proto import wa_e2e_pb2
from .from_whatsapp import handle_message as bridge_to_matrix
from .jids import user_jid

if TYPE_CHECKING:
    from ..__main__ import WhatsAppBridge
    from ..user import User
    from .portal import Portal

log = logging.getLogger("mau.portal.pending")
KEEP_RETRY_SECONDS = 30.0


def _row(portal: Portal, source: User, message: MessageReceived) -> PendingMessageRow:
    return PendingMessageRow(
        user_mxid=source.mxid,
        chat_jid=portal.jid,
        receiver=portal.receiver,
        sender=user_jid(message.sender),
        id=message.id,
        timestamp=int(message.timestamp * 1000),
        is_from_me=message.is_from_me,
        is_group=message.is_group,
        push_name=message.push_name,
        message=message.message.SerializeToString(),
    )


def _message(row: PendingMessageRow) -> MessageReceived:
    content = wa_e2e_pb2.Message()
    content.ParseFromString(row.message)
    return MessageReceived(
        chat=row.chat_jid,
        sender=row.sender,
        id=row.id,
        timestamp=row.timestamp / 1000,
        is_from_me=row.is_from_me,
        is_group=row.is_group,
        message=content,
        push_name=row.push_name,
    )


async def accept(portal: Portal, source: User, message: MessageReceived) -> None:
    """Keep ``message`` in the database and queue it; raises if it could not be kept."""
    row = _row(portal, source, message)
    # ---- faults ---- (a database restart: hold the receipt a moment rather than fail)
    await retry_transient(
        lambda: portal.bridge.tables.pending.insert(row), log, "Keeping", KEEP_RETRY_SECONDS
    )
    _submit(portal, source, message)


def _submit(portal: Portal, source: User, message: MessageReceived) -> None:
    async def job() -> None:
        # ---- faults ---- (through a homeserver or database outage; idempotent)
        await retry_transient(
            lambda: bridge_to_matrix(portal, source, message), portal.log, f"Bridging {message.id}"
        )
        # Also when it was dropped as already bridged: the row has served its purpose.
        portal.bridge.tables.pending.delete_soon(
            portal.jid, portal.receiver, user_jid(message.sender), message.id
        )

    portal.queue.submit(job)


async def resubmit_all(bridge: WhatsAppBridge) -> int:
    """Queue every message a previous run kept but did not bridge; returns how many."""
    count = 0
    for row in await bridge.tables.pending.all():
        user = await bridge.get_user(UserID(row.user_mxid), create=False)
        portal = await bridge.portals.get_by_jid(row.chat_jid, row.receiver, create=False)
        if user is None or portal is None:
            log.warning("Dropping pending %s in %s: no user or portal", row.id, row.chat_jid)
            await bridge.tables.pending.delete(row.chat_jid, row.receiver, row.sender, row.id)
            continue
        try:
            message = _message(row)
        except Exception:
            log.exception("Dropping unreadable pending %s in %s", row.id, row.chat_jid)
            await bridge.tables.pending.delete(row.chat_jid, row.receiver, row.sender, row.id)
            continue
        _submit(portal, user, message)
        count += 1
    if count:
        log.info("Re-queued %d messages received before the last stop", count)
    return count
