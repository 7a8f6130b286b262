"""App-state cryptography as the phone does it, written from whatsmeow ``appstate/hash.go``,
``appstate/keys.go``, ``appstate/lthash`` and Baileys ``chat-utils.ts`` / ``lt-hash.ts`` for the
simulator (it shares only HKDF, AES-CBC and the protobufs with the client library).

A sync key (32 bytes) expands, HKDF-SHA256 with no salt and info ``WhatsApp Mutation Keys``,
into five 32-byte keys: index, value encryption, value MAC, snapshot MAC, patch MAC.

- index MAC = HMAC-SHA256(index key, index JSON);
- value blob = iv ‖ AES-CBC(SyncActionData) ‖ value MAC, where value MAC =
  HMAC-SHA512(value MAC key, (operation + 1) ‖ key id ‖ iv ‖ ciphertext ‖ u64be(len(key id) + 1))
  truncated to 32 bytes;
- the collection's LTHash (128 bytes) adds, lane by lane as little-endian uint16, the HKDF
  expansion (info ``WhatsApp Patch Integrity``, 128 bytes) of each live value MAC, and subtracts
  the one it replaces;
- snapshot MAC = HMAC-SHA256(snapshot key, LTHash ‖ u64be(version) ‖ collection name);
- patch MAC = HMAC-SHA256(patch key, snapshot MAC ‖ each mutation's value MAC ‖ u64be(version)
  ‖ collection name).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.crypto.cbc import decrypt as cbc_decrypt
from mautrix_whatsapp.whatsapp.crypto.cbc import encrypt as cbc_encrypt
from mautrix_whatsapp.whatsapp.crypto.hkdf import hkdf_sha256
from mautrix_whatsapp.whatsapp.proto import wa_server_sync_pb2, wa_sync_action_pb2

SET = wa_server_sync_pb2.SyncdMutation.SET
REMOVE = wa_server_sync_pb2.SyncdMutation.REMOVE
HASH_SIZE = 128
VALUE_MAC_SIZE = 32
EMPTY_HASH = bytes(HASH_SIZE)


class AppStateCryptoError(ValueError):
    """A record or patch failed a MAC check or could not be decrypted or parsed."""


@dataclass(frozen=True)
class MutationKeys:
    index: bytes
    value_encryption: bytes
    value_mac: bytes
    snapshot_mac: bytes
    patch_mac: bytes

    @classmethod
    def expand(cls, key_data: bytes) -> MutationKeys:
        out = hkdf_sha256(key_data, b"", b"WhatsApp Mutation Keys", 160)
        return cls(out[:32], out[32:64], out[64:96], out[96:128], out[128:160])


def _lanes(item: bytes) -> tuple[int, ...]:
    expanded = hkdf_sha256(item, b"", b"WhatsApp Patch Integrity", HASH_SIZE)
    return struct.unpack(f"<{HASH_SIZE // 2}H", expanded)


def lthash(base: bytes, subtract: Iterable[bytes] = (), add: Iterable[bytes] = ()) -> bytes:
    """``base`` minus each of ``subtract`` plus each of ``add`` (uint16 lanes, wrapping)."""
    lanes = list(struct.unpack(f"<{HASH_SIZE // 2}H", base))
    for sign, items in ((-1, subtract), (1, add)):
        for item in items:
            for i, value in enumerate(_lanes(item)):
                lanes[i] = (lanes[i] + sign * value) & 0xFFFF
    return struct.pack(f"<{HASH_SIZE // 2}H", *lanes)


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def index_mac(keys: MutationKeys, index: bytes) -> bytes:
    return hmac.new(keys.index, index, hashlib.sha256).digest()


def value_mac(keys: MutationKeys, operation: int, encrypted: bytes, key_id: bytes) -> bytes:
    data = bytes([operation + 1]) + key_id + encrypted + _u64(len(key_id) + 1)
    return hmac.new(keys.value_mac, data, hashlib.sha512).digest()[:VALUE_MAC_SIZE]


def snapshot_mac(keys: MutationKeys, hash_: bytes, version: int, name: str) -> bytes:
    data = hash_ + _u64(version) + name.encode()
    return hmac.new(keys.snapshot_mac, data, hashlib.sha256).digest()


def patch_mac(
    keys: MutationKeys, snapshot: bytes, value_macs: Iterable[bytes], version: int, name: str
) -> bytes:
    data = snapshot + b"".join(value_macs) + _u64(version) + name.encode()
    return hmac.new(keys.patch_mac, data, hashlib.sha256).digest()


def index_json(index: list[str]) -> bytes:
    """The index as WhatsApp's clients serialise it (``JSON.stringify``: no spaces)."""
    return json.dumps(index, separators=(",", ":"), ensure_ascii=False).encode()


def encode_record(
    keys: MutationKeys,
    key_id: bytes,
    index: list[str],
    value: wa_sync_action_pb2.SyncActionValue,
    version: int,
    operation: int = SET,
    iv: bytes | None = None,
) -> wa_server_sync_pb2.SyncdRecord:
    """One encrypted record (index MAC, value blob, key id)."""
    index_bytes = index_json(index)
    data = wa_sync_action_pb2.SyncActionData(
        index=index_bytes, value=value, padding=b"", version=version
    )
    iv = iv or os.urandom(16)
    encrypted = iv + cbc_encrypt(keys.value_encryption, iv, data.SerializeToString())
    mac = value_mac(keys, operation, encrypted, key_id)
    return wa_server_sync_pb2.SyncdRecord(
        index=wa_server_sync_pb2.SyncdIndex(blob=index_mac(keys, index_bytes)),
        value=wa_server_sync_pb2.SyncdValue(blob=encrypted + mac),
        keyID=wa_server_sync_pb2.KeyId(ID=key_id),
    )


@dataclass(frozen=True)
class DecodedRecord:
    index: list[str]
    data: wa_sync_action_pb2.SyncActionData


def decode_record(
    keys: MutationKeys, record: wa_server_sync_pb2.SyncdRecord, operation: int = SET
) -> DecodedRecord:
    """Check the value MAC, decrypt, parse, check the index MAC."""
    blob = record.value.blob
    if len(blob) < 16 + 16 + VALUE_MAC_SIZE:
        raise AppStateCryptoError("value blob too short")
    encrypted, mac = blob[:-VALUE_MAC_SIZE], blob[-VALUE_MAC_SIZE:]
    if not hmac.compare_digest(mac, value_mac(keys, operation, encrypted, record.keyID.ID)):
        raise AppStateCryptoError("value MAC mismatch")
    try:
        plain = cbc_decrypt(keys.value_encryption, encrypted[:16], encrypted[16:])
        data = wa_sync_action_pb2.SyncActionData.FromString(plain)
        index = json.loads(data.index)
    except Exception as e:
        raise AppStateCryptoError(f"undecodable value: {type(e).__name__}") from e
    if not isinstance(index, list) or not all(isinstance(part, str) for part in index):
        raise AppStateCryptoError("index is not a list of strings")
    if not hmac.compare_digest(record.index.blob, index_mac(keys, data.index)):
        raise AppStateCryptoError("index MAC mismatch")
    return DecodedRecord(index, data)
