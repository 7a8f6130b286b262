"""Typed events the client emits: plain frozen dataclasses, one per thing that happened.

Handlers registered with :meth:`Client.add_event_handler` receive every event and pick the ones
they care about with ``isinstance`` or ``match``. Events about the connection's life:

- linking: :class:`QRCode` (rotating), :class:`QRTimeout`, :class:`PairingCode`,
  :class:`PairSuccess`, :class:`PairError`;
- session: :class:`Connected`, :class:`Disconnected` (a reconnect follows),
  :class:`KeepAliveTimeout`, :class:`KeepAliveRestored`, :class:`OfflineSyncPreview`,
  :class:`OfflineSyncCompleted`, :class:`PhoneSeen`;
- traffic: :class:`Receipt` (delivered, read, played… by a contact or by our own devices),
  :class:`Message` (a decrypted message), :class:`UndecryptableMessage`;
- history (:mod:`.history_sync`): :class:`HistorySyncChunk`, one per chunk the phone sends, or
  :class:`HistorySyncFailed`;
- permanent: :class:`LoggedOut`, :class:`StreamReplaced`, :class:`TemporaryBan`,
  :class:`ClientOutdated`, :class:`ConnectFailure`. After these the client does not reconnect by
  itself (they implement :class:`PermanentDisconnect`); after :class:`StreamError` it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .binary.jid import JID
    from .group_info import GroupInfo
    from .message_info import MessageInfo
    from .proto import wa_e2e_pb2, wa_history_sync_pb2, wa_web_pb2


class ConnectFailureReason(IntEnum):
    """The ``reason`` of ``<failure>`` (and the code of a 401 device-removed stream error)."""

    GENERIC = 400
    LOGGED_OUT = 401
    TEMP_BANNED = 402
    MAIN_DEVICE_GONE = 403
    """WhatsApp Web calls it LOCKED: the phone was logged out or switched."""
    CLIENT_OUTDATED = 405
    UNKNOWN_LOGOUT = 406
    """WhatsApp Web calls it BANNED."""
    BAD_USER_AGENT = 409
    CAT_EXPIRED = 413
    CAT_INVALID = 414
    NOT_FOUND = 415
    CLIENT_UNKNOWN = 418
    INTERNAL_SERVER_ERROR = 500
    EXPERIMENTAL = 501
    SERVICE_UNAVAILABLE = 503

    @property
    def is_logged_out(self) -> bool:
        """The failures after which the device is unlinked and its identity must be dropped."""
        return self in (self.LOGGED_OUT, self.MAIN_DEVICE_GONE, self.UNKNOWN_LOGOUT)

    @property
    def is_transient(self) -> bool:
        """Server trouble: reconnecting later is the right answer."""
        return self in (self.INTERNAL_SERVER_ERROR, self.SERVICE_UNAVAILABLE)


class TempBanReason(IntEnum):
    """The ``code`` of a 402 temporary ban."""

    SENT_TO_TOO_MANY_PEOPLE = 101
    BLOCKED_BY_USERS = 102
    CREATED_TOO_MANY_GROUPS = 103
    SENT_TOO_MANY_SAME_MESSAGE = 104
    BROADCAST_LIST = 106


_TEMP_BAN_TEXT = {
    101: "you sent too many messages to people who don't have you in their address books",
    102: "too many people blocked you",
    103: "you created too many groups with people who don't have you in their address books",
    104: "you sent the same message to too many people",
    106: "you sent too many messages to a broadcast list",
}


class PermanentDisconnect:
    """Marker for events after which the client stays disconnected until told otherwise."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class QRCode:
    """Show this QR text now; it is valid for ``timeout`` seconds (60 s first, then 20 s)."""

    code: str = field(repr=False)
    timeout: float
    index: int
    """0-based position in the server's batch of refs."""


@dataclass(frozen=True)
class QRTimeout:
    """Every ref expired before a phone scanned one; the client has disconnected."""


@dataclass(frozen=True)
class PairingCode:
    """The code to type on the phone (``XXXX-XXXX``), after :meth:`Client.pair_phone`."""

    code: str = field(repr=False)
    phone: str


@dataclass(frozen=True)
class PairSuccess:
    """The phone linked us; the client now reconnects (515) and logs in."""

    jid: JID
    lid: JID | None
    platform: str
    business_name: str


@dataclass(frozen=True)
class PairError:
    """Linking failed; the client is left unpaired and disconnected."""

    error: Exception


@dataclass(frozen=True)
class Connected:
    """Logged in (``<success>``) and the post-login steps are done."""


