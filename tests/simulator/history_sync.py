"""The phone sends its memory to its companions: history syncs at first login, and on demand.

At a companion's first login its phone sends, as peer messages (``protocolMessage``
``HISTORY_SYNC_NOTIFICATION``), what a real phone sends every new companion, whether or not it
set ``DeviceProps.requireFullSync`` (whatsmeow-based bridges, which do not, get these too):
``INITIAL_BOOTSTRAP`` (recent chats with their last messages), ``PUSH_NAME``,
``NON_BLOCKING_DATA`` (PN→LID mappings), ``RECENT`` (the rest of the recent window), and only
with ``requireFullSync`` ``FULL`` (older messages within the config's days and size limits).
See :mod:`.history_encode` for what each holds. Each chunk is a zlib-compressed ``HistorySync``,
inline (``initialHistBootstrapInlinePayload``) for the first ``INITIAL_BOOTSTRAP`` chunk when the
companion announces ``historySyncConfig.inlineInitialPayloadInE2EeMsg``, otherwise encrypted as
``md-msg-hist`` media into the media store with its hashes, key and direct path in the
notification. Until a media server is installed (``state.media_handler``) every chunk is sent
inline, since no companion could download it.

On demand: a peer ``PEER_DATA_OPERATION_REQUEST_MESSAGE`` of type ``HISTORY_SYNC_ON_DEMAND`` is
answered with a ``PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE`` (``stanzaID`` = the request's
id) and an ``ON_DEMAND`` sync of exactly the next ``onDemandMsgCount`` older messages of that
chat, tagged with ``peerDataRequestSessionID`` = the request's message id.

``POST /admin/devices/history-bootstrap`` ``{"jid"}`` sends the first-login syncs to a companion.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_companion_reg_pb2, wa_e2e_pb2, wa_history_sync_pb2
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

from . import history_encode as encode
from .accounts import Account, LinkedDevice
from .admin_phone import _body, _str
from .connection import Connection
from .core import json_response
from .groups import get_groups
from .history_sent import get_history_sent
from .media_crypto import encrypt_media
from .media_store import get_media_store
from .phone import get_world
from .phone_memory import Chat, PhoneMemory, StoredMessage, get_memories
from .phone_record import chat_key
from .phone_send import SendError, send_peer
from .state import AdminError, ServerState

log = logging.getLogger("simulator.history")

HistorySync = wa_history_sync_pb2.HistorySync
ON_DEMAND_MAX = 500


def device_props(device: LinkedDevice) -> wa_companion_reg_pb2.DeviceProps:
    props = wa_companion_reg_pb2.DeviceProps()
    try:
        props.ParseFromString(device.device_props)
    except DecodeError:
        props.Clear()
    return props


def asked_for_history(device: LinkedDevice) -> bool:
    """Whether the companion asked for a full sync (``requireFullSync``)."""
    return device_props(device).requireFullSync


def notification_message(
    sync: HistorySync, payload: bytes, state: ServerState, inline: bool, session_id: str = ""
) -> wa_e2e_pb2.Message:
    message = wa_e2e_pb2.Message()
    protocol = message.protocolMessage
    protocol.type = wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
    note = protocol.historySyncNotification
    note.syncType = sync.syncType  # type: ignore[assignment]
    note.chunkOrder = sync.chunkOrder
    note.progress = sync.progress
    note.oldestMsgInChunkTimestampSec = _oldest(sync)
    if session_id:
        note.peerDataRequestSessionID = session_id
    if inline or state.media_handler is None:
        note.initialHistBootstrapInlinePayload = payload
        return message
    encrypted = encrypt_media(payload, "md-msg-hist")
    stored = get_media_store(state).put(encrypted.blob, "md-msg-hist")
    note.fileSHA256 = encrypted.file_sha256
    note.fileEncSHA256 = encrypted.file_enc_sha256
    note.mediaKey = encrypted.media_key
    note.fileLength = encrypted.file_length
    note.directPath = stored.direct_path
    return message


def _oldest(sync: HistorySync) -> int:
    stamps = [m.message.messageTimestamp for c in sync.conversations for m in c.messages]
    return min(stamps) if stamps else int(time.time())


def with_groups(state: ServerState, account: Account, memory: PhoneMemory) -> None:
    """Every group the account is in is one of its chats (named by its subject), even before a
    message was exchanged in it."""
    for group in get_groups(state).of_member(account.phone):
        memory.chat(group.jid).name = group.subject


def conversations(
    state: ServerState, account: Account, part: list[tuple[Chat, list[StoredMessage]]]
) -> list[wa_history_sync_pb2.Conversation]:
    world = get_world(state)
    result = []
    for chat, messages in part:
        lid = ""
        name = ""
        if not chat.jid.endswith("@g.us"):
            other = world.accounts.find(chat.jid.split("@", 1)[0])
            lid = other.lid_jid if other is not None else ""
            memory = get_memories(state).of(account)
            contact = memory.contacts.get(chat.jid)
            name = contact.full_name if contact is not None else ""
        result.append(encode.conversation(chat, messages, account.jid, lid=lid, name=name))
    return result


def lid_pairs(state: ServerState, account: Account, memory: PhoneMemory) -> list[tuple[str, str]]:
    """PN→LID of the account itself and of everyone in its chats and contacts."""
    world = get_world(state)
    phones = {account.phone}
    for jid in list(memory.chats) + list(memory.contacts) + list(memory.push_names):
        if jid.endswith("@s.whatsapp.net"):
            phones.add(jid.split("@", 1)[0])
    for group in get_groups(state).of_member(account.phone):
        phones.update(group.member_phones())
    pairs = []
    for phone in sorted(phones):
        other = world.accounts.find(phone)
        if other is not None:
            pairs.append((other.jid, other.lid_jid))
    return pairs


def first_syncs(state: ServerState, account: Account, device: LinkedDevice) -> list[HistorySync]:
    """What a new companion gets, in the order a phone sends it."""
    props = device_props(device)
    config = props.historySyncConfig
    memory = get_memories(state).of(account)
    with_groups(state, account, memory)
    planned = encode.plan(memory, config, props.requireFullSync)
    syncs = encode.chunks(
        HistorySync.INITIAL_BOOTSTRAP, conversations(state, account, planned.bootstrap)
    )
    syncs.append(encode.push_names(memory))
    syncs.append(encode.lid_mappings(lid_pairs(state, account, memory)))
    syncs += encode.chunks(HistorySync.RECENT, conversations(state, account, planned.recent))
    if props.requireFullSync:
        syncs += encode.chunks(HistorySync.FULL, conversations(state, account, planned.full))
    # Each chunk also carries the account's own mapping (companions learn their LID from it).
    syncs[0].phoneNumberToLidMappings.add(pnJID=account.jid, lidJID=account.lid_jid)
    return syncs


async def send_first_syncs(
    state: ServerState, account: Account, device: LinkedDevice
) -> list[str]:
    """Send every first-login sync to ``device``; returns the notification message ids."""
    inline_ok = device_props(device).historySyncConfig.inlineInitialPayloadInE2EeMsg
    sent: list[str] = []
    for sync in first_syncs(state, account, device):
        inline = (
            inline_ok and sync.syncType == HistorySync.INITIAL_BOOTSTRAP and sync.chunkOrder == 0
        )
        message = notification_message(sync, encode.compress(sync), state, inline)
        message_id = await send_peer(state, account, device.device_id, message)
        if message_id is None:
            raise AdminError(409, "the device has no pre-keys on the server")
        get_history_sent(state).record(account.phone, device.device_id)
        sent.append(message_id)
    return sent


# --- on demand ---


def peer_request(
    state: ServerState,
    account: Account,
    requester: JID,
    message_id: str,
    message: wa_e2e_pb2.Message,
) -> None:
    """A peer message from one of the account's companions reached the phone: answer an
    on-demand history request (other peer operations are not simulated)."""
    protocol = message.protocolMessage
    request = protocol.peerDataOperationRequestMessage
    if (
        protocol.type != wa_e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_MESSAGE
        or request.peerDataOperationRequestType != wa_e2e_pb2.HISTORY_SYNC_ON_DEMAND
        or not request.HasField("historySyncOnDemandRequest")
    ):
        return
    state.spawn(
        answer_on_demand(
            state, account, requester.device, message_id, request.historySyncOnDemandRequest
        ),
        name="phone answers on-demand history",
    )


def older_messages(
    memory: PhoneMemory,
    chat: str,
    oldest_id: str,
    oldest_timestamp: int,
    count: int,
) -> list[StoredMessage]:
    """The ``count`` messages just before the anchor (by id; by timestamp when the id is not
    known), oldest first."""
    found = memory.chats.get(chat)
    if found is None or count <= 0:
        return []
    messages = found.messages
    anchor = memory.find(chat, oldest_id) if oldest_id else None
    if anchor is not None:
        end = messages.index(anchor)
    else:
        seconds = oldest_timestamp // 1000 if oldest_timestamp > 10**11 else oldest_timestamp
        end = sum(1 for m in messages if m.timestamp < seconds)
    return messages[max(0, end - count) : end]


async def answer_on_demand(
    state: ServerState,
    account: Account,
    device: int,
    request_id: str,
    request: wa_e2e_pb2.PeerDataOperationRequestMessage.HistorySyncOnDemandRequest,
) -> None:
    memory = get_memories(state).of(account)
    chat = chat_key(state, request.chatJID) if request.chatJID else ""
    count = min(max(request.onDemandMsgCount, 0), ON_DEMAND_MAX)
    messages = older_messages(
        memory, chat, request.oldestMsgID, request.oldestMsgTimestampMS, count
    )
    response = wa_e2e_pb2.Message()
    protocol = response.protocolMessage
    protocol.type = wa_e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE
    answer = protocol.peerDataOperationRequestResponseMessage
    answer.peerDataOperationRequestType = wa_e2e_pb2.HISTORY_SYNC_ON_DEMAND
    answer.stanzaID = request_id
    await send_peer(state, account, device, response)
    sync = HistorySync(syncType=HistorySync.ON_DEMAND, chunkOrder=0, progress=100)
    if chat in memory.chats:
        sync.conversations.extend(conversations(state, account, [(memory.chats[chat], messages)]))
    log.debug("on-demand %s: %d messages of %s", request_id, len(messages), chat)
    message = notification_message(sync, encode.compress(sync), state, False, request_id)
    if await send_peer(state, account, device, message) is not None:
        get_history_sent(state).record(account.phone, device, on_demand=True)


def install(state: ServerState) -> None:
    world = get_world(state)
    login = state.login_handler
    if login is None:
        raise RuntimeError("history_sync must be installed after login")
    sent: set[tuple[str, int]] = set()

    async def login_then_sync(conn: Connection, payload: ClientPayload) -> None:
        await login(conn, payload)
        account = conn.extra.get("account")
        device = conn.extra.get("linked_device")
        if not isinstance(account, Account) or not isinstance(device, LinkedDevice):
            return
        key = (account.phone, device.device_id)
        if conn.closed.is_set() or key in sent:
            return
        sent.add(key)
        if get_memories(state).of(account).silent:
            log.debug("%r logged in; its phone is silent", conn)
            return
        # In the background, as a phone does: with a large memory, building and uploading the
        # chunks takes a while, and the login must not wait for it.
        state.spawn(first_syncs_or_log(account, device), name="phone sends history")

    async def first_syncs_or_log(account: Account, device: LinkedDevice) -> None:
        try:
            await send_first_syncs(state, account, device)
        except (AdminError, SendError) as e:  # no keys for it, or it was unlinked meanwhile
            log.info("%r device %d: no history sent: %s", account, device.device_id, e)

    async def admin_bootstrap(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account, device = world.device_of(_str(await _body(request), "jid"))
        ids = await send_first_syncs(state, account, device)
        return json_response({"id": ids[0], "ids": ids})

    state.login_handler = login_then_sync
    state.admin_routes.add("POST", "/devices/history-bootstrap", admin_bootstrap)
