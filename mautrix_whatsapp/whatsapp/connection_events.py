"""What ``<stream:error>``, ``<failure>`` and ``<ib>`` from the server mean for the connection.

Pure classification (as whatsmeow's ``connectionevents.go`` does it): each returns the event to
emit and what the client must do next, so the mapping is testable without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from .binary.node import Node
from .events import (
    ClientOutdated,
    ConnectFailure,
    ConnectFailureReason,
    Disconnected,
    LoggedOut,
    OfflineSyncCompleted,
    OfflineSyncPreview,
    StreamError,
    StreamReplaced,
    TemporaryBan,
)


class Action(Enum):
    """What the client does after the server's verdict."""

    RECONNECT_NOW = "reconnect-now"
    """515: the server asks for a fresh connection (after pairing)."""
    RECONNECT = "reconnect"
    """Transient trouble: reconnect with backoff."""
    STOP = "stop"
    """Permanent: stay disconnected."""
    LOGOUT = "logout"
    """Unlinked: delete the stored identity and stay disconnected."""


@dataclass(frozen=True)
class Verdict:
    event: object | None
    action: Action


def _int_attr(node: Node, key: str, default: int = 0) -> int:
    try:
        return int(str(node.attrs.get(key, default)))
    except ValueError:
        return default


def classify_stream_error(node: Node) -> Verdict:
    """``<stream:error code>`` with an optional ``<conflict type>`` child."""
    code = str(node.attrs.get("code", ""))
    conflict = node.get_optional_child_by_tag("conflict")
    conflict_type = str(conflict.attrs.get("type", "")) if conflict is not None else ""
    if code == "515":
        return Verdict(None, Action.RECONNECT_NOW)
    if code == "401" and conflict_type == "device_removed":
        return Verdict(
            LoggedOut(on_connect=False, reason=ConnectFailureReason.LOGGED_OUT), Action.LOGOUT
        )
    if conflict_type == "replaced":
        return Verdict(StreamReplaced(), Action.STOP)
    if code == "503":
        return Verdict(Disconnected(code=503), Action.RECONNECT)
    # Unknown stream errors: whatsmeow reports them and lets the reconnect loop retry.
    return Verdict(StreamError(code=code or conflict_type or "unknown"), Action.RECONNECT)


def classify_failure(node: Node) -> Verdict:
    """``<failure reason [code expire message]>``, sent instead of ``<success>``."""
    number = _int_attr(node, "reason", 400)
    try:
        reason = ConnectFailureReason(number)
    except ValueError:
        return Verdict(
            ConnectFailure(reason=number, message=str(node.attrs.get("message", ""))), Action.STOP
        )
    if reason.is_logged_out:
        return Verdict(LoggedOut(on_connect=True, reason=reason), Action.LOGOUT)
    if reason is ConnectFailureReason.TEMP_BANNED:
        ban = TemporaryBan(
            code=_int_attr(node, "code"), expire=timedelta(seconds=_int_attr(node, "expire"))
        )
        return Verdict(ban, Action.STOP)
    if reason is ConnectFailureReason.CLIENT_OUTDATED:
        return Verdict(ClientOutdated(), Action.STOP)
    if reason.is_transient:
        return Verdict(Disconnected(code=int(reason)), Action.RECONNECT)
    return Verdict(
        ConnectFailure(reason=int(reason), message=str(node.attrs.get("message", ""))), Action.STOP
    )


def parse_ib(node: Node) -> list[object]:
    """Events in an ``<ib>`` (offline sync progress); other children are ignored here."""
    found: list[object] = []
    for child in node.children:
        if child.tag == "offline_preview":
            found.append(
                OfflineSyncPreview(
                    total=_int_attr(child, "count"),
                    messages=_int_attr(child, "message"),
                    notifications=_int_attr(child, "notification"),
                    receipts=_int_attr(child, "receipt"),
                    app_data_changes=_int_attr(child, "appdata"),
                )
            )
        elif child.tag == "offline":
            found.append(OfflineSyncCompleted(count=_int_attr(child, "count")))
    return found
