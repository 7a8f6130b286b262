"""The seam between the bridge and the WhatsApp client library.

A :class:`User` never touches ``whatsapp.Client`` directly: it holds a :class:`WhatsAppSession`
and receives :data:`SessionEvent` values. The real implementation (``wa_session.py``) adapts the
client's typed events to these; tests pass a fake. The events here are the bridge's vocabulary
(what a user must be told), not the protocol's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from .whatsapp.media.types import MediaType
from .whatsapp.media.upload import UploadResult
from .whatsapp.proto import wa_e2e_pb2


class LogoutKind(Enum):
    """Why WhatsApp ended the link; each kind has its own notice and bridge-state code."""

    LOGGED_OUT = "wa-logged-out"  # 401: removed from the phone / another device
    MAIN_DEVICE_GONE = "wa-main-device-gone"  # 403: the phone itself was logged out
    UNKNOWN = "wa-unknown-logout"  # 406 and anything else that ends the session


@dataclass(frozen=True)
class Connected:
    """The connection reached ``<success>``."""


@dataclass(frozen=True)
class Disconnected:
    """The connection dropped; the session reconnects on its own."""

    reason: str = ""


@dataclass(frozen=True)
class LoggedOut:
    """WhatsApp ended the link (``on_connect``: it refused the login rather than the stream)."""

    kind: LogoutKind
    on_connect: bool = False
    reason: str = ""


@dataclass(frozen=True)
class TemporaryBan:
    """WhatsApp refused the login for a while (402); ``code`` says why, see the reasons."""

    code: int
    expires_in: float | None  # seconds, None when unknown

    @property
    def reason(self) -> str:
        return _BAN_REASONS.get(self.code, "unknown reason")


_BAN_REASONS = {
    101: "you sent too many messages to people who don't have you in their address books",
    102: "too many people blocked you",
    103: "you created too many groups with people who don't have you in their address books",
    104: "you sent the same message to too many people",
    106: "you sent too many messages to a broadcast list",
}


@dataclass(frozen=True)
class ClientOutdated:
    """WhatsApp refuses this client version (405)."""


@dataclass(frozen=True)
class StreamReplaced:
    """Another connection with the same device took over."""


@dataclass(frozen=True)
class ConnectFailed:
    """WhatsApp refused the login for another reason; the session stays disconnected."""

    code: int
    message: str = ""


@dataclass(frozen=True)
class PhoneSeen:
    """The latest time (unix seconds) the phone is known to have been online."""

    timestamp: float


@dataclass(frozen=True)
class MessageReceived:
    """A message in one of the user's chats, from a contact or from the user's other devices.

    JIDs are strings without a device: ``chat`` is the other person (DMs, also for the user's
    own messages) or the group; ``sender`` is whoever wrote it. ``message`` is the content with
    WhatsApp's wrappers already taken off; converting it is the portal's business.
    """

    chat: str
    sender: str
    id: str
    timestamp: float  # unix seconds, WhatsApp's time
    is_from_me: bool
    is_group: bool
    message: wa_e2e_pb2.Message
    push_name: str = ""
    is_view_once: bool = False  # ---- receipts ----: it came in a view-once wrapper


# ---- contacts: what names and pictures the ghosts get (ghosts piece) -------------------


@dataclass(frozen=True)
class ContactNames:
    """The user's address book names ``jid`` (app state ``contact``/``lid_contact``)."""

    jid: str  # a user JID, phone number or LID
    full_name: str
    first_name: str


@dataclass(frozen=True)
class PushNames:
    """Names people gave themselves (a message's ``notify``, history sync's push names)."""

    names: tuple[tuple[str, str], ...]  # (user JID, push name)


@dataclass(frozen=True)
class BusinessName:
    """A business's verified name (with the push name of the same message, if any)."""

    jid: str
    name: str
    push_name: str = ""


@dataclass(frozen=True)
class SentMessage:
    """WhatsApp accepted a message we sent: its id and the server's time (unix seconds)."""

    id: str
    timestamp: float


@dataclass(frozen=True)
class GroupSummary:
    """What a portal needs of a group: its name, topic and members (user JIDs)."""

    jid: str
    name: str = ""
    topic: str = ""
    members: tuple[str, ...] = ()
    admins: frozenset[str] = frozenset()
    """Members that are admins or the super admin (the creator)."""
    announce: bool = False
    """Only admins may send messages."""
    locked: bool = False
    """Only admins may edit the group's name, topic and picture."""


