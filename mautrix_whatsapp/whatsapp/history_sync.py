"""History sync: the chunks of past chats our phone sends after linking and on request
(whatsmeow ``message.go`` ``handleHistorySyncNotificationLoop``/``DownloadHistorySync``,
Baileys ``Utils/history.ts``).

The phone announces each chunk with a peer ``protocolMessage`` HISTORY_SYNC_NOTIFICATION. The
blob is inline (``initialHistBootstrapInlinePayload``, small initial chunks) or an ``md-msg-hist``
media download; either way it is a zlib-compressed ``HistorySync``. Notifications are queued
and processed one at a time in arrival order by a background task, so a slow download never
holds up message handling (as whatsmeow's loop); a disconnect stops it and the next login resumes
with the chunk it was on. For each chunk:

1. the blob is fetched, inflated (bounded by ``max_inflated``: a zip bomb is an error) and
   parsed;
2. PN↔LID mappings go into ``client.lids`` and message secrets into ``client.secrets``;
3. a :class:`~.events.HistorySyncChunk` is emitted, and an on-demand request waiting for it
   (:mod:`.history_request`) is answered;
4. ``<receipt id to=own type="hist_sync"/>`` is sent (whatsmeow's ``SendProtocolMessageReceipt``
   and Baileys' attributes: no ``category``).

whatsmeow acknowledges as soon as the notification arrives, whatever happens next; we send the
receipt only once the chunk was processed, so a chunk that fails (:class:`HistorySyncError`:
download, zlib, protobuf, size) is logged, reported as :class:`~.events.HistorySyncFailed` and
left unacknowledged.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from .binary import BinaryError
from .binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, JID
from .binary.node import Node
from .events import HistoryConversation, HistorySyncChunk, HistorySyncFailed, HistorySyncType
from .history_request import HistoryRequests
from .media.download import download_media
from .media.types import MediaType
from .proto import wa_e2e_pb2, wa_history_sync_pb2, wa_web_pb2

if TYPE_CHECKING:
    from .client import Client
    from .message_info import MessageInfo

MAX_INFLATED = 512 * 1024 * 1024
"""Default bound on one inflated chunk. Real chunks are a few MB; whatsmeow sets no bound, so
this only stops a blob that inflates without end."""
INFLATE_STEP = 1024 * 1024

HistoryDownloader = Callable[[wa_e2e_pb2.HistorySyncNotification], Awaitable[bytes]]
"""Fetches and decrypts a notification's ``md-msg-hist`` blob (checks included)."""


class HistorySyncError(Exception):
    """A history chunk could not be taken in; the connection carries on."""


class HistoryDownloadError(HistorySyncError):
    """The blob could not be downloaded or failed its checks (hashes, MAC); ``__cause__``
    is the media error."""


class HistoryInflateError(HistorySyncError):
    """The blob is not valid zlib data (corrupt or truncated)."""


class HistoryTooLargeError(HistoryInflateError):
    """The blob inflates beyond the bound (``max_inflated``)."""


class HistoryParseError(HistorySyncError):
    """The inflated blob is not a ``HistorySync`` protobuf."""


def inflate(data: bytes, limit: int = MAX_INFLATED) -> bytes:
    """zlib-inflate ``data``, refusing more than ``limit`` bytes of output."""
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    pending = data
    try:
        while pending and not inflater.eof:
            part = inflater.decompress(pending, INFLATE_STEP)
            size += len(part)
            if size > limit:
                raise HistoryTooLargeError(f"history blob inflates beyond {limit} bytes")
            parts.append(part)
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise HistoryInflateError("history blob is truncated")
    except zlib.error as e:
        raise HistoryInflateError(f"bad zlib data: {e}") from e
    return b"".join(parts)


def parse_history_sync(raw: bytes) -> wa_history_sync_pb2.HistorySync:
    sync = wa_history_sync_pb2.HistorySync()
    try:
        sync.ParseFromString(raw)
    except DecodeError as e:
        raise HistoryParseError(f"bad HistorySync protobuf: {e}") from e
    return sync


def decode_blob(blob: bytes, limit: int = MAX_INFLATED) -> wa_history_sync_pb2.HistorySync:
    """Inflate and parse one chunk's blob (inline payload or decrypted download)."""
    return parse_history_sync(inflate(blob, limit))


def _jid(text: str) -> JID | None:
    if not text:
        return None
    try:
        return JID.parse(text)
    except BinaryError:
        return None


MAX_SECONDS = 253402300799
"""The last second datetime can hold (9999-12-31): mute ends beyond it mean "always"."""


