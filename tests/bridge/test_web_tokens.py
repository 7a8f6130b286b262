"""The short-lived tokens of login-web links and the login page's sessions."""

from __future__ import annotations

import time

import pytest
from mautrix.types import UserID

from mautrix_whatsapp.web.tokens import TokenStore

ALICE = UserID("@alice:example.com")
BOB = UserID("@bob:example.com")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


def test_tokens_belong_to_their_user_and_expire(clock: Clock) -> None:
    store = TokenStore(600)
    alice, bob = store.issue(ALICE), store.issue(BOB)
    assert alice != bob and len(alice) >= 40
    assert store.check(alice) == ALICE and store.check(bob) == BOB
    assert store.check(alice + "x") is None and store.check("") is None
    clock.now += 599
    assert store.check(alice) == ALICE
    clock.now += 2
    assert store.check(alice) is None and store.take(bob) is None


def test_take_spends_the_token(clock: Clock) -> None:
    store = TokenStore(600)
    token = store.issue(ALICE)
    assert store.take(token) == ALICE
    assert store.take(token) is None and store.check(token) is None


def test_the_store_keeps_digests_only(clock: Clock) -> None:
    store = TokenStore(600)
    token = store.issue(ALICE)
    kept = repr(store.__dict__)
    assert token not in kept
    clock.now += 601
    store.issue(BOB)  # issuing prunes what expired
    assert store.check(token) is None and len(store._tokens) == 1
