"""Sender-key distribution: how a group member hands its sender key to the others.

A SenderKeyDistributionMessage is ``0x33 ‖ proto{id=1, iteration=2, chainKey=3, signingKey=4}``
(unsigned: it always travels inside a pairwise-encrypted message, in
``Message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage``). It carries the
sender's *current* chain key, so a receiver can decrypt from that iteration on and nothing before.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..crypto.keys import KeyPair
from .errors import InvalidMessageError
from .group_cipher import load_record, save_record
from .messages import VERSION_BYTE, check_version, parse_proto
from .proto import whisper_pb2
from .sender_key import SenderKeyName, SenderKeyRecord, signing_public_bytes

if TYPE_CHECKING:
    from ..store import SenderKeyStore


@dataclass(frozen=True, repr=False)
class SenderKeyDistributionMessage:
    key_id: int
    iteration: int
    chain_key: bytes
    signing_key: bytes
    """33-byte 05-prefixed public signing key."""

    def __repr__(self) -> str:
        return f"SenderKeyDistributionMessage(key_id={self.key_id}, iteration={self.iteration})"

    def serialize(self) -> bytes:
        body = whisper_pb2.SenderKeyDistributionMessage(
            id=self.key_id,
            iteration=self.iteration,
            chainKey=self.chain_key,
            signingKey=self.signing_key,
        )
        return bytes((VERSION_BYTE,)) + body.SerializeToString()

    @classmethod
    def parse(cls, data: bytes) -> SenderKeyDistributionMessage:
        """Parse the wire form, raising :class:`InvalidMessageError` on anything malformed."""
        what = "sender key distribution message"
        check_version(data, what)
        body = parse_proto(whisper_pb2.SenderKeyDistributionMessage(), data[1:], what)
        # id and iteration may be absent (= 0) when an encoder skips zero values.
        for name in ("chainKey", "signingKey"):
            if not body.HasField(name):
                raise InvalidMessageError(f"sender key distribution message lacks {name}")
        if len(body.chainKey) != 32:
            raise InvalidMessageError("sender key distribution chain key is not 32 bytes")
        return cls(body.id, body.iteration, body.chainKey, signing_public_bytes(body.signingKey))


def new_sender_key_id() -> int:
    """A random 31-bit key id, the range Baileys and libsignal-java use."""
    return secrets.randbelow(0x7FFFFFFF)


def create_distribution(record: SenderKeyRecord) -> SenderKeyDistributionMessage:
    """Give ``record`` a fresh sender key of ours if it has none; describe its current state."""
    if record.is_empty():
        record.set_own_state(new_sender_key_id(), 0, secrets.token_bytes(32), KeyPair.generate())
    state = record.current_state()
    return SenderKeyDistributionMessage(
        state.key_id, state.chain_key.iteration, state.chain_key.key, state.signing_public
    )


def process_distribution(record: SenderKeyRecord, message: SenderKeyDistributionMessage) -> None:
    """Take in another member's distributed sender key."""
    record.add_state(message.key_id, message.iteration, message.chain_key, message.signing_key)


class GroupSessionBuilder:
    """Creates our sender key for a group and processes other members' keys, via a store."""

    def __init__(self, store: SenderKeyStore) -> None:
        self.store = store

    async def create(self, name: SenderKeyName) -> SenderKeyDistributionMessage:
        """Our distribution message for ``name`` (our own address in a group), creating the key
        on first use. Send it to every member device that has not got it yet."""
        record = await load_record(self.store, name)
        if record.is_empty():
            message = create_distribution(record)
            await save_record(self.store, name, record)
            return message
        return create_distribution(record)

    async def process(
        self, name: SenderKeyName, message: SenderKeyDistributionMessage | bytes
    ) -> None:
        """Store a distribution message received from ``name``'s sender (parsed or raw bytes)."""
        if isinstance(message, bytes):
            message = SenderKeyDistributionMessage.parse(message)
        record = await load_record(self.store, name)
        process_distribution(record, message)
        await save_record(self.store, name, record)
