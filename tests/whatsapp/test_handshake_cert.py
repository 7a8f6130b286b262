"""The certificate-chain check, one broken link at a time (no network)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.crypto import KeyPair
from mautrix_whatsapp.whatsapp.crypto.keys import with_key_type
from mautrix_whatsapp.whatsapp.proto.wa_handshake_pb2 import CertChain
from mautrix_whatsapp.whatsapp.socket import (
    WA_CERT_PUB_KEY,
    CertificateError,
    CertificateErrorReason,
    CertificateExpiredError,
    CertificateMalformedError,
    CertificateNotYetValidError,
    IntermediateIssuerError,
    LeafIssuerError,
    LeafKeyMismatchError,
    LeafSignatureError,
    RootSignatureError,
    verify_server_cert,
)
from tests.simulator.certs import issue_certificate, issue_chain

ROOT = KeyPair.generate()
STATIC = KeyPair.generate()
NOW = int(time.time())


def test_valid_chain_passes() -> None:
    verify_server_cert(issue_chain(ROOT, STATIC.public), STATIC.public, ROOT.public)
    # The root key may also be given in libsignal's 33-byte form.
    verify_server_cert(issue_chain(ROOT, STATIC.public), STATIC.public, with_key_type(ROOT.public))


def test_default_root_is_whatsapps() -> None:
    assert WA_CERT_PUB_KEY.hex() == (
        "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
    )
    with pytest.raises(RootSignatureError):
        verify_server_cert(issue_chain(ROOT, STATIC.public), STATIC.public)


BAD_VARIANTS: list[tuple[str, dict[str, Any], type[CertificateError], CertificateErrorReason]] = [
    (
        "signed by another root",
        {"intermediate_signer": KeyPair.generate()},
        RootSignatureError,
        CertificateErrorReason.BAD_ROOT_SIGNATURE,
    ),
    (
        "intermediate issuer serial not 0",
        {"intermediate_issuer_serial": 7},
        IntermediateIssuerError,
        CertificateErrorReason.BAD_INTERMEDIATE_ISSUER,
    ),
    (
        "leaf signed by another key",
        {"leaf_signer": KeyPair.generate()},
        LeafSignatureError,
        CertificateErrorReason.BAD_LEAF_SIGNATURE,
    ),
    (
        "leaf issuer is not the intermediate",
        {"intermediate_serial": 5, "leaf_issuer_serial": 6},
        LeafIssuerError,
        CertificateErrorReason.BAD_LEAF_ISSUER,
    ),
    (
        "leaf key is not the server static key",
        {"leaf_key": KeyPair.generate().public},
        LeafKeyMismatchError,
        CertificateErrorReason.LEAF_KEY_MISMATCH,
    ),
    (
        "intermediate expired",
        {"intermediate_not_before": NOW - 7200, "intermediate_not_after": NOW - 3600},
        CertificateExpiredError,
        CertificateErrorReason.EXPIRED,
    ),
    (
        "leaf expired",
        {"leaf_not_after": NOW - 60},
        CertificateExpiredError,
        CertificateErrorReason.EXPIRED,
    ),
    (
        "leaf not yet valid",
        {"leaf_not_before": NOW + 3600},
        CertificateNotYetValidError,
        CertificateErrorReason.NOT_YET_VALID,
    ),
    (
        "intermediate not yet valid",
        {"intermediate_not_before": NOW + 3600},
        CertificateNotYetValidError,
        CertificateErrorReason.NOT_YET_VALID,
    ),
]


@pytest.mark.parametrize(
    ("variant", "error", "reason"),
    [pytest.param(kw, err, reason, id=name) for name, kw, err, reason in BAD_VARIANTS],
)
def test_bad_chain_is_rejected(
    variant: dict[str, Any], error: type[CertificateError], reason: CertificateErrorReason
) -> None:
    chain = issue_chain(ROOT, STATIC.public, **variant)
    with pytest.raises(error) as info:
        verify_server_cert(chain, STATIC.public, ROOT.public)
    assert info.value.reason is reason
    assert reason.value in str(info.value)


def test_validity_window_uses_injected_clock() -> None:
    chain = issue_chain(ROOT, STATIC.public, now=NOW)
    verify_server_cert(chain, STATIC.public, ROOT.public, now=NOW)
    with pytest.raises(CertificateExpiredError):
        verify_server_cert(chain, STATIC.public, ROOT.public, now=NOW + 400 * 24 * 3600)
    with pytest.raises(CertificateNotYetValidError):
        verify_server_cert(chain, STATIC.public, ROOT.public, now=NOW - 2 * 3600)


def _chain_with(**parts: CertChain.NoiseCertificate) -> bytes:
    return CertChain(**parts).SerializeToString()


def _good_parts() -> tuple[CertChain.NoiseCertificate, CertChain.NoiseCertificate]:
    chain = CertChain.FromString(issue_chain(ROOT, STATIC.public))
    return chain.leaf, chain.intermediate


@pytest.mark.parametrize(
    "chain",
    [
        pytest.param(b"\xff\xff\xff", id="not protobuf"),
        pytest.param(b"", id="empty"),
        pytest.param(_chain_with(leaf=_good_parts()[0]), id="no intermediate"),
        pytest.param(_chain_with(intermediate=_good_parts()[1]), id="no leaf"),
        pytest.param(
            _chain_with(
                leaf=CertChain.NoiseCertificate(details=_good_parts()[0].details),
                intermediate=_good_parts()[1],
            ),
            id="leaf without signature",
        ),
        pytest.param(
            _chain_with(
                leaf=_good_parts()[0],
                intermediate=CertChain.NoiseCertificate(
                    details=_good_parts()[1].details, signature=_good_parts()[1].signature[:63]
                ),
            ),
            id="short intermediate signature",
        ),
    ],
)
def test_malformed_chain(chain: bytes) -> None:
    with pytest.raises(CertificateMalformedError) as info:
        verify_server_cert(chain, STATIC.public, ROOT.public)
    assert info.value.reason is CertificateErrorReason.MALFORMED


def test_intermediate_key_of_wrong_length() -> None:
    intermediate = issue_certificate(
        ROOT, key=b"\x01" * 31, serial=1, issuer_serial=0, not_before=0, not_after=NOW + 999
    )
    chain = _chain_with(leaf=_good_parts()[0], intermediate=intermediate)
    with pytest.raises(CertificateMalformedError):
        verify_server_cert(chain, STATIC.public, ROOT.public)


def test_corrupted_signature_flag() -> None:
    good = issue_certificate(
        ROOT, key=STATIC.public, serial=1, issuer_serial=0, not_before=0, not_after=1
    )
    bad = issue_certificate(
        ROOT,
        key=STATIC.public,
        serial=1,
        issuer_serial=0,
        not_before=0,
        not_after=1,
        corrupt_signature=True,
    )
    assert good.details == bad.details and len(bad.signature) == 64
    chain = _chain_with(leaf=_good_parts()[0], intermediate=bad)
    with pytest.raises(RootSignatureError):
        verify_server_cert(chain, STATIC.public, ROOT.public)
