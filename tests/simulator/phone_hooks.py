"""Hooks for what the phone does with its own companions' messages.

A companion's peer messages to its phone (``category="peer"``: app-state key requests, peer data
operations such as on-demand history) are decrypted by ``phone_inbox``; feature modules that
answer them register a hook here instead of editing the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from .accounts import Account
from .state import ServerState

OwnDeviceHook = Callable[
    [ServerState, Account, int, wa_e2e_pb2.Message], Coroutine[Any, Any, None]
]
"""``(state, account, sending device id, message)``, called for each message one of the
account's own companions sent that the phone could read."""


def own_device_hooks(state: ServerState) -> list[OwnDeviceHook]:
    hooks = state.extra.get("own_device_hooks")
    if not isinstance(hooks, list):
        hooks = state.extra["own_device_hooks"] = []
    return hooks
