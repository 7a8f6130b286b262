"""Media retry (whatsmeow ``mediaretry.go``): ask the sender's phone to upload expired media again.

When a download answers 404/410 (:class:`~.errors.MediaExpiredError`), the client sends our own
account a ``<receipt type="server-error">`` carrying the message id, AES-GCM-encrypted under
HKDF(media key, "WhatsApp Media Retry Notification") with the id as associated data, and an
``<rmr jid from_me participant/>`` naming the message. The phone re-uploads and answers with
``<notification type="mediaretry" id>``: an ``<encrypt>`` holding a
``MediaRetryNotification`` (the new direct path) under the same key, or an ``<error code>``.
The notification becomes a :class:`MediaRetry` event; :func:`decrypt_media_retry` turns it into
the new direct path with the media key the caller kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError

from ..binary import BinaryError
from ..binary.jid import JID
from ..binary.node import Node
from ..crypto.hkdf import hkdf_sha256
from ..message_info import MessageInfo
from ..proto.wa_mms_retry_pb2 import MediaRetryNotification, ServerErrorReceipt
from .conn import log
from .errors import MediaError

if TYPE_CHECKING:
    from ..client import Client

RETRY_INFO = b"WhatsApp Media Retry Notification"
ERROR_NOT_ON_PHONE = 2
"""``<error code="2">``: the phone no longer has the file."""


class MediaRetryError(MediaError):
    """The phone could not re-upload (``code``: its error code or ``result``), or its answer
    could not be decrypted/parsed (``code`` None)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, repr=False)
class MediaRetry:
    """Event: the phone answered a media-retry request for ``message_id``."""

    message_id: str
    chat: JID
    from_me: bool
    sender: JID | None
    timestamp: datetime | None
    ciphertext: bytes | None
    iv: bytes | None
    error_code: int | None

    def __repr__(self) -> str:
        status = "encrypted" if self.error_code is None else f"error {self.error_code}"
        return f"MediaRetry({self.message_id}, {self.chat}, {status})"


def retry_key(media_key: bytes) -> bytes:
    return hkdf_sha256(media_key, b"", RETRY_INFO, 32)


def encrypt_retry_request(message_id: str, media_key: bytes) -> tuple[bytes, bytes]:
    """``(ciphertext, iv)`` of the ``ServerErrorReceipt`` naming ``message_id``."""
    plaintext = ServerErrorReceipt(stanzaID=message_id).SerializeToString()
    iv = os.urandom(12)
    return AESGCM(retry_key(media_key)).encrypt(iv, plaintext, message_id.encode()), iv


def build_retry_receipt(own: JID, info: MessageInfo, media_key: bytes) -> Node:
    ciphertext, iv = encrypt_retry_request(info.id, media_key)
    rmr: dict[str, str | JID] = {
        "jid": info.chat,
        "from_me": "true" if info.is_from_me else "false",
    }
    if info.is_group:
        rmr["participant"] = info.sender
    return Node(
        "receipt",
        {"id": info.id, "to": own.to_non_ad(), "type": "server-error"},
        [
            Node("encrypt", {}, [Node("enc_p", {}, ciphertext), Node("enc_iv", {}, iv)]),
            Node("rmr", rmr),
        ],
    )


async def send_media_retry_receipt(client: Client, info: MessageInfo, media_key: bytes) -> None:
    """Ask our phone to re-upload the media of ``info``; the answer is a :class:`MediaRetry`."""
    own = client.device.jid
    if own is None:
        raise MediaRetryError("not logged in")
    await client.send_node(build_retry_receipt(own, info, media_key))


def parse_media_retry(node: Node) -> MediaRetry:
    """The event of a ``<notification type="mediaretry">`` (``BinaryError`` if malformed)."""
    rmr = node.get_child_by_tag("rmr")
    error = node.get_optional_child_by_tag("error")
    ciphertext = iv = None
    if error is None:
        ciphertext = node.get_child_by_tag("encrypt", "enc_p").content_bytes()
        iv = node.get_child_by_tag("encrypt", "enc_iv").content_bytes()
    return MediaRetry(
        message_id=node.attr_str("id"),
        chat=rmr.attr_jid("jid"),
        from_me=bool(rmr.attr_bool_opt("from_me")),
        sender=rmr.attr_jid_opt("participant"),
        timestamp=node.attr_unix_time_opt("t"),
        ciphertext=ciphertext,
        iv=iv,
        error_code=error.attr_int_opt("code") if error is not None else None,
    )


def decrypt_media_retry(event: MediaRetry, media_key: bytes) -> MediaRetryNotification:
    """The phone's answer; raises :class:`MediaRetryError` for an error answer, a failed
    decryption, or a result other than SUCCESS (its ``code`` is then the result)."""
    if event.ciphertext is None or event.iv is None:
        code = event.error_code
        reason = "media not on the phone" if code == ERROR_NOT_ON_PHONE else "media retry failed"
        raise MediaRetryError(f"{reason} (code {code})", code)
    try:
        plaintext = AESGCM(retry_key(media_key)).decrypt(
            event.iv, event.ciphertext, event.message_id.encode()
        )
        answer = MediaRetryNotification.FromString(plaintext)
    except (InvalidTag, ValueError) as e:
        raise MediaRetryError(f"cannot decrypt the media retry answer: {e!r}") from e
    except DecodeError as e:
        raise MediaRetryError(f"media retry answer is not a protobuf: {e}") from e
    if answer.result != MediaRetryNotification.SUCCESS or not answer.directPath:
        name = MediaRetryNotification.ResultType.Name(answer.result)
        raise MediaRetryError(f"phone answered {name}", answer.result)
    return answer


def install(client: Client) -> None:
    async def handle(node: Node) -> None:
        try:
            event = parse_media_retry(node)
        except BinaryError as e:
            log.warning("Malformed media retry notification: %s", e)
            return
        await client.dispatch(event)

    client.add_notification_handler("mediaretry", handle)