@dataclass(frozen=True)
class Disconnected:
    """The connection dropped unexpectedly; the client reconnects with backoff.

    ``code`` says why when the server told us (a 503 stream error, a 500/503 failure).
    """

    code: int | None = None


@dataclass(frozen=True)
class LoggedOut(PermanentDisconnect):
    """The device is no longer linked; its stored identity has been deleted.

    ``on_connect`` is True for a ``<failure>`` at login, False for a ``device_removed`` stream
    error on a live connection.
    """

    on_connect: bool
    reason: ConnectFailureReason

    @property
    def device_removed(self) -> bool:
        return not self.on_connect

    def describe(self) -> str:
        return f"logged out ({int(self.reason)})"


@dataclass(frozen=True)
class StreamReplaced(PermanentDisconnect):
    """Another connection with the same device took over."""

    def describe(self) -> str:
        return "stream replaced"


@dataclass(frozen=True)
class TemporaryBan(PermanentDisconnect):
    """The account is banned for a while (``<failure reason="402" code expire>``)."""

    code: int
    expire: timedelta

    @property
    def reason_text(self) -> str:
        return _TEMP_BAN_TEXT.get(
            self.code, "you may have violated the terms of service (unknown error)"
        )

    def describe(self) -> str:
        text = f"You've been temporarily banned: {self.code}: {self.reason_text}"
        if self.expire:
            text += f". The ban expires in {self.expire}"
        return text


@dataclass(frozen=True)
class ClientOutdated(PermanentDisconnect):
    """The server refuses our client version (405)."""

    def describe(self) -> str:
        return "client outdated"


@dataclass(frozen=True)
class ConnectFailure(PermanentDisconnect):
    """Any other ``<failure>``: bad user agent (409), generic (400), unknown codes."""

    reason: int
    message: str = ""

    def describe(self) -> str:
        return f"connect failure {self.reason}"


@dataclass(frozen=True)
class StreamError:
    """A ``<stream:error>`` with a code we do not know; the client reconnects (as whatsmeow)."""

    code: str


@dataclass(frozen=True)
class KeepAliveTimeout:
    """A keepalive ping went unanswered (the client reconnects after long failure)."""

    error_count: int
    last_success: datetime


@dataclass(frozen=True)
class KeepAliveRestored:
    """Keepalive pings are answered again."""


@dataclass(frozen=True)
class OfflineSyncPreview:
    """The server is about to deliver what queued up while we were offline."""

    total: int
    messages: int
    notifications: int
    receipts: int
    app_data_changes: int


@dataclass(frozen=True)
class OfflineSyncCompleted:
    """Everything queued while we were offline has been delivered."""

    count: int


@dataclass(frozen=True)
class PhoneSeen:
    """The phone (primary device) was active at ``at``; see ``Client.phone_last_seen``.

    Emitted whenever that time moves forward: a linked device only learns it from what the
    phone causes (its receipts and messages), so it never moves back.
    """

    at: datetime


@dataclass(frozen=True)
class Receipt:
    """A ``<receipt>``: ``sender`` (a contact, or one of our own devices) did ``type``.

    ``type`` is WhatsApp's: ``""`` delivered, ``read``, ``read-self`` (we read it on another
    device), ``played``, ``played-self``, ``sender``, ``retry``, ``peer_msg``, ``hist_sync``…
    ``message_sender`` is set when the receipt is about someone else's message in a group.
    """

    chat: JID
    sender: JID
    is_from_me: bool
    is_group: bool
    message_ids: tuple[str, ...]
    timestamp: datetime | None
    type: str
    message_sender: JID | None = None

    @property
    def is_from_own_phone(self) -> bool:
        """Our primary device (own account, device 0) sent it: the phone was active."""
        return self.is_from_me and self.sender.device == 0


@dataclass(frozen=True)
class Message:
    """A received message, decrypted (whatsmeow's ``events.Message``).

    ``message`` is the content with the wrappers taken off (device-sent, ephemeral, view-once,
    edited, document-with-caption); ``raw`` is the protobuf as decrypted. A message reported
    once is never reported again (redeliveries and resends after a retry are dropped).
    """

    info: MessageInfo
    message: wa_e2e_pb2.Message = field(repr=False)
    raw: wa_e2e_pb2.Message = field(repr=False)
    is_ephemeral: bool = False
    is_view_once: bool = False
    is_edit: bool = False
    """Wrapped in ``editedMessage`` (its content is the ``protocolMessage`` of the edit)."""
    retry_count: int = 0
    """The sender's ``count`` on the ``<enc>``: > 0 when resent after our retry receipt."""


