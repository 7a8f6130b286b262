"""WhatsApp plaintext padding: pad on send, strip and validate on receive."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.signal.errors import InvalidMessageError
from mautrix_whatsapp.whatsapp.signal.padding import (
    MAX_PAD,
    MIN_PAD,
    InvalidPaddingError,
    pad_message,
    unpad_message,
)


def test_pad_appends_n_bytes_of_n() -> None:
    assert pad_message(b"hello", 3) == b"hello\x03\x03\x03"
    assert pad_message(b"", 1) == b"\x01"


def test_random_pad_lengths_stay_in_range_and_vary() -> None:
    lengths = {len(pad_message(b"x")) - 1 for _ in range(400)}
    assert lengths <= set(range(MIN_PAD, MAX_PAD + 1))
    # 400 draws from 15 values: all of them show up except with negligible probability.
    assert len(lengths) == MAX_PAD


@pytest.mark.parametrize("bad", [0, -1, 256])
def test_pad_rejects_impossible_lengths(bad: int) -> None:
    with pytest.raises(ValueError):
        pad_message(b"x", bad)


def test_unpad_strips() -> None:
    assert unpad_message(b"hello\x03\x03\x03") == b"hello"
    assert unpad_message(b"\x02\x02") == b""


@pytest.mark.parametrize(
    ("padded", "reason"),
    [
        (b"", "empty"),
        (b"hello\x00", "zero"),
        (b"\x05\x05", "exceeds"),
        (b"hello\x01\x03\x03", "not all equal"),
        (b"abc\x02", "not all equal"),
    ],
)
def test_unpad_rejects_invalid_padding(padded: bytes, reason: str) -> None:
    with pytest.raises(InvalidPaddingError, match=reason) as caught:
        unpad_message(padded)
    # Callers catch one Signal error type per stanza (and answer with a retry receipt).
    assert isinstance(caught.value, InvalidMessageError)


@settings(max_examples=200)
@given(plaintext=st.binary(max_size=300), pad_length=st.integers(MIN_PAD, 255))
def test_round_trip_explicit_length(plaintext: bytes, pad_length: int) -> None:
    padded = pad_message(plaintext, pad_length)
    assert len(padded) == len(plaintext) + pad_length
    assert unpad_message(padded) == plaintext


@settings(max_examples=100)
@given(plaintext=st.binary(max_size=300))
def test_round_trip_random_length(plaintext: bytes) -> None:
    assert unpad_message(pad_message(plaintext)) == plaintext


@settings(max_examples=200)
@given(data=st.binary(max_size=40))
def test_unpad_never_raises_anything_but_invalid_padding(data: bytes) -> None:
    try:
        stripped = unpad_message(data)
    except InvalidPaddingError:
        return
    n = data[-1]
    assert data == stripped + bytes([n]) * n
