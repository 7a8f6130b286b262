"""Random values of every JSON shape, biased towards what the bridge's parsers look at."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "\u202e",
    "💥",
    "a" * 300,
    "!room:example.org",
    "$event",
    "@user:example.org",
    "@whatsapp_15550001111:example.org",
    "mxc://example.org/m",
    "mxc://",
    "geo:",
    "geo:1,2",
    "geo:91,181;u=5",
    "<b>x</b><a href='https://matrix.to/#/@a:b'>a</a>",
    "<mx-reply>x</mx-reply>",
    "+15550001111",
    "15550001111@s.whatsapp.net",
    "120363000000000001@g.us",
    "NaN",
    "-1",
    "1e309",
]


def scalar(rng: random.Random, vocabulary: Sequence[Any] = ()) -> Any:
    """One JSON scalar: None, a bool, an int (some huge), a float, a string, or a word of
    ``vocabulary``."""
    kind = rng.randrange(8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, 2**31, 2**63, -(2**64), rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, float("inf"), float("nan"), rng.random()])
    if kind == 4:
        return rng.choice(ODD_STRINGS)
    if kind == 5:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(12)))
    if vocabulary:
        return rng.choice(vocabulary)
    return rng.choice(ODD_STRINGS)


def value(rng: random.Random, vocabulary: Sequence[Any] = (), depth: int = 2) -> Any:
    """Any JSON value, nested at most ``depth`` deep, keys from ``vocabulary`` too."""
    kind = rng.randrange(6) if depth > 0 else 0
    if kind <= 3:
        return scalar(rng, vocabulary)
    if kind == 4:
        return [value(rng, vocabulary, depth - 1) for _ in range(rng.randrange(4))]
    keys = [k for k in vocabulary if isinstance(k, str)] or ODD_STRINGS
    return {rng.choice(keys): value(rng, vocabulary, depth - 1) for _ in range(rng.randrange(4))}


def maybe(
    rng: random.Random, good: Any, vocabulary: Sequence[Any] = (), p_bad: float = 0.3
) -> Any:
    """Usually ``good``, sometimes any other value in its place."""
    return value(rng, vocabulary) if rng.random() < p_bad else good


def mutate_dict(
    rng: random.Random, base: dict[str, Any], vocabulary: Sequence[Any] = ()
) -> dict[str, Any]:
    """``base`` with a few keys dropped, replaced by any value, or added."""
    out = dict(base)
    for _ in range(rng.randrange(4)):
        action = rng.randrange(3)
        if action == 0 and out:
            del out[rng.choice(list(out))]
        elif action == 1 and out:
            out[rng.choice(list(out))] = value(rng, vocabulary)
        else:
            keys = [k for k in vocabulary if isinstance(k, str)] or ODD_STRINGS
            out[rng.choice(keys)] = value(rng, vocabulary)
    return out


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Bit flips, truncations, insertions, deletions and interesting bytes."""
    wire = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        index = rng.randrange(max(len(wire), 1))
        kind = rng.randrange(5)
        if kind == 0 and wire:
            wire[index] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del wire[index:]
        elif kind == 2:
            wire[index:index] = rng.randbytes(rng.randrange(1, 9))
        elif kind == 3:
            del wire[index : index + rng.randrange(1, 9)]
        elif wire:
            wire[index] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12])
    return bytes(wire)