@dataclass(frozen=True)
class UndecryptableMessage:
    """A message we could not decrypt; a retry receipt was sent to ask for it again.

    ``is_unavailable`` when the server withheld the content (``<unavailable>``) or only a
    group message came and we lack the sender's key; ``unavailable_type`` is the server's word
    (e.g. ``view_once``). ``error`` says what failed, for logs.
    """

    info: MessageInfo
    is_unavailable: bool = False
    unavailable_type: str = ""
    decrypt_fail_mode: str = ""
    """The ``<enc decrypt-fail>`` attribute: ``hide`` for messages not worth a placeholder."""
    error: str = ""


@dataclass(frozen=True)
class IdentityChanged:
    """A contact's identity key changed (new phone / reinstall); their sessions were dropped.

    Also emitted when a message shows it (a ``pkmsg`` under a new key): we trust the new key and
    start a new session, as whatsmeow does by default.
    """

    jid: JID
    timestamp: datetime | None


Event = (
    QRCode
    | QRTimeout
    | PairingCode
    | PairSuccess
    | PairError
    | Connected
    | Disconnected
    | LoggedOut
    | StreamReplaced
    | TemporaryBan
    | ClientOutdated
    | ConnectFailure
    | StreamError
    | KeepAliveTimeout
    | KeepAliveRestored
    | OfflineSyncPreview
    | OfflineSyncCompleted
    | PhoneSeen
    | Receipt
    | Message
    | UndecryptableMessage
    | IdentityChanged
)
"""Every event type of this module (other modules add their own: messages, receipts…)."""


# --------------------------------------------------------------------------------------------
# Groups, presence and notifications (:mod:`.group`, :mod:`.presence`, :mod:`.notification`)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupNameChange:
    """A new subject: ``name`` set at ``set_at`` by ``set_by`` (and its phone number)."""

    name: str
    set_at: datetime | None
    set_by: JID | None = None
    set_by_pn: JID | None = None


@dataclass(frozen=True)
class GroupTopicChange:
    """A new description (``deleted`` when it was removed), with its id."""

    topic: str
    topic_id: str
    set_at: datetime
    set_by: JID | None
    deleted: bool = False


@dataclass(frozen=True)
class GroupInfoChanged:
    """A ``w:gp2`` notification: what changed in group ``jid``, who did it and when.

    Each field is ``None``/empty when that aspect did not change (whatsmeow's
    ``events.GroupInfo``). ``ephemeral`` is the new timer in seconds, 0 when switched off.
    ``join``/``leave`` carry the members added or joined / removed or left; ``join_reason`` is
    ``"invite"`` for an invite link. Tags we do not know are listed in ``unknown_changes``.
    """

    jid: JID
    timestamp: datetime
    sender: JID | None = None
    sender_pn: JID | None = None
    notify: str = ""
    name: GroupNameChange | None = None
    topic: GroupTopicChange | None = None
    locked: bool | None = None
    announce: bool | None = None
    ephemeral: int | None = None
    member_add_mode: str | None = None
    join_approval_required: bool | None = None
    deleted: bool = False
    delete_reason: str = ""
    new_invite_link: str | None = None
    join: tuple[JID, ...] = ()
    leave: tuple[JID, ...] = ()
    promote: tuple[JID, ...] = ()
    demote: tuple[JID, ...] = ()
    join_reason: str = ""
    prev_participant_version_id: str = ""
    participant_version_id: str = ""
    suspended: bool | None = None
    lid_pairs: tuple[tuple[JID, JID], ...] = ()
    """(LID, phone number) pairs the participant lists revealed."""
    unknown_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JoinedGroup:
    """We are now in a group: created it, were added, or joined by link.

    From a ``<create>`` notification ``info`` is the full metadata (``type`` ``"new"``); when we
    were added to an existing group it is None (fetch it with :func:`.group.get_group_info`) and
    ``type`` is ``"add"``. ``reason`` is ``"invite"`` for an invite link.
    """

    jid: JID
    info: GroupInfo | None
    type: str = ""
    reason: str = ""
    create_key: str = ""
    sender: JID | None = None
    sender_pn: JID | None = None
    notify: str = ""


@dataclass(frozen=True)
class Presence:
    """A contact's online state (after :func:`.presence.subscribe_presence`).

    ``last_seen`` is None when the contact hides it (``last="deny"``) or the server omitted it.
    """

    sender: JID
    unavailable: bool
    last_seen: datetime | None = None


@dataclass(frozen=True)
class ChatPresence:
    """Typing in a chat: ``state`` ``composing`` or ``paused``; ``media`` ``audio`` = recording."""

    chat: JID
    sender: JID
    is_from_me: bool
    is_group: bool
    state: str
    media: str = ""


