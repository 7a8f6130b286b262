"""The simulator's Noise certificate chain: a test root, an intermediate and a leaf.

WhatsApp's server proves its static Noise key with a two-level chain (see ``cert.py`` in the client
socket package): the root key signs the intermediate's details, the intermediate key signs the
leaf's, and the leaf names the server's static key. Every knob here exists so that tests can build
the one broken chain they want and check the client refuses it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mautrix_whatsapp.whatsapp.crypto import KeyPair, xeddsa
from mautrix_whatsapp.whatsapp.proto.wa_handshake_pb2 import CertChain

ROOT_SERIAL = 0
"""The intermediate's issuer serial that clients require (whatsmeow ``WACertIssuerSerial``)."""
DEFAULT_INTERMEDIATE_SERIAL = 1
DEFAULT_LEAF_SERIAL = 2
DEFAULT_LIFETIME = 365 * 24 * 3600
DEFAULT_BACKDATE = 3600
"""Certificates start an hour in the past so small clock skews never make them "not yet valid"."""


def generate_root() -> KeyPair:
    """A fresh test root key pair; its public half is what the client is configured to trust."""
    return KeyPair.generate()


def issue_certificate(
    signer: KeyPair,
    *,
    key: bytes,
    serial: int,
    issuer_serial: int,
    not_before: int,
    not_after: int,
    corrupt_signature: bool = False,
) -> CertChain.NoiseCertificate:
    """Build one certificate: serialized details plus an XEdDSA signature by ``signer``.

    ``corrupt_signature`` flips a bit of the signature's ``s`` half after signing.
    """
    details = CertChain.NoiseCertificate.Details(
        serial=serial,
        issuerSerial=issuer_serial,
        key=key,
        notBefore=not_before,
        notAfter=not_after,
    ).SerializeToString()
    signature = xeddsa.sign(signer.private, details)
    if corrupt_signature:
        signature = signature[:40] + bytes([signature[40] ^ 0x01]) + signature[41:]
    return CertChain.NoiseCertificate(details=details, signature=signature)


def issue_chain(
    root: KeyPair,
    server_static_public: bytes,
    *,
    intermediate_key: KeyPair | None = None,
    intermediate_signer: KeyPair | None = None,
    intermediate_serial: int = DEFAULT_INTERMEDIATE_SERIAL,
    intermediate_issuer_serial: int = ROOT_SERIAL,
    intermediate_not_before: int | None = None,
    intermediate_not_after: int | None = None,
    leaf_signer: KeyPair | None = None,
    leaf_key: bytes | None = None,
    leaf_serial: int = DEFAULT_LEAF_SERIAL,
    leaf_issuer_serial: int | None = None,
    leaf_not_before: int | None = None,
    leaf_not_after: int | None = None,
    now: int | None = None,
) -> bytes:
    """Return a serialized ``CertChain`` for ``server_static_public`` (32 bytes).

    With only the two positional arguments the chain is valid: the intermediate (issuer serial 0)
    is signed by ``root``, the leaf (issuer = intermediate serial, key = the server static key) by
    the intermediate, and both are valid from an hour ago for a year. Each keyword produces one
    bad variant:

    - ``intermediate_signer``: sign the intermediate with another key (wrong root).
    - ``intermediate_issuer_serial``: anything but 0 is rejected.
    - ``leaf_signer``: sign the leaf with a key other than the intermediate's.
    - ``leaf_key``: certify a key other than the server's static key.
    - ``leaf_issuer_serial``: name an issuer other than the intermediate.
    - ``*_not_before`` / ``*_not_after`` (Unix seconds): expired or not-yet-valid certificates.
    """
    current = int(time.time()) if now is None else now
    default_start = current - DEFAULT_BACKDATE
    default_end = current + DEFAULT_LIFETIME
    intermediate = intermediate_key or KeyPair.generate()
    intermediate_cert = issue_certificate(
        intermediate_signer or root,
        key=intermediate.public,
        serial=intermediate_serial,
        issuer_serial=intermediate_issuer_serial,
        not_before=default_start if intermediate_not_before is None else intermediate_not_before,
        not_after=default_end if intermediate_not_after is None else intermediate_not_after,
    )
    leaf_cert = issue_certificate(
        leaf_signer or intermediate,
        key=server_static_public if leaf_key is None else leaf_key,
        serial=leaf_serial,
        issuer_serial=intermediate_serial if leaf_issuer_serial is None else leaf_issuer_serial,
        not_before=default_start if leaf_not_before is None else leaf_not_before,
        not_after=default_end if leaf_not_after is None else leaf_not_after,
    )
    return CertChain(leaf=leaf_cert, intermediate=intermediate_cert).SerializeToString()


@dataclass(frozen=True, repr=False)
class ServerCredentials:
    """What a simulated server needs for the handshake: its static key and the chain proving it."""

    root: KeyPair
    static: KeyPair
    cert_chain: bytes

    @property
    def root_public_key(self) -> bytes:
        """The 32-byte key a client must be configured with to accept this server."""
        return self.root.public

    def __repr__(self) -> str:
        root, static = self.root.public.hex(), self.static.public.hex()
        return f"ServerCredentials(root={root}, static={static})"


def make_server_credentials(
    root: KeyPair | None = None, static: KeyPair | None = None
) -> ServerCredentials:
    """A root (new unless given), a server static key (new unless given) and a valid chain."""
    root = root or generate_root()
    static = static or KeyPair.generate()
    return ServerCredentials(root=root, static=static, cert_chain=issue_chain(root, static.public))
