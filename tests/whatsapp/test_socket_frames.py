"""The sans-IO frame codec: 3-byte length prefixes over arbitrary chunking."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.socket import (
    FRAME_MAX_SIZE,
    FrameDecoder,
    FrameTooLargeError,
    SocketError,
    encode_frame,
)
from mautrix_whatsapp.whatsapp.socket.framesocket import connection_header

PAYLOADS = [b"", b"a", b"\x00\x01\x02", bytes(range(256)) * 3, b"\xff" * 70_000, b"end"]
STREAM = b"".join(encode_frame(p) for p in PAYLOADS)


def test_encode_frame_prefixes_big_endian_length() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x03abc"
    assert encode_frame(b"\x01" * 0x010203)[:3] == b"\x01\x02\x03"
    assert encode_frame(b"") == b"\x00\x00\x00"


def test_one_chunk_many_frames() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(STREAM) == PAYLOADS
    assert decoder.pending == 0


def test_split_at_every_byte_boundary() -> None:
    """Two chunks, cut at every position of a stream of several frames."""
    small = [b"", b"x", b"hello", bytes(range(40)), b"", b"tail"]
    stream = b"".join(encode_frame(p) for p in small)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        frames = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert frames == small, cut
        assert decoder.pending == 0


def test_byte_by_byte() -> None:
    decoder = FrameDecoder()
    frames: list[bytes] = []
    for i in range(len(STREAM)):
        frames += decoder.feed(STREAM[i : i + 1])
    assert frames == PAYLOADS
    assert decoder.pending == 0


def test_partial_frame_is_buffered_until_complete() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(b"0123456789")
    assert decoder.feed(frame[:2]) == []
    assert decoder.pending == 2
    assert decoder.feed(frame[2:7]) == []
    assert decoder.feed(frame[7:] + frame[:4]) == [b"0123456789"]
    assert decoder.pending == 4


def test_incoming_length_over_limit_raises_typed_error_before_buffering() -> None:
    decoder = FrameDecoder(max_frame_size=100)
    assert decoder.feed(encode_frame(b"x" * 100)) == [b"x" * 100]
    with pytest.raises(FrameTooLargeError) as info:
        decoder.feed(b"\x00\x00\x65")  # 101: only the prefix has arrived
    assert info.value.incoming and info.value.size == 101 and info.value.limit == 100
    # The stream position is lost: the decoder refuses anything further.
    with pytest.raises(SocketError):
        decoder.feed(encode_frame(b"ok"))


def test_frames_before_an_oversized_prefix_come_out_first() -> None:
    decoder = FrameDecoder(max_frame_size=100)
    got: list[bytes] = []
    with pytest.raises(FrameTooLargeError):
        for frame in decoder.frames(encode_frame(b"a") + encode_frame(b"b") + b"\x00\x00\x65"):
            got.append(frame)
    assert got == [b"a", b"b"]
    with pytest.raises(SocketError):
        decoder.feed(b"")


def test_outgoing_frame_over_limit() -> None:
    with pytest.raises(FrameTooLargeError) as info:
        encode_frame(b"x" * 11, max_frame_size=10)
    assert not info.value.incoming and info.value.size == 11
    assert len(encode_frame(b"x" * 10, max_frame_size=10)) == 13


def test_default_limit_is_largest_three_byte_length() -> None:
    assert FRAME_MAX_SIZE == 2**24 - 1
    with pytest.raises(FrameTooLargeError):
        encode_frame(bytes(2**24))
    # A maximal prefix is legal and simply waits for the body.
    decoder = FrameDecoder()
    assert decoder.feed(b"\xff\xff\xff" + b"\x00" * 10) == []
    with pytest.raises(ValueError):
        FrameDecoder(max_frame_size=2**24)


def test_connection_header_with_edge_routing() -> None:
    assert connection_header() == b"WA\x06\x03"
    assert connection_header(b"\x08\x02") == b"ED\x00\x01\x00\x00\x02\x08\x02WA\x06\x03"


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(payloads=st.lists(st.binary(max_size=300), max_size=6), data=st.data())
def test_roundtrip_under_arbitrary_chunking(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()
    frames = [f for chunk in data.draw(chunked(stream)) for f in decoder.feed(chunk)]
    assert frames == payloads
    assert decoder.pending == 0


def _feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> None:
    try:
        for chunk in chunks:
            for frame in decoder.feed(chunk):
                assert len(frame) <= decoder.max_frame_size
    except SocketError:
        pass  # the decoder's own typed errors are the only acceptable failure


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=64), max_size=10),
    limit=st.sampled_from([0, 1, 16, 300, FRAME_MAX_SIZE]),
)
def test_fuzz_random_bytes(chunks: list[bytes], limit: int) -> None:
    _feed_all(FrameDecoder(max_frame_size=limit), chunks)


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=40), min_size=1, max_size=5),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    data=st.data(),
)
def test_fuzz_mutated_streams(
    payloads: list[bytes], flips: list[tuple[int, int]], data: st.DataObject
) -> None:
    stream = bytearray(b"".join(encode_frame(p) for p in payloads))
    for position, value in flips:
        stream[position % len(stream)] = value
    _feed_all(FrameDecoder(max_frame_size=64), data.draw(chunked(bytes(stream))))