@dataclass(frozen=True)
class DeviceListChange:
    """One child of a ``devices`` notification: ``add``, ``remove`` or ``update``."""

    action: str
    devices: tuple[JID, ...]
    device_hash: str = ""
    device_lid_hash: str = ""
    key_index: int | None = None
    """The ``key-index`` of the changed device (its place in the ADV key index list)."""
    lids: tuple[JID, ...] = ()


@dataclass(frozen=True)
class DevicesChanged:
    """A user's device list changed (``devices`` notification); cached lists are stale."""

    user: JID
    lid: JID | None
    timestamp: datetime | None
    changes: tuple[DeviceListChange, ...]


@dataclass(frozen=True)
class PictureChanged:
    """A user's or group's picture was set (``picture_id``) or removed, by ``author``."""

    jid: JID
    author: JID | None
    timestamp: datetime | None
    removed: bool
    picture_id: str = ""


@dataclass(frozen=True)
class PrivacyTokenReceived:
    """A contact sent us a trusted-contact token (``privacy_token`` notification)."""

    sender: JID
    sender_lid: JID | None
    token: bytes = field(repr=False)
    timestamp: datetime | None


@dataclass(frozen=True)
class AccountSyncChanged:
    """Our own account changed elsewhere (``account_sync``): ``what`` lists the child tags
    (``privacy``, ``devices``, ``picture``, ``blocklist``…); ``devices`` our new device list."""

    what: tuple[str, ...]
    timestamp: datetime | None
    devices: tuple[JID, ...] = ()


# --- history sync (:mod:`.history_sync`) ------------------------------------------------------


class HistorySyncType(IntEnum):
    """``HistorySync.syncType``: which of the phone's syncs a chunk belongs to."""

    INITIAL_BOOTSTRAP = 0
    INITIAL_STATUS_V3 = 1
    FULL = 2
    RECENT = 3
    PUSH_NAME = 4
    NON_BLOCKING_DATA = 5
    ON_DEMAND = 6
    NO_HISTORY = 7
    MESSAGE_ACCESS_STATUS = 8


@dataclass(frozen=True)
class HistoryConversation:
    """One chat of a history chunk: its settings as the phone knows them, and its messages
    (``WebMessageInfo``, in the phone's order: newest first; ``raw`` keeps every field). A long
    chat may be split between chunks."""

    chat: JID
    name: str
    unread_count: int
    archived: bool
    pinned_at: datetime | None
    """When the chat was pinned (None: not pinned)."""
    mute_end: datetime | None
    """Muted until then (None: not muted; ``datetime.max`` in UTC: always)."""
    marked_as_unread: bool
    ephemeral_expiration: int
    """Disappearing-messages timer in seconds (0: off)."""
    ephemeral_setting_timestamp: datetime | None
    alt_jid: JID | None
    """The chat's other identity (its LID for a phone-number chat, or the reverse)."""
    messages: tuple[wa_web_pb2.WebMessageInfo, ...] = field(repr=False)
    raw: wa_history_sync_pb2.Conversation = field(repr=False)


@dataclass(frozen=True)
class HistorySyncChunk:
    """One chunk of history sync from our phone, downloaded, inflated and parsed
    (whatsmeow's ``events.HistorySync``).

    ``message_id`` is the id of the peer message that announced it (the one acknowledged with
    ``hist_sync``); ``request_id`` the id of
    the on-demand request it answers (``peerDataRequestSessionID``), if any. ``progress`` is the
    phone's percentage for this sync type (None when it gave none); ``lid_mappings`` are
    ``(lid, pn)`` pairs, already stored in ``client.lids``.
    """

    sync_type: HistorySyncType
    chunk_order: int
    progress: int | None
    conversations: tuple[HistoryConversation, ...]
    push_names: tuple[tuple[JID, str], ...]
    lid_mappings: tuple[tuple[JID, JID], ...]
    global_settings: wa_history_sync_pb2.GlobalSettings | None = field(repr=False)
    message_id: str
    request_id: str | None
    original_message_id: str
    """The notification's ``originalMessageID``, as the phone set it (often empty)."""
    raw: wa_history_sync_pb2.HistorySync = field(repr=False)


@dataclass(frozen=True)
class HistorySyncFailed:
    """A history chunk our phone announced could not be taken in (download, hashes, zlib,
    protobuf, size: ``error`` is a :class:`~.history_sync.HistorySyncError` whose
    ``__cause__`` is the underlying media error, if any). It is not acknowledged."""

    message_id: str
    sync_type: HistorySyncType
    chunk_order: int
    error: Exception