class SendFailed(Exception):
    """A message could not be sent; the text is the reason, fit to show the user."""


class SendNotStarted(SendFailed):
    """Nothing of the message left (the connection was down): sending again is safe."""


class SendUnconfirmed(SendFailed):
    """The message left but WhatsApp never confirmed it: it may have arrived."""


@dataclass(frozen=True)
class UserPictureChanged:
    """A user's profile picture was set (``picture_id``) or removed (``picture_id=""``)."""

    jid: str
    picture_id: str


@dataclass(frozen=True)
class ProfilePicture:
    """A profile picture: its WhatsApp id and JPEG bytes (None: unchanged since the id asked)."""

    id: str
    data: bytes | None


# ---- receipts: read receipts, typing and calls (receipts piece) -------------------------


@dataclass(frozen=True)
class ReceiptReceived:
    """``sender`` read ``message_ids`` in ``chat``: a contact (``read``), or the user on the
    phone or another companion (``is_from_me``: WhatsApp's ``read-self``, or ``read`` from one
    of our own devices). Delivery and played receipts are not the bridge's business."""

    chat: str
    sender: str
    message_ids: tuple[str, ...]
    timestamp: float  # unix seconds
    is_from_me: bool
    is_group: bool


@dataclass(frozen=True)
class ChatTyping:
    """``sender`` started (``typing``) or stopped typing in ``chat``; ``recording`` for a
    voice message being recorded."""

    chat: str
    sender: str
    is_group: bool
    typing: bool
    recording: bool = False


@dataclass(frozen=True)
class CallOffer:
    """An incoming call: ``chat`` is the group for group calls, else the caller (``sender``).
    ``call_type`` is ``""`` for an ordinary offer, or an offer notice's ``type`` (``group``)."""

    chat: str
    sender: str
    call_id: str
    timestamp: float  # unix seconds, when the call was started
    call_type: str = ""


# ---- groups ----


@dataclass(frozen=True)
class GroupChanged:
    """Something changed in group ``jid`` (a ``w:gp2`` notification); None/empty = unchanged.

    JIDs are user JIDs without device, phone numbers where WhatsApp revealed them. ``sender``
    is who made the change ("" when WhatsApp itself did, e.g. promoting a new admin).
    """

    jid: str
    sender: str = ""
    timestamp: float = 0.0
    name: str | None = None
    topic: str | None = None
    announce: bool | None = None
    locked: bool | None = None
    join: tuple[str, ...] = ()
    leave: tuple[str, ...] = ()
    promote: tuple[str, ...] = ()
    demote: tuple[str, ...] = ()


@dataclass(frozen=True)
class JoinedGroup:
    """The user was added to (or created) group ``jid``; ``info`` when WhatsApp sent it.

    ``create_key`` is the key of a group we created (so the creator can tell its own)."""

    jid: str
    info: GroupSummary | None = None
    sender: str = ""
    create_key: str = ""


@dataclass(frozen=True)
class GroupPictureChanged:
    """The picture of group ``jid`` was set (``picture_id``) or removed (``""``) by ``sender``."""

    jid: str
    sender: str
    picture_id: str


class GroupRequestFailed(Exception):
    """WhatsApp refused a group request; the text says why, fit to show the user."""


@dataclass(frozen=True)
class ParticipantResult:
    """One participant's outcome of an add/remove/promote/demote (status 200 = done)."""

    jid: str
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 200


# ---- backfill ----


@dataclass(frozen=True)
class HistoryMessage:
    """One past message of a history chunk: as a live message would arrive (``message``),
    and the phone's stored form (``raw``: a serialized ``WebMessageInfo``, kept with it).
    ``reaction_to`` names the target of a reaction the phone kept aggregated on a message."""

    message: MessageReceived
    raw: bytes = b""
    reaction_to: str = ""


@dataclass(frozen=True)
class HistoryChat:
    """One chat of a history chunk, with the phone's state of it (unix seconds; 0 = none)."""

    chat: str
    name: str
    last_message_at: float
    unread_count: int = 0
    marked_unread: bool = False
    archived: bool = False
    pinned_at: float = 0.0
    mute_end: float = 0.0
    """0: not muted; -1: muted for ever."""
    messages: tuple[HistoryMessage, ...] = ()


@dataclass(frozen=True)
class HistoryChunk:
    """A chunk of the phone's history sync: chats with some of their past messages."""

    sync_type: str
    chunk_order: int
    progress: int | None
    chats: tuple[HistoryChat, ...]
    on_demand: bool = False


