"""Fuzzing unmarshal: whatever the bytes, the only exceptions that escape are BinaryError."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.binary import BinaryError, Node, marshal, unmarshal

from .test_binary_codec import nodes

# Bytes that mean something to the decoder: list, dictionary, JID, packed and binary tags.
INTERESTING = [0, 1, 3, 0x7F, 0x80, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, *range(0xF5, 0x100)]


def _try(data: bytes) -> Node | None:
    try:
        return unmarshal(data)
    except BinaryError:
        return None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid encoding with a few bit flips, truncations, insertions, deletions, replacements."""
    wire = bytearray(marshal(draw(nodes)))
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, max(len(wire) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]))
        if kind == "flip" and wire:
            wire[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del wire[index:]
        elif kind == "insert":
            wire[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del wire[index : index + draw(st.integers(1, 8))]
        elif wire:
            wire[index] = draw(st.sampled_from(INTERESTING))
    return bytes(wire)


@settings(max_examples=300, deadline=None)
@given(data=mutated())
def test_mutated_encodings(data: bytes) -> None:
    node = _try(data)
    if node is not None:
        # Whatever decodes is a well-formed node that encodes again.
        assert isinstance(node, Node)
        marshal(node)


@settings(max_examples=100, deadline=None)
@given(data=mutated())
def test_mutated_encodings_compressed(data: bytes) -> None:
    _try(b"\x02" + zlib.compress(data[1:]))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), flag=st.sampled_from([0, 2]))
def test_random_bytes(data: bytes, flag: int) -> None:
    _try(bytes((flag,)) + data)


@settings(max_examples=200, deadline=None)
@given(
    head=st.lists(st.sampled_from(INTERESTING), max_size=40),
    tail=st.binary(max_size=40),
)
def test_tag_soup(head: list[int], tail: bytes) -> None:
    _try(bytes((0, 0xF8, 3, *head)) + tail)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(min_size=1, max_size=300))
def test_mutated_zlib_streams(data: bytes) -> None:
    stream = bytearray(zlib.compress(marshal(Node("v", content=data))[1:]))
    stream[len(stream) // 2] ^= 0x55
    _try(b"\x02" + bytes(stream))
