"""Drivers for the node harnesses under tests/js (libsignal-node 6.0.0's session cipher, and the
JSON-lines pipe the group harness shares), and helpers that turn node's bundles into ours and back.
Shared by the interop tests and bench/signal_protocol.py."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any, Self

from mautrix_whatsapp.whatsapp.crypto.keys import with_key_type
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle, PreKeyRecord, SignedPreKeyRecord
from mautrix_whatsapp.whatsapp.store import MemorySignalStore


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class NodeHarness:
    """One long-lived node process under tests/js; one JSON request and one answer per line.

    Answers carry ``"ok": true`` or ``"ok": false`` and an ``"error"``, which fails the test.
    """

    script = ""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            ["node", self.script],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the node harness exited"
        answer: dict[str, Any] = json.loads(line)
        assert answer.pop("ok"), answer.get("error")
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class GroupHarness(NodeHarness):
    """Baileys' group cipher on libsignal-node (tests/js/signal_group.mjs)."""

    script = "signal_group.mjs"


class SessionHarness(NodeHarness):
    """libsignal-node's 1:1 session cipher (tests/js/signal_session.mjs)."""

    script = "signal_session.mjs"

    def init(self, party: str, prekey: bool = True) -> PreKeyBundle:
        return bundle_from_node(self.call("init", party=party, prekey=prekey)["bundle"])

    def bundle(self, party: str, prekey: bool = True) -> PreKeyBundle:
        return bundle_from_node(self.call("bundle", party=party, prekey=prekey)["bundle"])

    def process_bundle(self, party: str, peer: SignalAddress, bundle: PreKeyBundle) -> None:
        self.call(
            "process_bundle",
            party=party,
            name=peer.name,
            device=peer.device,
            bundle=bundle_to_node(bundle),
        )

    def encrypt(
        self, party: str, peer: SignalAddress, plaintexts: list[bytes]
    ) -> list[tuple[str, bytes]]:
        answer = self.call(
            "encrypt",
            party=party,
            name=peer.name,
            device=peer.device,
            plaintexts=[b64(p) for p in plaintexts],
        )
        return [(m["type"], unb64(m["body"])) for m in answer["messages"]]

    def decrypt(
        self, party: str, peer: SignalAddress, messages: list[tuple[str, bytes]]
    ) -> list[bytes | str]:
        """Plaintexts, or the error name for messages libsignal-node refused."""
        answer = self.call(
            "decrypt",
            party=party,
            name=peer.name,
            device=peer.device,
            messages=[{"type": t, "body": b64(body)} for t, body in messages],
        )
        return [
            unb64(r["plaintext"]) if "plaintext" in r else str(r["error"])
            for r in answer["results"]
        ]


def bundle_from_node(data: dict[str, Any]) -> PreKeyBundle:
    pre_key = data.get("preKey")
    return PreKeyBundle(
        registration_id=data["registrationId"],
        device_id=0,
        identity_key=unb64(data["identityKey"]),
        signed_pre_key_id=data["signedPreKey"]["keyId"],
        signed_pre_key=unb64(data["signedPreKey"]["publicKey"]),
        signed_pre_key_signature=unb64(data["signedPreKey"]["signature"]),
        pre_key_id=pre_key["keyId"] if pre_key else None,
        pre_key=unb64(pre_key["publicKey"]) if pre_key else None,
    )


def bundle_to_node(bundle: PreKeyBundle) -> dict[str, Any]:
    return {
        "registrationId": bundle.registration_id,
        "identityKey": b64(with_key_type(bundle.identity_key)),
        "signedPreKey": {
            "keyId": bundle.signed_pre_key_id,
            "publicKey": b64(with_key_type(bundle.signed_pre_key)),
            "signature": b64(bundle.signed_pre_key_signature),
        },
        "preKey": (
            {"keyId": bundle.pre_key_id, "publicKey": b64(with_key_type(bundle.pre_key))}
            if bundle.pre_key is not None
            else None
        ),
    }


class PyDevice:
    """One device on our side: an in-memory store with a signed pre-key and one-time pre-keys."""

    def __init__(self, address: SignalAddress, pre_keys: int = 10) -> None:
        self.address = address
        self.store = MemorySignalStore.generate()
        self.signed_pre_key = SignedPreKeyRecord.generate(self.store.identity_key_pair, 1)
        self.store.signed_pre_keys[1] = self.signed_pre_key.serialize()
        self.unused = list(range(1, pre_keys + 1))
        for key_id in self.unused:
            self.store.pre_keys[key_id] = PreKeyRecord.generate(key_id).serialize()

    def bundle(self, prekey: bool = True) -> PreKeyBundle:
        pre_key = None
        if prekey:
            pre_key = PreKeyRecord.deserialize(self.store.pre_keys[self.unused.pop(0)])
        return PreKeyBundle.from_records(
            self.store.registration_id,
            self.address.device,
            self.store.identity_key_pair,
            self.signed_pre_key,
            pre_key,
        )

    def cipher(self, peer: SignalAddress) -> SessionCipher:
        return SessionCipher(self.store, peer)

    async def start_session(self, peer: SignalAddress, bundle: PreKeyBundle) -> None:
        await SessionBuilder(self.store, peer).process_bundle(bundle)
