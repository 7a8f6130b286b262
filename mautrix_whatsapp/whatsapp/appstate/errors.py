"""Typed app-state errors: what went wrong with a collection, so the sync loop can pick a cure.

A MAC or hash mismatch means our copy of the collection (or the server's answer) can't be
trusted: the collection is fetched again from a full snapshot. A missing key means waiting for
our phone to share it. Malformed answers (bad protobuf, truncated values) are errors too, never
crashes.
"""

from __future__ import annotations


class AppStateError(Exception):
    """Base class of everything this package raises."""


class MalformedAppStateError(AppStateError):
    """The server's answer or a blob does not parse (protobuf, JSON index, value layout)."""


class KeyNotFoundError(AppStateError):
    """A record or patch is encrypted with an app-state key we have not been given yet."""

    def __init__(self, key_id: bytes) -> None:
        super().__init__(f"app state key {key_id.hex()} not found")
        self.key_id = key_id


class MACMismatchError(AppStateError):
    """A MAC or the LTHash did not verify: our state or the server's data is corrupt."""


class MismatchingLTHashError(MACMismatchError):
    """The state hash after applying a patch or snapshot disagrees with its snapshot MAC."""


class MismatchingPatchMACError(MACMismatchError):
    """A patch's own MAC over its value MACs is wrong."""


class MismatchingContentMACError(MACMismatchError):
    """A record's value MAC (over its encrypted content) is wrong."""


class MismatchingIndexMACError(MACMismatchError):
    """A record's index MAC does not match its decrypted index."""


class MissingKeysError(KeyNotFoundError):
    """A collection uses keys we lack (all of them listed); they are requested from the phone."""

    def __init__(self, name: str, key_ids: list[bytes]) -> None:
        super().__init__(key_ids[0] if key_ids else b"")
        self.args = (f"{name} needs app state keys {', '.join(k.hex() for k in key_ids)}",)
        self.name = name
        self.key_ids = key_ids


class NoAppStateKeyError(AppStateError):
    """We have no app-state key at all, so we cannot encrypt a patch of our own."""


class AppStateUpdateError(AppStateError):
    """The server refused a request about a collection (``<collection type="error">``)."""

    def __init__(self, name: str, code: int | None, text: str) -> None:
        super().__init__(f"app state request for {name} refused: {code} {text}")
        self.name = name
        self.code = code