def _time(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if 0 < seconds <= MAX_SECONDS else None


def _mute_end(value: int) -> datetime | None:
    """``muteEndTime``: seconds as whatsmeow and Baileys read it (milliseconds tolerated);
    phones write "always" as a huge value (-1 as uint64, or int64 max)."""
    if value <= 0:
        return None
    seconds = value // 1000 if value > MAX_SECONDS else value
    if seconds > MAX_SECONDS:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.fromtimestamp(seconds, UTC)


def _conversation(conv: wa_history_sync_pb2.Conversation) -> HistoryConversation | None:
    chat = _jid(conv.ID)
    if chat is None:
        return None
    alt = _jid(conv.lidJID) if chat.server == DEFAULT_USER_SERVER else _jid(conv.pnJID)
    return HistoryConversation(
        chat=chat,
        name=conv.name or conv.displayName,
        unread_count=conv.unreadCount,
        archived=conv.archived,
        pinned_at=_time(conv.pinned),
        mute_end=_mute_end(conv.muteEndTime),
        marked_as_unread=conv.markedAsUnread,
        ephemeral_expiration=conv.ephemeralExpiration,
        ephemeral_setting_timestamp=_time(conv.ephemeralSettingTimestamp),
        alt_jid=alt,
        messages=tuple(m.message for m in conv.messages if m.HasField("message")),
        raw=conv,
    )


def _sync_type(*candidates: int) -> HistorySyncType:
    for value in candidates:
        try:
            return HistorySyncType(value)
        except ValueError:
            continue
    return HistorySyncType.INITIAL_BOOTSTRAP


def _lid_mappings(sync: wa_history_sync_pb2.HistorySync) -> list[tuple[JID, JID]]:
    pairs: list[tuple[JID, JID]] = []
    for mapping in sync.phoneNumberToLidMappings:
        pn, lid = _jid(mapping.pnJID), _jid(mapping.lidJID)
        if pn is None or lid is None:
            continue
        if pn.server == "c.us":
            pn = JID(pn.user, DEFAULT_USER_SERVER)
        if pn.server == DEFAULT_USER_SERVER and lid.server == HIDDEN_USER_SERVER:
            pairs.append((lid.to_non_ad(), pn.to_non_ad()))
    return pairs


def build_chunk(
    sync: wa_history_sync_pb2.HistorySync,
    notification: wa_e2e_pb2.HistorySyncNotification,
    message_id: str,
) -> HistorySyncChunk:
    """The typed event for one parsed chunk (chats without a readable JID are skipped)."""
    sync_type = _sync_type(sync.syncType, notification.syncType)
    conversations = [_conversation(c) for c in sync.conversations]
    push_names: list[tuple[JID, str]] = []
    for entry in sync.pushnames:
        jid = _jid(entry.ID)
        if jid is not None and entry.pushname:
            push_names.append((jid, entry.pushname))
    if sync.HasField("progress"):
        progress: int | None = sync.progress
    elif notification.HasField("progress"):
        progress = notification.progress
    else:
        progress = None
    return HistorySyncChunk(
        sync_type=sync_type,
        chunk_order=sync.chunkOrder or notification.chunkOrder,
        progress=progress,
        conversations=tuple(c for c in conversations if c is not None),
        push_names=tuple(push_names),
        lid_mappings=tuple(_lid_mappings(sync)),
        global_settings=sync.globalSettings if sync.HasField("globalSettings") else None,
        message_id=message_id,
        request_id=notification.peerDataRequestSessionID or None,
        original_message_id=notification.originalMessageID,
        raw=sync,
    )


class HistorySync:
    """A client's history sync (``client.history``): the queue of notifications, the
    on-demand requests, the progress per sync type."""

    def __init__(self, client: Client, downloader: HistoryDownloader | None = None) -> None:
        self.client = client
        self.downloader: HistoryDownloader = downloader or self._download
        self.max_inflated = MAX_INFLATED
        self.requests = HistoryRequests(client)
        self.request_older = self.requests.request
        """``await request_older(chat, oldest_id, oldest_from_me, oldest_timestamp, count)``:
        ask our phone for older messages of one chat, get its ON_DEMAND chunk
        (:meth:`.history_request.HistoryRequests.request`)."""
        self.progress: dict[HistorySyncType, int] = {}
        """The last progress (percent) the phone reported per sync type, for a bridge's UI."""
        self.chunks_processed = 0
        self._pending: deque[tuple[str, wa_e2e_pb2.HistorySyncNotification]] = deque()
        """Notifications not yet processed; the head is the one in progress."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None

    def install(self) -> None:
        self.client.messages.add_protocol_handler(
            wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION, self._on_notification
        )

    async def idle(self) -> None:
        """Wait until every queued notification was processed (tests, shutdown)."""
        await self._idle.wait()

    def resume(self) -> None:
        """Go on with queued notifications (called at each login: downloads need one)."""
        if self._pending and (self._worker is None or self._worker.done()):
            self._worker = self.client._spawn(self._work())

    # --- the queue ----------------------------------------------------------------------------

    async def _on_notification(
        self, info: MessageInfo, protocol: wa_e2e_pb2.ProtocolMessage
    ) -> None:
        if not protocol.HasField("historySyncNotification"):
            return
        self._pending.append((info.id, protocol.historySyncNotification))
        self._idle.clear()
        self.resume()

    async def _work(self) -> None:
        """Process the queue in order. A connection task: a disconnect cancels it, and the
        chunk in progress (not acknowledged) is processed again after the next login."""
        while self._pending:
            message_id, notification = self._pending[0]
            try:
                await self.process(message_id, notification)
            except HistorySyncError as e:
                self.client.log.warning("Dropped history sync chunk %s: %s", message_id, e)
                await self.client.dispatch(
                    HistorySyncFailed(
                        message_id, _sync_type(notification.syncType), notification.chunkOrder, e
                    )
                )
            except Exception:
                self.client.log.exception("Failed to process history sync chunk %s", message_id)
            self._pending.popleft()
        self._idle.set()

    # --- one chunk ----------------------------------------------------------------------------

    async def process(
        self, message_id: str, notification: wa_e2e_pb2.HistorySyncNotification
    ) -> HistorySyncChunk:
        """Take in one chunk: fetch, decode, store, emit, answer a request, acknowledge.

        Raises :class:`HistorySyncError` (nothing emitted, nothing acknowledged).
        """
        client = self.client
        blob = await self._blob(notification)
        sync = decode_blob(blob, self.max_inflated)
        chunk = build_chunk(sync, notification, message_id)
        client.log.debug(
            "History sync %s chunk %d (progress %s): %d chats",
            chunk.sync_type.name,
            chunk.chunk_order,
            chunk.progress,
            len(chunk.conversations),
        )
        await self._store(chunk)
        if chunk.progress is not None:
            self.progress[chunk.sync_type] = chunk.progress
        self.chunks_processed += 1
        await client.dispatch(chunk)
        self.requests.resolve(chunk)
        await self._acknowledge(message_id)
        return chunk

    async def _blob(self, notification: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        if notification.HasField("initialHistBootstrapInlinePayload"):
            return notification.initialHistBootstrapInlinePayload
        if not notification.directPath or not notification.mediaKey:
            raise HistoryDownloadError("notification has neither payload nor direct path")
        try:
            return await self.downloader(notification)
        except HistorySyncError:
            raise
        except Exception as e:
            raise HistoryDownloadError(f"download failed: {e!r}") from e

    async def _download(self, notification: wa_e2e_pb2.HistorySyncNotification) -> bytes:
        return await download_media(
            self.client,
            direct_path=notification.directPath,
            media_key=notification.mediaKey,
            file_enc_sha256=notification.fileEncSHA256,
            file_sha256=notification.fileSHA256,
            media_type=MediaType.HISTORY,
            file_length=notification.fileLength or None,
        )

    async def _store(self, chunk: HistorySyncChunk) -> None:
        """Keep what later traffic needs: LID mappings, and the secrets of past polls."""
        client = self.client
        if chunk.lid_mappings:
            await client.lids.put_many(chunk.lid_mappings)
        own = client.device.jid
        if own is None:
            return
        for conv in chunk.conversations:
            for msg in conv.messages:
                secret = msg.message.messageContextInfo.messageSecret
                if not secret or not msg.key.ID:
                    continue
                sender = _secret_sender(conv.chat, msg, own.to_non_ad())
                if sender is not None:
                    await client.secrets.put(conv.chat, sender, msg.key.ID, secret)

    async def _acknowledge(self, message_id: str) -> None:
        own = self.client.device.jid
        if own is None or not message_id:
            return
        receipt = Node("receipt", {"id": message_id, "type": "hist_sync", "to": own.to_non_ad()})
        try:
            await self.client.send_node(receipt)
        except Exception as e:
            self.client.log.warning("Failed to acknowledge history sync %s: %s", message_id, e)


def _secret_sender(chat: JID, msg: wa_web_pb2.WebMessageInfo, own: JID) -> JID | None:
    """Who sent a history message, as whatsmeow ``storeHistoricalMessageSecrets`` decides."""
    if msg.key.fromMe:
        return own
    if chat.server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
        return chat
    return _jid(msg.key.participant) or _jid(msg.participant)
