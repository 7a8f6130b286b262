"""Key records of the Signal protocol: pre-keys, signed pre-keys, registration ids, bundles.

Public keys are passed around as bare 32-byte Curve25519 keys; the 05-prefixed 33-byte form
only appears inside protobufs and signed data, as libsignal does.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from ..crypto.keys import KeyPair, strip_key_type, with_key_type
from ..crypto.xeddsa import sign, verify
from .errors import InvalidKeyError, InvalidSignatureError
from .proto import storage_pb2

MAX_REGISTRATION_ID = 0x3FFF
"""libsignal's registration ids are 14 bits (whatsmeow draws 32 bits; both are accepted)."""


def generate_registration_id() -> int:
    """A random registration id in libsignal's range 1..16383."""
    return 1 + secrets.randbelow(MAX_REGISTRATION_ID)


def public_key(data: bytes, what: str = "public key") -> bytes:
    """Validate a 32- or 33-byte (05-prefixed) public key and return its bare 32 bytes."""
    try:
        return strip_key_type(bytes(data))
    except ValueError:
        raise InvalidKeyError(f"invalid {what} ({len(data)} bytes)") from None


def _key_pair(public: bytes, private: bytes, what: str) -> KeyPair:
    if len(private) != 32:
        raise InvalidKeyError(f"invalid {what} private key ({len(private)} bytes)")
    pair = KeyPair.from_private(private)
    if pair.public != public_key(public, what):
        raise InvalidKeyError(f"{what} public key does not match its private key")
    return pair


@dataclass(frozen=True, repr=False)
class PreKeyRecord:
    """A one-time pre-key: used by at most one incoming session, then deleted."""

    key_id: int
    key_pair: KeyPair

    @classmethod
    def generate(cls, key_id: int) -> PreKeyRecord:
        return cls(key_id, KeyPair.generate())

    def serialize(self) -> bytes:
        return storage_pb2.PreKeyRecordStructure(
            id=self.key_id,
            publicKey=with_key_type(self.key_pair.public),
            privateKey=self.key_pair.private,
        ).SerializeToString()

    @classmethod
    def deserialize(cls, data: bytes) -> PreKeyRecord:
        proto = storage_pb2.PreKeyRecordStructure()
        try:
            proto.ParseFromString(data)
        except DecodeError as e:
            raise InvalidKeyError(f"invalid pre-key record: {e}") from None
        return cls(proto.id, _key_pair(proto.publicKey, proto.privateKey, "pre-key"))

    def __repr__(self) -> str:
        return f"PreKeyRecord(key_id={self.key_id})"


@dataclass(frozen=True, repr=False)
class SignedPreKeyRecord:
    """A medium-term pre-key signed by the identity key (XEdDSA over ``05 ‖ public``)."""

    key_id: int
    key_pair: KeyPair
    signature: bytes
    timestamp: int = 0
    """Creation time in milliseconds since the epoch."""

    @classmethod
    def generate(cls, identity: KeyPair, key_id: int) -> SignedPreKeyRecord:
        pair = KeyPair.generate()
        signature = sign(identity.private, with_key_type(pair.public))
        return cls(key_id, pair, signature, int(time.time() * 1000))

    def serialize(self) -> bytes:
        return storage_pb2.SignedPreKeyRecordStructure(
            id=self.key_id,
            publicKey=with_key_type(self.key_pair.public),
            privateKey=self.key_pair.private,
            signature=self.signature,
            timestamp=self.timestamp,
        ).SerializeToString()

    @classmethod
    def deserialize(cls, data: bytes) -> SignedPreKeyRecord:
        proto = storage_pb2.SignedPreKeyRecordStructure()
        try:
            proto.ParseFromString(data)
        except DecodeError as e:
            raise InvalidKeyError(f"invalid signed pre-key record: {e}") from None
        pair = _key_pair(proto.publicKey, proto.privateKey, "signed pre-key")
        return cls(proto.id, pair, proto.signature, proto.timestamp)

    def __repr__(self) -> str:
        return f"SignedPreKeyRecord(key_id={self.key_id})"


@dataclass(frozen=True)
class PreKeyBundle:
    """What the server hands out to start a session with a device (all keys 32 bytes)."""

    registration_id: int
    device_id: int
    identity_key: bytes
    signed_pre_key_id: int
    signed_pre_key: bytes
    signed_pre_key_signature: bytes
    pre_key_id: int | None = None
    pre_key: bytes | None = None

    def __post_init__(self) -> None:
        # Normalise to bare keys and reject malformed ones here, where the bundle is parsed.
        object.__setattr__(self, "identity_key", public_key(self.identity_key, "identity key"))
        object.__setattr__(self, "signed_pre_key_signature", bytes(self.signed_pre_key_signature))
        spk = public_key(self.signed_pre_key, "signed pre-key")
        object.__setattr__(self, "signed_pre_key", spk)
        if (self.pre_key is None) != (self.pre_key_id is None):
            raise InvalidKeyError("a pre-key bundle needs both the pre-key and its id, or neither")
        if self.pre_key is not None:
            object.__setattr__(self, "pre_key", public_key(self.pre_key, "pre-key"))

    def verify_signature(self) -> None:
        """Raise :class:`InvalidSignatureError` unless the identity key signed the pre-key."""
        if not verify(
            self.identity_key, with_key_type(self.signed_pre_key), self.signed_pre_key_signature
        ):
            raise InvalidSignatureError("invalid signature on the signed pre-key")

    @classmethod
    def from_records(
        cls,
        registration_id: int,
        device_id: int,
        identity: KeyPair,
        signed_pre_key: SignedPreKeyRecord,
        pre_key: PreKeyRecord | None = None,
    ) -> PreKeyBundle:
        """Our own bundle, as we would upload it (used by tests and the simulator)."""
        return cls(
            registration_id=registration_id,
            device_id=device_id,
            identity_key=identity.public,
            signed_pre_key_id=signed_pre_key.key_id,
            signed_pre_key=signed_pre_key.key_pair.public,
            signed_pre_key_signature=signed_pre_key.signature,
            pre_key_id=pre_key.key_id if pre_key else None,
            pre_key=pre_key.key_pair.public if pre_key else None,
        )


def serialize_identity_key_pair(pair: KeyPair) -> bytes:
    return storage_pb2.IdentityKeyPairStructure(
        publicKey=with_key_type(pair.public), privateKey=pair.private
    ).SerializeToString()


def deserialize_identity_key_pair(data: bytes) -> KeyPair:
    proto = storage_pb2.IdentityKeyPairStructure()
    try:
        proto.ParseFromString(data)
    except DecodeError as e:
        raise InvalidKeyError(f"invalid identity key pair: {e}") from None
    return _key_pair(proto.publicKey, proto.privateKey, "identity key")
