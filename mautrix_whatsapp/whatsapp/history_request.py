"""On-demand history: asking our phone for older messages of one chat (whatsmeow ``send.go``
``BuildHistorySyncRequest`` + ``SendPeerMessage``, Baileys ``fetchMessageHistory``).

The request is a peer ``protocolMessage`` PEER_DATA_OPERATION_REQUEST_MESSAGE of type
HISTORY_SYNC_ON_DEMAND naming the oldest message we have; the phone answers with an ON_DEMAND
history sync whose notification carries the request's message id as
``peerDataRequestSessionID`` (Baileys hands it to apps to match answers the same way). An
answer without that id goes to the oldest pending request for one of its chats.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .binary.jid import JID
from .events import HistorySyncChunk, HistorySyncType
from .proto import wa_e2e_pb2
from .send import generate_message_id

if TYPE_CHECKING:
    from .client import Client


class HistoryRequestError(Exception):
    """An on-demand history request failed."""


class HistoryRequestTimeout(HistoryRequestError, TimeoutError):
    """The phone did not answer an on-demand history request in time (offline, or it has
    nothing to say)."""


def build_history_request(
    chat: JID,
    oldest_id: str,
    oldest_from_me: bool,
    oldest_timestamp: datetime | int,
    count: int,
) -> wa_e2e_pb2.Message:
    """The request message, as whatsmeow builds it: the timestamp field is named ``…MS`` but
    holds seconds."""
    seconds = (
        int(oldest_timestamp.timestamp())
        if isinstance(oldest_timestamp, datetime)
        else oldest_timestamp
    )
    pdo = wa_e2e_pb2.PeerDataOperationRequestMessage
    return wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(
            type=wa_e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_MESSAGE,
            peerDataOperationRequestMessage=pdo(
                peerDataOperationRequestType=wa_e2e_pb2.HISTORY_SYNC_ON_DEMAND,
                historySyncOnDemandRequest=pdo.HistorySyncOnDemandRequest(
                    chatJID=str(chat),
                    oldestMsgID=oldest_id,
                    oldestMsgFromMe=oldest_from_me,
                    onDemandMsgCount=count,
                    oldestMsgTimestampMS=seconds,
                ),
            ),
        )
    )


@dataclass
class _Pending:
    chat: JID
    future: asyncio.Future[HistorySyncChunk]


class HistoryRequests:
    """The on-demand requests waiting for their answer, by request message id."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._pending: dict[str, _Pending] = {}

    async def request(
        self,
        chat: JID,
        oldest_id: str,
        oldest_from_me: bool,
        oldest_timestamp: datetime | int,
        count: int,
        *,
        timeout: float = 60.0,
    ) -> HistorySyncChunk:
        """Send the request to our phone and return its ON_DEMAND chunk (also emitted as an
        event). Raises :class:`HistoryRequestTimeout`, or a send error."""
        if count <= 0:
            raise ValueError("count must be positive")
        client = self.client
        message_id = generate_message_id(client.device.jid)
        future: asyncio.Future[HistorySyncChunk] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = _Pending(chat.to_non_ad(), future)
        try:
            message = build_history_request(
                chat, oldest_id, oldest_from_me, oldest_timestamp, count
            )
            if client.device.jid is None:
                raise HistoryRequestError("not logged in")
            await client.send_message(
                client.device.jid.to_non_ad(), message, message_id=message_id, peer=True
            )
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError as e:
                raise HistoryRequestTimeout(
                    f"no answer to history request {message_id} within {timeout}s"
                ) from e
        finally:
            self._pending.pop(message_id, None)
            if not future.done():
                future.cancel()

    def resolve(self, chunk: HistorySyncChunk) -> bool:
        """Hand an ON_DEMAND chunk to the request it answers; False if none waits for it."""
        if chunk.sync_type is not HistorySyncType.ON_DEMAND:
            return False
        pending = self._pending.get(chunk.request_id) if chunk.request_id else None
        if pending is None and not chunk.request_id:
            chats = {c.chat.to_non_ad() for c in chunk.conversations}
            pending = next(
                (p for p in self._pending.values() if not chats or p.chat in chats), None
            )
        if pending is None or pending.future.done():
            return False
        pending.future.set_result(chunk)
        return True
