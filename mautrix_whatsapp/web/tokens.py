"""Short-lived bearer tokens bound to one Matrix user (login-web links and the page's sessions).

Tokens are kept by their SHA-256 digest, so looking one up compares digests, not the secret, and
the store holds nothing that would authenticate if it leaked.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from mautrix.types import UserID


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """Random tokens that expire after ``lifetime`` seconds."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._tokens: dict[bytes, tuple[UserID, float]] = {}

    def issue(self, user_id: UserID) -> str:
        self._prune()
        token = secrets.token_urlsafe(32)
        self._tokens[digest(token)] = (user_id, time.monotonic() + self.lifetime)
        return token

    def check(self, token: str) -> UserID | None:
        """The token's user while it is valid."""
        entry = self._tokens.get(digest(token))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def take(self, token: str) -> UserID | None:
        """Like :meth:`check`, and the token is spent (one use only)."""
        entry = self._tokens.pop(digest(token), None)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, expires) in self._tokens.items() if expires < now]:
            del self._tokens[key]