@dataclass(frozen=True)
class HistoryFailed:
    """A chunk of history could not be read (corrupt, truncated, not downloadable)."""

    sync_type: str
    chunk_order: int
    reason: str


# ---- chatstate ----


@dataclass(frozen=True)
class ChatStateChanged:
    """The user changed a chat's settings on the phone (app state); exactly one of the
    optional fields says what."""

    chat: str
    timestamp: float
    pinned: bool | None = None
    archived: bool | None = None
    mute_end: float | None = None
    """0: unmuted; -1: muted for ever; else muted until these unix seconds."""
    read: bool | None = None
    """True: read on the phone; False: marked as unread there."""
    from_full_sync: bool = False
    """From a snapshot of the phone's settings (e.g. at login), not a change made now."""


ContactEvent = ContactNames | PushNames | BusinessName | UserPictureChanged


SessionEvent = (
    Connected
    | Disconnected
    | LoggedOut
    | TemporaryBan
    | ClientOutdated
    | StreamReplaced
    | ConnectFailed
    | PhoneSeen
    | MessageReceived
    | ContactNames
    | PushNames
    | BusinessName
    | UserPictureChanged
    | ReceiptReceived
    | ChatTyping
    | CallOffer
    | GroupChanged
    | JoinedGroup
    | GroupPictureChanged
    # ---- backfill ----
    | HistoryChunk
    | HistoryFailed
    # ---- chatstate ----
    | ChatStateChanged
)
EventSink = Callable[[SessionEvent], Awaitable[None]]


@dataclass(frozen=True)
class QRCode:
    """A (new) QR code to show; the previous one is no longer valid."""

    code: str


@dataclass(frozen=True)
class PairingCode:
    """The code to type on the phone, formatted ``XXXX-XXXX``."""

    code: str


@dataclass(frozen=True)
class LoginSuccess:
    """The phone linked us and the first login with the new device went through."""

    jid: str  # the device JID, e.g. 15551234567:3@s.whatsapp.net
    phone: str  # digits only


@dataclass(frozen=True)
class LoginTimeout:
    """The QR codes ran out (or the pairing code expired) before the phone linked."""


@dataclass(frozen=True)
class LoginFailed:
    """The login ended otherwise; ``message`` is shown to the user after "Login failed: "."""

    message: str


LoginUpdate = QRCode | PairingCode | LoginSuccess | LoginTimeout | LoginFailed


class InvalidPhoneNumber(ValueError):
    """The number is not in international format; nothing was sent to WhatsApp."""


