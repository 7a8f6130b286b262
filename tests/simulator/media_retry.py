"""The phone answering media-retry requests (whatsmeow ``mediaretry.go``, Baileys
``encryptMediaRetryRequest``/``decodeMediaRetryNode``), written again for the simulator.

A companion that finds its media expired (410) or gone (404) sends its own account
``<receipt id to=OWN type="server-error"><encrypt><enc_p/><enc_iv/></encrypt><rmr jid from_me
participant?/></receipt>``; the server gives it to the phone alone (``relay.py``). ``enc_p`` is a
``ServerErrorReceipt{stanzaID}`` sealed with AES-256-GCM under HKDF-SHA256(mediaKey, no salt,
"WhatsApp Media Retry Notification", 32), the message id as associated data. The phone finds the
message (sent, received or remembered), opens the request with that message's media key,
uploads the blob again under a new direct path and sends the asking device
``<notification from=OWN type="mediaretry" id t><rmr …/><encrypt><enc_p/><enc_iv/></encrypt>
</notification>`` with a ``MediaRetryNotification{stanzaID, directPath, result}`` sealed the same
way. Without the message or its media: ``<error code="2"/>`` (NOT_FOUND) instead of
``<encrypt>``; a request the key cannot open: ``<error code="3"/>`` (DECRYPTION_ERROR); media the
phone no longer has: an encrypted ``result=NOT_FOUND``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.errors import BinaryError
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto.hkdf import hkdf_sha256

from .accounts import Account
from .media_crypto import MediaCryptoError, decrypt_media
from .media_store import get_media_store
from .phone_inbox import receipt_hooks
from .phone_media import find_media, known_message
from .routing import PN_SERVER, deliver_to
from .state import ServerState

log = logging.getLogger("simulator.media_retry")

RETRY_INFO = b"WhatsApp Media Retry Notification"
GENERAL_ERROR, SUCCESS, NOT_FOUND, DECRYPTION_ERROR = 0, 1, 2, 3
"""``MediaRetryNotification.ResultType`` (also the ``<error code>`` values)."""


def _proto_classes() -> tuple[Any, Any]:
    """``ServerErrorReceipt`` and ``MediaRetryNotification`` (whatsmeow ``WAMmsRetry.proto``),
    built here so the phone's side shares no generated code with the client's."""
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="simulator_mms_retry.proto", package="SimulatorMmsRetry", syntax="proto2"
    )
    receipt = file.message_type.add(name="ServerErrorReceipt")
    receipt.field.add(name="stanzaID", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    notification = file.message_type.add(name="MediaRetryNotification")
    result_type = notification.enum_type.add(name="ResultType")
    for name, number in (
        ("GENERAL_ERROR", GENERAL_ERROR),
        ("SUCCESS", SUCCESS),
        ("NOT_FOUND", NOT_FOUND),
        ("DECRYPTION_ERROR", DECRYPTION_ERROR),
    ):
        result_type.value.add(name=name, number=number)
    for name, number, kind in (
        ("stanzaID", 1, F.TYPE_STRING),
        ("directPath", 2, F.TYPE_STRING),
        ("result", 3, F.TYPE_ENUM),
        ("messageSecret", 4, F.TYPE_BYTES),
    ):
        field = notification.field.add(name=name, number=number, type=kind, label=F.LABEL_OPTIONAL)
        if kind == F.TYPE_ENUM:
            field.type_name = ".SimulatorMmsRetry.MediaRetryNotification.ResultType"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("SimulatorMmsRetry.ServerErrorReceipt")
        ),
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("SimulatorMmsRetry.MediaRetryNotification")
        ),
    )


ServerErrorReceipt, MediaRetryNotification = _proto_classes()


class MediaRetryRequestError(ValueError):
    """A ``server-error`` receipt of the wrong shape (the companion's fault)."""


def retry_key(media_key: bytes) -> bytes:
    return hkdf_sha256(media_key, b"", RETRY_INFO, 32)


def seal(media_key: bytes, message_id: str, plaintext: bytes) -> tuple[bytes, bytes]:
    """(ciphertext ‖ tag, iv) as ``enc_p``/``enc_iv`` carry them."""
    iv = os.urandom(12)
    return AESGCM(retry_key(media_key)).encrypt(iv, plaintext, message_id.encode()), iv


def open_sealed(media_key: bytes, message_id: str, ciphertext: bytes, iv: bytes) -> bytes:
    return AESGCM(retry_key(media_key)).decrypt(iv, ciphertext, message_id.encode())


def _parse(node: Node) -> tuple[str, JID, dict[str, str | JID], bytes, bytes]:
    """(message id, asking device, rmr attributes, enc_p, enc_iv) of a request."""
    try:
        message_id = node.attr_str("id")
        requester = node.attr_jid("from")
        rmr = node.get_child_by_tag("rmr")
        rmr.attr_jid("jid")
        encrypt = node.get_child_by_tag("encrypt")
        ciphertext = encrypt.get_child_by_tag("enc_p").content_bytes()
        iv = encrypt.get_child_by_tag("enc_iv").content_bytes()
    except (BinaryError, TypeError, ValueError) as e:
        raise MediaRetryRequestError(f"malformed media-retry receipt: {e}") from e
    if len(iv) != 12:
        raise MediaRetryRequestError(f"enc_iv is {len(iv)} bytes, not 12")
    return message_id, requester, dict(rmr.attrs), ciphertext, iv


def answer(state: ServerState, account: Account, node: Node) -> None:
    """The phone's answer to one ``server-error`` receipt (see the module docstring)."""
    try:
        message_id, requester, rmr_attrs, ciphertext, iv = _parse(node)
    except MediaRetryRequestError as e:
        state.record_protocol_error(f"{account.phone}'s phone: {e}")
        return
    rmr = Node("rmr", rmr_attrs)
    base: dict[str, str | JID] = {
        "from": JID(account.phone, PN_SERVER),
        "type": "mediaretry",
        "id": message_id,
        "t": str(int(time.time())),
    }

    def send(content: Node) -> None:
        deliver_to(state, account, requester.device, Node("notification", base, [rmr, content]))

    message = known_message(state, account.phone, message_id)
    found = find_media(message) if message is not None else None
    if found is None:
        log.info("media retry for %s: the phone has no such media message", message_id)
        send(Node("error", {"code": str(NOT_FOUND)}))
        return
    kind, media = found
    media_key = bytes(media.mediaKey)
    try:
        request = ServerErrorReceipt.FromString(open_sealed(media_key, message_id, ciphertext, iv))
    except (InvalidTag, DecodeError, ValueError):
        log.info("media retry for %s: the request does not open with its media key", message_id)
        send(Node("error", {"code": str(DECRYPTION_ERROR)}))
        return
    if request.stanzaID != message_id:
        send(Node("error", {"code": str(DECRYPTION_ERROR)}))
        return
    result = MediaRetryNotification(stanzaID=message_id, result=NOT_FOUND)
    store = get_media_store(state)
    stored = store.get(str(media.directPath))
    if stored is not None:
        try:
            decrypt_media(stored.blob, kind, media_key)  # the phone still has the file
        except MediaCryptoError:
            stored = None
    if stored is not None:
        uploaded = store.put(stored.blob, stored.media_type)
        result.result = SUCCESS
        result.directPath = uploaded.direct_path
        log.debug("media retry for %s: uploaded again at %s", message_id, uploaded.direct_path)
    enc_p, enc_iv = seal(media_key, message_id, result.SerializeToString())
    send(Node("encrypt", {}, [Node("enc_p", {}, enc_p), Node("enc_iv", {}, enc_iv)]))


def install(state: ServerState) -> None:
    receipt_hooks(state)["server-error"] = answer
