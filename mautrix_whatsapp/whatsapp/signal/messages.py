"""The 1:1 wire messages: ``SignalMessage`` ("msg") and ``PreKeySignalMessage`` ("pkmsg").

    SignalMessage       = 0x33 ‖ proto ‖ MAC8
    MAC8                = HMAC-SHA256(mac key, sender IK33 ‖ receiver IK33 ‖ 0x33 ‖ proto)[:8]
    PreKeySignalMessage = 0x33 ‖ proto (whose ``message`` field is a whole SignalMessage)

Parsing validates everything that can be checked without keys and raises
:class:`InvalidMessageError` (never a bare exception) on malformed input.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from ..crypto.hkdf import hmac_sha256
from ..crypto.keys import with_key_type
from .errors import InvalidMACError, InvalidMessageError
from .keys import public_key
from .proto import whisper_pb2

M = TypeVar("M", bound=Message)

CURRENT_VERSION = 3
VERSION_BYTE = (CURRENT_VERSION << 4) | CURRENT_VERSION
MAC_LENGTH = 8


def check_version(data: bytes, what: str) -> None:
    if not data:
        raise InvalidMessageError(f"empty {what}")
    # The high nibble is the sender's version; libsignal only speaks version 3.
    if data[0] >> 4 != CURRENT_VERSION:
        raise InvalidMessageError(f"unsupported {what} version byte {data[0]:#04x}")


def parse_proto(proto: M, data: bytes, what: str) -> M:
    try:
        proto.ParseFromString(data)
    except (DecodeError, ValueError) as e:
        raise InvalidMessageError(f"malformed {what}: {e}") from None
    return proto


@dataclass(frozen=True, slots=True)
class SignalMessage:
    """A parsed or freshly built ``msg``. Keys are bare 32-byte keys."""

    ratchet_key: bytes
    counter: int
    previous_counter: int
    ciphertext: bytes
    serialized: bytes

    @classmethod
    def parse(cls, data: bytes) -> SignalMessage:
        check_version(data, "SignalMessage")
        if len(data) <= 1 + MAC_LENGTH:
            raise InvalidMessageError("SignalMessage is too short")
        proto = parse_proto(whisper_pb2.SignalMessage(), data[1:-MAC_LENGTH], "SignalMessage")
        if not (proto.HasField("ratchetKey") and proto.HasField("counter")):
            raise InvalidMessageError("incomplete SignalMessage")
        if not proto.ciphertext:
            raise InvalidMessageError("SignalMessage without ciphertext")
        ratchet_key = public_key(proto.ratchetKey, "ratchet key")
        return cls(ratchet_key, proto.counter, proto.previousCounter, proto.ciphertext, data)

    @classmethod
    def build(
        cls,
        mac_key: bytes,
        ratchet_key: bytes,
        counter: int,
        previous_counter: int,
        ciphertext: bytes,
        sender_identity: bytes,
        receiver_identity: bytes,
    ) -> SignalMessage:
        body = (
            bytes((VERSION_BYTE,))
            + whisper_pb2.SignalMessage(
                ratchetKey=with_key_type(ratchet_key),
                counter=counter,
                previousCounter=previous_counter,
                ciphertext=ciphertext,
            ).SerializeToString()
        )
        mac = _mac(mac_key, sender_identity, receiver_identity, body)
        return cls(ratchet_key, counter, previous_counter, ciphertext, body + mac)

    def verify_mac(self, mac_key: bytes, sender_identity: bytes, receiver_identity: bytes) -> None:
        body, their_mac = self.serialized[:-MAC_LENGTH], self.serialized[-MAC_LENGTH:]
        our_mac = _mac(mac_key, sender_identity, receiver_identity, body)
        if not hmac.compare_digest(our_mac, their_mac):
            raise InvalidMACError("bad MAC on SignalMessage")


def _mac(mac_key: bytes, sender_identity: bytes, receiver_identity: bytes, body: bytes) -> bytes:
    data = with_key_type(sender_identity) + with_key_type(receiver_identity) + body
    return hmac_sha256(mac_key, data)[:MAC_LENGTH]


@dataclass(frozen=True, slots=True)
class PreKeySignalMessage:
    """A parsed or freshly built ``pkmsg``. Keys are bare 32-byte keys."""

    registration_id: int
    pre_key_id: int | None
    signed_pre_key_id: int
    base_key: bytes
    identity_key: bytes
    message: SignalMessage
    serialized: bytes

    @classmethod
    def parse(cls, data: bytes) -> PreKeySignalMessage:
        check_version(data, "PreKeySignalMessage")
        proto = parse_proto(whisper_pb2.PreKeySignalMessage(), data[1:], "PreKeySignalMessage")
        for field in ("signedPreKeyId", "baseKey", "identityKey", "message"):
            if not proto.HasField(field):
                raise InvalidMessageError(f"PreKeySignalMessage without {field}")
        return cls(
            registration_id=proto.registrationId,
            pre_key_id=proto.preKeyId if proto.HasField("preKeyId") else None,
            signed_pre_key_id=proto.signedPreKeyId,
            base_key=public_key(proto.baseKey, "base key"),
            identity_key=public_key(proto.identityKey, "identity key"),
            message=SignalMessage.parse(proto.message),
            serialized=data,
        )

    @classmethod
    def build(
        cls,
        registration_id: int,
        pre_key_id: int | None,
        signed_pre_key_id: int,
        base_key: bytes,
        identity_key: bytes,
        message: SignalMessage,
    ) -> PreKeySignalMessage:
        proto = whisper_pb2.PreKeySignalMessage(
            registrationId=registration_id,
            signedPreKeyId=signed_pre_key_id,
            baseKey=with_key_type(base_key),
            identityKey=with_key_type(identity_key),
            message=message.serialized,
        )
        if pre_key_id is not None:
            proto.preKeyId = pre_key_id
        serialized = bytes((VERSION_BYTE,)) + proto.SerializeToString()
        return cls(
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            base_key,
            identity_key,
            message,
            serialized,
        )
