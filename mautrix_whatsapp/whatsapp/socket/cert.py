"""Verification of the server's Noise certificate chain, check for check as whatsmeow does it.

The server proves its static key with a chain: the root key (WhatsApp's, or a test server's)
signs the intermediate certificate's details; the intermediate's key signs the leaf's; the leaf
names the static key the server used in the handshake. Signatures are XEdDSA over the serialized
details.
"""

from __future__ import annotations

import hmac
import time

from google.protobuf.message import DecodeError

from ..crypto import xeddsa
from ..proto.wa_handshake_pb2 import CertChain
from .errors import (
    CertificateExpiredError,
    CertificateMalformedError,
    CertificateNotYetValidError,
    IntermediateIssuerError,
    LeafIssuerError,
    LeafKeyMismatchError,
    LeafSignatureError,
    RootSignatureError,
)

WA_CERT_PUB_KEY = bytes.fromhex("142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b")
"""WhatsApp's root key, which signs the intermediate certificate (whatsmeow ``WACertPubKey``)."""
WA_CERT_ISSUER_SERIAL = 0
"""The root's serial, which the intermediate must name as its issuer."""

Details = CertChain.NoiseCertificate.Details


def _parse_details(raw: bytes, which: str) -> Details:
    details = Details()
    try:
        details.ParseFromString(raw)
    except DecodeError as e:
        raise CertificateMalformedError(f"cannot decode the {which} details") from e
    return details


def _check_validity(details: Details, which: str, now: float) -> None:
    if now < details.notBefore:
        raise CertificateNotYetValidError(f"{which} is valid from {details.notBefore}, now {now}")
    if now > details.notAfter:
        raise CertificateExpiredError(f"{which} expired at {details.notAfter}, now {now}")


def verify_server_cert(
    cert_chain: bytes,
    server_static: bytes,
    root_public_key: bytes = WA_CERT_PUB_KEY,
    *,
    now: float | None = None,
) -> None:
    """Raise a :class:`CertificateError` subclass unless ``cert_chain`` vouches for the key.

    ``cert_chain`` is the decrypted serialized ``CertChain``, ``server_static`` the decrypted
    32-byte server static key, ``now`` a Unix time (default: the clock).
    """
    current = time.time() if now is None else now
    chain = CertChain()
    try:
        chain.ParseFromString(cert_chain)
    except DecodeError as e:
        raise CertificateMalformedError("cannot decode the certificate chain") from e
    intermediate, leaf = chain.intermediate, chain.leaf
    if not (
        chain.HasField("intermediate")
        and chain.HasField("leaf")
        and intermediate.HasField("details")
        and intermediate.HasField("signature")
        and leaf.HasField("details")
        and leaf.HasField("signature")
    ):
        raise CertificateMalformedError("missing parts of the certificate chain")
    if len(intermediate.signature) != xeddsa.SIGNATURE_SIZE:
        raise CertificateMalformedError(
            f"intermediate signature is {len(intermediate.signature)} bytes, expected 64"
        )
    if len(leaf.signature) != xeddsa.SIGNATURE_SIZE:
        raise CertificateMalformedError(
            f"leaf signature is {len(leaf.signature)} bytes, expected 64"
        )
    if not xeddsa.verify(root_public_key, intermediate.details, intermediate.signature):
        raise RootSignatureError("the intermediate certificate's signature is invalid")
    intermediate_details = _parse_details(intermediate.details, "intermediate")
    if intermediate_details.issuerSerial != WA_CERT_ISSUER_SERIAL:
        raise IntermediateIssuerError(
            f"issuer serial {intermediate_details.issuerSerial}, expected {WA_CERT_ISSUER_SERIAL}"
        )
    if len(intermediate_details.key) != 32:
        raise CertificateMalformedError(
            f"intermediate key is {len(intermediate_details.key)} bytes, expected 32"
        )
    if not xeddsa.verify(intermediate_details.key, leaf.details, leaf.signature):
        raise LeafSignatureError("the leaf certificate's signature is invalid")
    _check_validity(intermediate_details, "intermediate certificate", current)
    leaf_details = _parse_details(leaf.details, "leaf")
    if leaf_details.issuerSerial != intermediate_details.serial:
        raise LeafIssuerError(
            f"issuer serial {leaf_details.issuerSerial}, expected {intermediate_details.serial}"
        )
    if not hmac.compare_digest(leaf_details.key, server_static):
        raise LeafKeyMismatchError("the leaf certifies a different key")
    _check_validity(leaf_details, "leaf certificate", current)