class WhatsAppSession(Protocol):
    """One user's link to WhatsApp, as much of it as the bridge needs."""

    @property
    def device_jid(self) -> str | None:
        """The linked device's JID, or None before pairing."""

    @property
    def is_connected(self) -> bool: ...

    async def connect(self) -> None:
        """Start connecting in the background (paired sessions only); returns quickly."""

    async def disconnect(self) -> None:
        """Close the connection cleanly; the link stays."""

    async def logout(self) -> None:
        """Unlink the device at WhatsApp (best effort) and forget its keys."""

    def login_qr(self) -> AsyncIterator[LoginUpdate]:
        """QR codes as they rotate, then one final LoginSuccess/LoginTimeout/LoginFailed."""

    def login_phone(self, phone: str) -> AsyncIterator[LoginUpdate]:
        """One PairingCode, then the final update; raises InvalidPhoneNumber first if bad."""

    async def is_on_whatsapp(self, phone: str) -> str | None:
        """The account JID of ``phone`` (digits) if it has WhatsApp, else None (connected
        sessions only)."""

    async def send_message(self, chat: str, message: wa_e2e_pb2.Message) -> SentMessage:
        """Send ``message`` to a user or group JID; returns once WhatsApp acked it, raises
        :class:`SendFailed` otherwise."""

    async def get_group_info(self, jid: str) -> GroupSummary:
        """The group's metadata; ``LookupError`` when WhatsApp won't tell us."""

    async def get_profile_picture(
        self, jid: str, existing_id: str | None = None
    ) -> ProfilePicture | None:
        """The current picture of user ``jid`` (downloaded unless ``existing_id`` is still
        current), or None when there is none or it is hidden from us (connected sessions
        only)."""

    # ---- media ----

    async def download_media(
        self, message: wa_e2e_pb2.Message, origin: MessageReceived | None = None
    ) -> bytes:
        """The decrypted file of the media ``message`` (one media field set). With ``origin``
        (the received message it came in), expired media is asked again of the phone (media
        retry). Raises a ``whatsapp.media`` error (``MediaError``) when it can't be had."""

    async def upload_media(self, data: bytes, media_type: MediaType) -> UploadResult:
        """Encrypt and upload ``data`` to WhatsApp's media hosts (connected sessions only)."""

    # ---- relations ----

    async def decrypt_poll_vote(
        self, chat: str, voter: str, update: wa_e2e_pb2.PollUpdateMessage
    ) -> list[bytes]:
        """The SHA-256 option hashes ``voter`` chose in a received vote (the poll's secret is
        kept by the client); raises ``ValueError`` when it can't be decrypted."""

    async def send_poll_vote(
        self, chat: str, poll_id: str, poll_sender: str, options: list[str]
    ) -> SentMessage:
        """Vote ``options`` (names; ``[]`` retracts) on a poll whose secret the client knows
        (sent or received by us); raises :class:`SendFailed`."""

    # ---- receipts ----

    async def mark_read(
        self, chat: str, sender: str | None, message_ids: list[str], timestamp: float
    ) -> None:
        """Tell WhatsApp the user read ``message_ids`` (sent by ``sender``, needed in groups)
        in ``chat``; raises :class:`SendFailed` when that can't be sent."""

    async def send_typing(self, chat: str, typing: bool) -> None:
        """Show the user as typing in ``chat`` (or stop); raises :class:`SendFailed`."""

    # ---- groups ----

    async def set_group_name(self, jid: str, name: str) -> None:
        """Rename the group; :class:`GroupRequestFailed` when WhatsApp refuses."""

    async def set_group_topic(self, jid: str, topic: str) -> None:
        """Set (``""``: delete) the group's description."""

    async def set_group_photo(self, jid: str, jpeg: bytes | None) -> str:
        """Set (None: remove) the group's picture; returns its new id (``remove``)."""

    async def update_participants(
        self, jid: str, participants: list[str], action: str
    ) -> list[ParticipantResult]:
        """``action``: add, remove, promote or demote; one result per participant."""

    async def create_group(
        self, name: str, participants: list[str], create_key: str
    ) -> tuple[GroupSummary, list[ParticipantResult]]:
        """Create a group with us as super admin; the participants WhatsApp refused."""

    async def leave_group(self, jid: str) -> None:
        """Leave the group."""

    async def get_joined_groups(self) -> list[GroupSummary]:
        """Every group the user is in (``sync groups``); ``LookupError`` when WhatsApp won't
        tell us."""

    # ---- backfill ----

    async def request_history(self, chat: str, count: int, before: float) -> None:
        """Ask the phone for ``chat``'s last ``count`` messages before ``before`` (unix
        seconds); they arrive as an on-demand :class:`HistoryChunk` (handled before this
        returns). Raises ``LookupError`` when the phone doesn't answer or we're offline."""

    # ---- initial sync ----

    async def history_idle(self) -> None:
        """Return once no history chunk the phone announced is still being fetched or read
        (a chunk still on its way is not "the last one" yet)."""


SessionFactory = Callable[[str, EventSink], Awaitable[WhatsAppSession]]
"""Builds the session of the Matrix user ``mxid``; events go to the sink."""


_PHONE_SEPARATORS = str.maketrans("", "", " -().\u00a0")


def normalize_phone(text: str) -> str:
    """The digits of an international phone number (``+`` required), or InvalidPhoneNumber.

    Spaces, dashes, dots and parentheses are tolerated; E.164 allows at most 15 digits and
    no real number has fewer than 7.
    """
    cleaned = text.strip().translate(_PHONE_SEPARATORS)
    if not cleaned.startswith("+"):
        raise InvalidPhoneNumber(
            "The phone number must be in international format, starting with `+` and the "
            "country code, e.g. `+15551234567`."
        )
    digits = cleaned[1:]
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhoneNumber(
            "The phone number may only contain digits after the `+`, e.g. `+15551234567`."
        )
    if digits.startswith("0"):
        raise InvalidPhoneNumber(
            "The phone number must start with the country code, not 0, e.g. `+15551234567`."
        )
    if len(digits) < 7:
        raise InvalidPhoneNumber("That phone number is too short.")
    if len(digits) > 15:
        raise InvalidPhoneNumber("That phone number is too long.")
    return digits
