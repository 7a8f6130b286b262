"""Pairing cryptography of both sides: QR text, pair-success checks, pairing-code key exchange."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp import pair_code
from mautrix_whatsapp.whatsapp.crypto import xeddsa
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.pair import (
    PairClientType,
    PairHMACMismatchError,
    PairProtoError,
    PairSignatureMismatchError,
    device_signature_message,
    make_qr_data,
    process_pair_success,
    qr_timeout,
)
from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2
from tests.simulator.accounts import Account, AccountRegistry
from tests.simulator.pairing import (
    CodePairingError,
    PendingCodePairing,
    Tamper,
    check_device_signature,
    details_of,
    finish_code_pairing,
    primary_hello,
    sign_device_identity,
)
from tests.simulator.qr import parse_qr


def test_qr_text_has_the_url_form_and_round_trips() -> None:
    noise, identity, adv = KeyPair.generate(), KeyPair.generate(), os.urandom(32)
    text = make_qr_data("2@abc", noise.public, identity.public, adv, PairClientType.CHROME)
    assert text.startswith("https://wa.me/settings/linked_devices#2@abc,")
    assert text.endswith(",1")
    scanned = parse_qr(text)
    assert (scanned.ref, scanned.noise_public, scanned.identity_public, scanned.adv_secret) == (
        "2@abc",
        noise.public,
        identity.public,
        adv,
    )
    assert base64.b64encode(adv).decode() in text


def test_qr_timing_is_60_then_20() -> None:
    assert [qr_timeout(i) for i in range(6)] == [60, 20, 20, 20, 20, 20]


def _pair(tamper: Tamper | None = None) -> tuple[Account, KeyPair, bytes, bytes]:
    account = AccountRegistry().create("15551234567")
    companion = KeyPair.generate()
    adv = os.urandom(32)
    container, _ = sign_device_identity(
        account, companion.public, adv, 3, 7, tamper=tamper or Tamper()
    )
    return account, companion, adv, container


def test_good_pair_success_is_countersigned() -> None:
    account, companion, adv, container = _pair()
    result = process_pair_success(container, adv, companion)
    assert result.key_index == 7
    assert result.account_signature_key == account.identity.public
    stored = wa_adv_pb2.ADVSignedDeviceIdentity.FromString(result.account)
    assert stored.accountSignatureKey == account.identity.public
    sent = wa_adv_pb2.ADVSignedDeviceIdentity.FromString(result.self_signed)
    assert not sent.HasField("accountSignatureKey")
    message = device_signature_message(sent.details, companion.public, account.identity.public)
    assert message[:2] == b"\x06\x01"
    assert xeddsa.verify(companion.public, message, sent.deviceSignature)
    # The simulated phone accepts the countersignature too.
    assert check_device_signature(
        result.self_signed,
        companion.public,
        account,
        details_of(container),
    )


def test_hosted_account_pair_success_is_accepted_and_countersigned_06_01() -> None:
    """A hosted phone signs with 06 05 and HMACs 06 05 ‖ identity; we countersign with 06 01."""
    account = AccountRegistry().create("15551234567")
    account.hosted = True
    companion, adv = KeyPair.generate(), os.urandom(32)
    container, _ = sign_device_identity(account, companion.public, adv, 3, 7)
    outer = wa_adv_pb2.ADVSignedDeviceIdentityHMAC.FromString(container)
    assert outer.accountType == wa_adv_pb2.HOSTED
    signed = wa_adv_pb2.ADVSignedDeviceIdentity.FromString(outer.details)
    assert xeddsa.verify(
        account.identity.public,
        b"\x06\x05" + signed.details + companion.public,
        signed.accountSignature,
    )
    result = process_pair_success(container, adv, companion)
    assert result.hosted
    assert check_device_signature(result.self_signed, companion.public, account, signed.details)
    # An E2EE container with the hosted signature (or the other way round) does not pass.
    outer.ClearField("accountType")
    with pytest.raises(PairHMACMismatchError):
        process_pair_success(outer.SerializeToString(), adv, companion)


def test_pair_success_for_another_companion_is_refused() -> None:
    _, _, adv, container = _pair()
    with pytest.raises(PairSignatureMismatchError) as e:
        process_pair_success(container, adv, KeyPair.generate())
    assert (e.value.code, e.value.text) == (401, "signature-mismatch")


def test_bad_hmac_is_refused() -> None:
    _, companion, adv, container = _pair(Tamper(bad_hmac=True))
    with pytest.raises(PairHMACMismatchError) as e:
        process_pair_success(container, adv, companion)
    assert (e.value.code, e.value.text) == (401, "hmac-mismatch")
    # ... and so is a good container with the wrong ADV secret.
    _, companion, adv, container = _pair()
    with pytest.raises(PairHMACMismatchError):
        process_pair_success(container, os.urandom(32), companion)


def test_bad_account_signature_is_refused() -> None:
    _, companion, adv, container = _pair(Tamper(bad_account_signature=True))
    with pytest.raises(PairSignatureMismatchError):
        process_pair_success(container, adv, companion)


def test_garbage_is_a_proto_error() -> None:
    with pytest.raises(PairProtoError) as e:
        process_pair_success(b"\xff\xff\xff", os.urandom(32), KeyPair.generate())
    assert e.value.code == 500


@given(st.binary(min_size=5, max_size=5))
@settings(max_examples=50)
def test_linking_code_is_base32_in_whatsapps_alphabet(raw: bytes) -> None:
    standard = base64.b32encode(raw).decode()
    table = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", pair_code.LINKING_ALPHABET)
    assert pair_code.encode_linking_code(raw) == standard.translate(table)


def test_linking_code_shape() -> None:
    code = pair_code.generate_linking_code()
    assert len(code) == 8 and set(code) <= set(pair_code.LINKING_ALPHABET)
    assert pair_code.format_linking_code("ABCDEFGH") == "ABCD-EFGH"
    assert pair_code.normalize_linking_code("abcd-efgh") == "ABCDEFGH"


def test_code_key_is_pbkdf2_with_131072_rounds() -> None:
    salt = os.urandom(32)
    expected = hashlib.pbkdf2_hmac("sha256", b"ABCDEFGH", salt, 131072, 32)
    assert pair_code.derive_code_key("ABCDEFGH", salt) == expected


@pytest.mark.parametrize(
    ("phone", "digits"),
    [("+1 555 123 4567", "15551234567"), ("+44 (20) 7946-0018", "442079460018")],
)
def test_valid_phone_numbers(phone: str, digits: str) -> None:
    assert pair_code.validate_phone_number(phone) == digits


@pytest.mark.parametrize("phone", ["", "+123456", "0123456789", "+1555abc4567", "1" * 16])
def test_invalid_phone_numbers(phone: str) -> None:
    with pytest.raises(pair_code.InvalidPhoneNumberError):
        pair_code.validate_phone_number(phone)


def _code_exchange(entered: str | None) -> tuple[bytes, pair_code.CompanionFinish]:
    account = AccountRegistry().create("15551234567")
    companion_identity = KeyPair.generate()
    hello = pair_code.CompanionHello.start("+1 555 123 4567")
    pending = PendingCodePairing(
        ref="ref",
        phone=hello.phone,
        wrapped_companion_ephemeral=hello.wrapped_ephemeral,
        noise_public=os.urandom(32),
        platform_id="1",
        platform_display="Chrome (Linux)",
        connection_id=1,
    )
    wrapped_primary = primary_hello(pending, hello.display_code if entered is None else entered)
    finish = pair_code.companion_finish(
        hello,
        companion_identity,
        wrapped_primary,
        account.identity.public,
    )
    phone_secret = finish_code_pairing(
        pending, account, finish.wrapped_key_bundle, companion_identity.public
    )
    return phone_secret, finish


def test_code_pairing_derives_the_same_adv_secret_on_both_sides() -> None:
    phone_secret, finish = _code_exchange(None)
    assert phone_secret == finish.adv_secret
    assert len(phone_secret) == 32


def test_a_wrong_code_fails_on_the_phone() -> None:
    with pytest.raises(CodePairingError):
        _code_exchange("ZZZZ-ZZZZ")


def test_adv_secret_is_rfc5869_hkdf_without_salt() -> None:
    """Spelled out from RFC 5869 (no salt = 32 zero bytes), independent of the helper."""
    import hmac

    eph, ident, adv = os.urandom(32), os.urandom(32), os.urandom(32)
    prk = hmac.digest(b"\x00" * 32, eph + ident + adv, "sha256")
    okm = hmac.digest(prk, b"adv_secret\x01", "sha256")
    assert pair_code.derive_adv_secret(eph, ident, adv) == okm
