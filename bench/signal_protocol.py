"""Signal protocol throughput: our implementation against libsignal-node, in the same run.

    .venv/bin/python bench/signal_protocol.py [--count N] [--size BYTES] [--case NAME ...]

Every case measures messages per second for encrypting ``count`` payloads of ``size`` bytes (1 KiB
by default) and decrypting them again, once in-process with our code and once inside a node
harness under ``tests/js`` (the peer times itself, so process start-up and the pipe are not
counted). Both sides go through their real record storage: our in-memory stores keep serialized
protobuf records, the peer keeps whatever its library persists.

Cases are listed in :data:`CASES`; add one by writing an ``ours`` coroutine and a ``peer``
request for its harness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"

T = TypeVar("T")

Timings = dict[str, float]
"""Operation name ("encrypt", "decrypt") → seconds for ``count`` messages."""


@dataclass(frozen=True)
class Case:
    name: str
    ours: Callable[[int, int], Coroutine[Any, Any, Timings]]
    """(count, size) → timings of our implementation."""
    peer_script: str
    """The harness under tests/js that answers a ``bench`` request with the same timings."""
    peer_name: str


def run_peer(script: str, count: int, size: int) -> Timings:
    """Send one ``{"op": "bench"}`` line to a node harness and read its self-measured timings."""
    request = json.dumps({"op": "bench", "count": count, "size": size}) + "\n"
    result = subprocess.run(
        ["node", script], cwd=JS_DIR, input=request, capture_output=True, text=True, check=True
    )
    answer: dict[str, Any] = json.loads(result.stdout.splitlines()[0])
    if not answer.pop("ok"):
        raise RuntimeError(f"{script}: {answer.get('error')}")
    return {key.removesuffix("_seconds"): float(value) for key, value in answer.items()}


async def time_round_trips(
    count: int,
    size: int,
    encrypt: Callable[[bytes], Awaitable[T]],
    decrypt: Callable[[T], Awaitable[bytes]],
) -> Timings:
    """Time encrypting ``count`` payloads of ``size`` bytes, then decrypting (and checking) all."""
    plaintext = os.urandom(size)
    start = time.perf_counter()
    messages = [await encrypt(plaintext) for _ in range(count)]
    encrypt_s = time.perf_counter() - start
    start = time.perf_counter()
    for message in messages:
        if await decrypt(message) != plaintext:
            raise AssertionError("round trip mismatch")
    decrypt_s = time.perf_counter() - start
    return {"encrypt": encrypt_s, "decrypt": decrypt_s}


# --------------------------------------------------------------------------------------------
# 1:1 sessions (double ratchet): libsignal-node's SessionCipher via tests/js/signal_session.mjs
# --------------------------------------------------------------------------------------------


async def session_ours(count: int, size: int) -> Timings:
    from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
    from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
    from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
    from mautrix_whatsapp.whatsapp.signal.keys import (
        PreKeyBundle,
        PreKeyRecord,
        SignedPreKeyRecord,
    )
    from mautrix_whatsapp.whatsapp.store import MemorySignalStore

    alice_addr, bob_addr = SignalAddress("1000", 0), SignalAddress("2000", 0)
    alice, bob = MemorySignalStore.generate(), MemorySignalStore.generate()
    signed = SignedPreKeyRecord.generate(bob.identity_key_pair, 1)
    pre_key = PreKeyRecord.generate(1)
    await bob.store_signed_pre_key(signed)
    await bob.store_pre_key(pre_key)
    bundle = PreKeyBundle.from_records(
        bob.registration_id, 0, bob.identity_key_pair, signed, pre_key
    )
    await SessionBuilder(alice, bob_addr).process_bundle(bundle)
    sender, receiver = SessionCipher(alice, bob_addr), SessionCipher(bob, alice_addr)
    # Settle the session (answer the pkmsg) so the loop measures steady-state "msg" traffic.
    first = await sender.encrypt(b"hello")
    await receiver.decrypt(first.type, first.serialized)
    reply = await receiver.encrypt(b"hi")
    await sender.decrypt(reply.type, reply.serialized)
    return await time_round_trips(
        count,
        size,
        sender.encrypt,
        lambda message: receiver.decrypt(message.type, message.serialized),
    )


# --------------------------------------------------------------------------------------------
# Group (sender keys): Baileys' GroupCipher on libsignal-node via tests/js/signal_group.mjs
# --------------------------------------------------------------------------------------------


async def group_ours(count: int, size: int) -> Timings:
    from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
    from mautrix_whatsapp.whatsapp.signal.group_cipher import GroupCipher
    from mautrix_whatsapp.whatsapp.signal.group_session import GroupSessionBuilder
    from mautrix_whatsapp.whatsapp.signal.sender_key import SenderKeyName
    from mautrix_whatsapp.whatsapp.store import MemorySenderKeyStore

    name = SenderKeyName("bench@g.us", SignalAddress("1000", 0))
    sender_store, receiver_store = MemorySenderKeyStore(), MemorySenderKeyStore()
    skdm = await GroupSessionBuilder(sender_store).create(name)
    await GroupSessionBuilder(receiver_store).process(name, skdm)
    sender, receiver = GroupCipher(sender_store, name), GroupCipher(receiver_store, name)
    return await time_round_trips(count, size, sender.encrypt, receiver.decrypt)


CASES: list[Case] = [
    Case("1:1", session_ours, "signal_session.mjs", "libsignal-node SessionCipher"),
    Case("group", group_ours, "signal_group.mjs", "Baileys GroupCipher (libsignal-node)"),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=500, help="messages per measurement")
    parser.add_argument("--size", type=int, default=1024, help="payload bytes")
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES])
    args = parser.parse_args()
    selected = [c for c in CASES if not args.case or c.name in args.case]
    print(f"{args.count} messages of {args.size} bytes each; messages/second (higher is better)")
    print(f"{'case':<10} {'operation':<10} {'ours':>10} {'peer':>10} {'ratio':>8}  peer")
    for case in selected:
        ours = asyncio.run(case.ours(args.count, args.size))
        peer = run_peer(case.peer_script, args.count, args.size)
        for operation, seconds in ours.items():
            ours_rate = args.count / seconds
            peer_rate = args.count / peer[operation]
            print(
                f"{case.name:<10} {operation:<10} {ours_rate:>10.0f} {peer_rate:>10.0f} "
                f"{ours_rate / peer_rate:>7.1f}x  {case.peer_name}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
