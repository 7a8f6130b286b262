"""XEdDSA against libsignal-node: each side verifies the other's signatures, and rejects tampering.

One node process (``tests/js/xeddsa.mjs``) handles the whole batch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.crypto import KeyPair, xeddsa
from mautrix_whatsapp.whatsapp.crypto.keys import with_key_type
from tests.processes import run_node_json

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

MESSAGES = [b"\x00", b"noise certificate details", os.urandom(32), os.urandom(1000)]


def _flip(data: bytes, index: int, mask: int) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def tamperings(msg: bytes, sig: bytes) -> dict[str, tuple[bytes, bytes]]:
    """The same four tamperings the harness applies."""
    return {
        "message": (_flip(msg, 0, 0x01), sig),
        "R": (msg, _flip(sig, 5, 0x10)),
        "s": (msg, _flip(sig, 40, 0x01)),
        "sign bit": (msg, _flip(sig, 63, 0x80)),
    }


def run_harness(harness_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = run_node_json(harness_dir, "xeddsa.mjs", request, timeout=60)
    return result


def test_xeddsa_interop_with_libsignal_node(node_harness_dir: Path) -> None:
    # Ours, to be checked by libsignal: each valid signature plus its four tampered variants.
    ours: list[tuple[str, bytes, bytes, bytes]] = []  # (kind, public, msg, sig)
    for msg in MESSAGES:
        pair = KeyPair.generate()
        sig = xeddsa.sign(pair.private, msg)
        assert len(sig) == 64 and xeddsa.verify(pair.public, msg, sig)
        ours.append(("valid", pair.public, msg, sig))
        ours += [(kind, pair.public, m, s) for kind, (m, s) in tamperings(msg, sig).items()]
    # Theirs: libsignal-generated keys, and libsignal signing with keys we generated.
    own_keys = [KeyPair.generate() for _ in range(2)]
    sign_requests = [{"priv": None, "msg": msg.hex()} for msg in MESSAGES] + [
        {"priv": pair.private.hex(), "msg": msg.hex()}
        for pair, msg in zip(own_keys, MESSAGES[1:3], strict=True)
    ]

    result = run_harness(
        node_harness_dir,
        {
            "verify": [
                # libsignal's preferred 33-byte form for half of them, bare 32 bytes for the rest
                {
                    "pub": (with_key_type(pub) if i % 2 else pub).hex(),
                    "msg": m.hex(),
                    "sig": s.hex(),
                }
                for i, (_, pub, m, s) in enumerate(ours)
            ],
            "sign": sign_requests,
        },
    )

    assert len(result["verify"]) == len(ours)
    for (kind, *_), verdict in zip(ours, result["verify"], strict=True):
        assert verdict is (kind == "valid"), (kind, verdict)

    assert len(result["sign"]) == len(sign_requests)
    for request, signed in zip(sign_requests, result["sign"], strict=True):
        public = bytes.fromhex(signed["pub"])
        msg, sig = bytes.fromhex(signed["msg"]), bytes.fromhex(signed["sig"])
        assert len(public) == 33 and public[0] == 5
        if request["priv"] is not None:
            # libsignal derives the same public key from our private key.
            assert public == with_key_type(
                KeyPair.from_private(bytes.fromhex(request["priv"])).public
            )
        assert signed["valid"] is True
        assert xeddsa.verify(public, msg, sig)
        assert xeddsa.verify(public[1:], msg, sig)
        expected = tamperings(msg, sig)
        assert [t["kind"] for t in signed["tampered"]] == list(expected)
        for tampered in signed["tampered"]:
            t_msg, t_sig = bytes.fromhex(tampered["msg"]), bytes.fromhex(tampered["sig"])
            assert (t_msg, t_sig) == expected[tampered["kind"]]
            assert tampered["valid"] is False, tampered["kind"]
            assert not xeddsa.verify(public, t_msg, t_sig), tampered["kind"]


def test_verify_or_raise() -> None:
    pair = KeyPair.generate()
    sig = xeddsa.sign(pair.private, b"msg")
    xeddsa.verify_or_raise(pair.public, b"msg", sig, "test")
    with pytest.raises(xeddsa.InvalidSignatureError):
        xeddsa.verify_or_raise(pair.public, b"msh", sig, "test")
    # Malformed inputs are a failed verification, not a crash.
    assert not xeddsa.verify(pair.public, b"msg", sig[:63])
    assert not xeddsa.verify(pair.public[:31], b"msg", sig)
    assert not xeddsa.verify(b"\x06" + pair.public, b"msg", sig)
