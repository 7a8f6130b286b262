"""The bridge's config: which keys survive an update, permissions, and typed views of sections."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any, NamedTuple

from mautrix.bridge.config import BaseBridgeConfig
from mautrix.client import Client
from mautrix.types import UserID
from mautrix.util.config import ConfigUpdateHelper, ForbiddenDefault

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class ConfigError(ValueError):
    """A config value has the wrong form; the message names the key."""


def parse_duration(key: str, value: Any) -> float:
    """Seconds from a number or a string like ``60s``, ``1m``, ``500ms``, ``2h``."""
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a duration such as 60s or 1m, not {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(f"{key} must not be negative")
        return float(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ConfigError(f"{key} must be a duration such as 60s or 1m, not {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8001`` for IPv6) → (host, port); ValueError if malformed."""
    text = str(value).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"expected host:port, such as 127.0.0.1:8001, not {value!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


class Permissions(NamedTuple):
    """What one Matrix user may do; each level includes the ones below it."""

    relay: bool
    user: bool
    admin: bool


@dataclass(frozen=True)
class HistorySyncSettings:
    """``bridge.history_sync``: sent to the phone in DeviceProps at pairing time."""

    backfill: bool
    max_initial_conversations: int
    message_count: int
    unread_hours_threshold: int
    request_full_sync: bool
    full_sync_days_limit: int | None
    full_sync_size_mb_limit: int | None
    full_sync_storage_quota_mb: int | None
    dispatch_wait: float

    @property
    def full_sync_limits(self) -> tuple[int, int, int] | None:
        """(days, size MB, storage quota MB), or None unless all three are set: the limits go
        to the phone only together (as mautrix-whatsapp does)."""
        days = self.full_sync_days_limit
        size_mb = self.full_sync_size_mb_limit
        quota_mb = self.full_sync_storage_quota_mb
        if days is None or size_mb is None or quota_mb is None:
            return None
        return days, size_mb, quota_mb


# ---- media requests ----


@dataclass(frozen=True)
class MediaRequestSettings:
    """``bridge.history_sync.media_requests``: asking the phone for backfilled media whose
    file expired (the Go bridge's legacy keys and defaults)."""

    auto_request_media: bool
    request_method: str
    """``immediate`` or ``local_time`` (at ``request_local_time`` minutes after midnight)."""
    request_local_time: int
    max_async_handle: int


MEDIA_REQUEST_METHODS = ("immediate", "local_time")


@dataclass(frozen=True)
class WhatsAppSettings:
    """The ``whatsapp`` section: device naming and the (test-server) connection target."""

    os_name: str
    browser_name: str
    websocket_url: str
    root_public_key: bytes
    tls_ca_file: str | None
    qr_timeout_first: float
    qr_timeout_next: float


@dataclass(frozen=True)
class ProvisioningSettings:
    """The ``provisioning`` section: the API and the web login page."""

    enabled: bool
    prefix: str
    shared_secret: str
    allow_matrix_auth: bool
    public_url: str
    login_token_lifetime: float
    login_session_lifetime: float


NAME_SOURCES = ("full_name", "first_name", "push_name", "business_name", "phone")
"""What a ghost's name can be made from (``bridge.displayname_preference``)."""


@dataclass(frozen=True)
class DisplaynameFormat:
    """How ghosts are named: the template and the order ``{displayname}`` picks names in."""

    template: str
    preference: tuple[str, ...]


# Keys the bridge copies from the user's config on every update, on top of the framework's.
_COPIED_KEYS = (
    "bridge.username_template",
    "bridge.displayname_template",
    "bridge.displayname_preference",
    "bridge.command_prefix",
    "bridge.sync_direct_chat_list",
    "bridge.disconnect_notice_delay",
    "bridge.history_sync.backfill",
    "bridge.history_sync.max_initial_conversations",
    "bridge.history_sync.message_count",
    "bridge.history_sync.unread_hours_threshold",
    "bridge.history_sync.request_full_sync",
    "bridge.history_sync.full_sync_config.days_limit",
    "bridge.history_sync.full_sync_config.size_mb_limit",
    "bridge.history_sync.full_sync_config.storage_quota_mb",
    "bridge.history_sync.dispatch_wait",
    "whatsapp.os_name",
    "whatsapp.browser_name",
    "whatsapp.websocket_url",
    "whatsapp.root_public_key",
    "whatsapp.tls_ca_file",
    "whatsapp.qr_timeout_first",
    "whatsapp.qr_timeout_next",
    # metrics
    "metrics.enabled",
    "metrics.listen",
    "provisioning.enabled",
    "provisioning.prefix",
    "provisioning.allow_matrix_auth",
    "provisioning.public_url",
    "provisioning.login_token_lifetime",
    "provisioning.login_session_lifetime",
    # ---- receipts ----
    "bridge.call_start_notices",
    "bridge.enable_status_broadcast",
    "bridge.disable_status_broadcast_send",
    "bridge.disable_view_once",
    # ---- dms ----
    "bridge.message_status_events",
    "bridge.message_error_notices",
    # ---- backfill ----
    "bridge.history_sync.max_age_days",
    # ---- media requests ----
    "bridge.history_sync.media_requests.auto_request_media",
    "bridge.history_sync.media_requests.request_method",
    "bridge.history_sync.media_requests.request_local_time",
    "bridge.history_sync.media_requests.max_async_handle",
    # ---- chatstate ----
    "bridge.mute_bridging",
    "bridge.archive_tag",
    "bridge.pinned_tag",
    "bridge.sync_manual_marked_unread",
)


class Config(BaseBridgeConfig):
    """mautrix's bridge config plus this bridge's sections."""

    @property
    def forbidden_defaults(self) -> list[ForbiddenDefault]:
        return [
            *super().forbidden_defaults,
            ForbiddenDefault("homeserver.address", "https://example.com/"),
        ]

    def do_update(self, helper: ConfigUpdateHelper) -> None:
        super().do_update(helper)
        for key in _COPIED_KEYS:
            helper.copy(key)
        helper.copy_dict("bridge.permissions")
        secret = helper.source.get("provisioning.shared_secret", "generate")
        if secret is None or secret == "generate":
            secret = self._new_token()
        helper.base["provisioning.shared_secret"] = secret
        # ---- double puppet ----
        helper.copy("double_puppet.allow_discovery")
        helper.copy_dict("double_puppet.servers")
        helper.copy_dict("double_puppet.secrets")

    def get_permissions(self, mxid: UserID) -> Permissions:
        """The most specific permission entry wins: user ID, then domain, then ``*``."""
        permissions: dict[str, str] = self["bridge.permissions"] or {}
        if mxid in permissions:
            return self._level(permissions[mxid])
        try:
            _, homeserver = Client.parse_user_id(mxid)
        except ValueError:
            homeserver = None
        if homeserver is not None and homeserver in permissions:
            return self._level(permissions[homeserver])
        return self._level(permissions.get("*", ""))

    @staticmethod
    def _level(level: str) -> Permissions:
        admin = level == "admin"
        user = level == "user" or admin
        relay = level == "relay" or user
        return Permissions(relay=relay, user=user, admin=admin)

    @property
    def history_sync(self) -> HistorySyncSettings:
        def opt_int(key: str) -> int | None:
            value = self[key]
            return None if value is None else int(value)

        prefix = "bridge.history_sync."
        return HistorySyncSettings(
            backfill=bool(self[prefix + "backfill"]),
            max_initial_conversations=int(self[prefix + "max_initial_conversations"]),
            message_count=int(self[prefix + "message_count"]),
            unread_hours_threshold=int(self[prefix + "unread_hours_threshold"]),
            request_full_sync=bool(self[prefix + "request_full_sync"]),
            full_sync_days_limit=opt_int(prefix + "full_sync_config.days_limit"),
            full_sync_size_mb_limit=opt_int(prefix + "full_sync_config.size_mb_limit"),
            full_sync_storage_quota_mb=opt_int(prefix + "full_sync_config.storage_quota_mb"),
            dispatch_wait=parse_duration(prefix + "dispatch_wait", self[prefix + "dispatch_wait"]),
        )

    @property
    def whatsapp(self) -> WhatsAppSettings:
        key_hex = str(self["whatsapp.root_public_key"] or "")
        try:
            root_key = bytes.fromhex(key_hex)
        except ValueError:
            raise ConfigError("whatsapp.root_public_key must be 64 hex digits") from None
        if len(root_key) != 32:
            raise ConfigError("whatsapp.root_public_key must be 64 hex digits")
        return WhatsAppSettings(
            os_name=str(self["whatsapp.os_name"]),
            browser_name=str(self["whatsapp.browser_name"]),
            websocket_url=str(self["whatsapp.websocket_url"]),
            root_public_key=root_key,
            tls_ca_file=self["whatsapp.tls_ca_file"] or None,
            qr_timeout_first=parse_duration(
                "whatsapp.qr_timeout_first", self["whatsapp.qr_timeout_first"]
            ),
            qr_timeout_next=parse_duration(
                "whatsapp.qr_timeout_next", self["whatsapp.qr_timeout_next"]
            ),
        )

    @property
    def metrics_listen(self) -> tuple[str, int] | None:
        """``metrics.listen`` as (host, port) when ``metrics.enabled``, else None."""
        if not self["metrics.enabled"]:
            return None
        try:
            return parse_listen(str(self["metrics.listen"] or ""))
        except ValueError as e:
            raise ConfigError(f"metrics.listen: {e}") from None

    @property
    def provisioning(self) -> ProvisioningSettings:
        secret = str(self["provisioning.shared_secret"] or "")
        prefix = "/" + str(self["provisioning.prefix"] or "").strip("/")
        return ProvisioningSettings(
            enabled=bool(self["provisioning.enabled"]) and secret not in ("", "disable"),
            prefix=prefix,
            shared_secret=secret,
            allow_matrix_auth=bool(self["provisioning.allow_matrix_auth"]),
            public_url=str(self["provisioning.public_url"] or self["appservice.address"]).rstrip(
                "/"
            ),
            login_token_lifetime=parse_duration(
                "provisioning.login_token_lifetime", self["provisioning.login_token_lifetime"]
            ),
            login_session_lifetime=parse_duration(
                "provisioning.login_session_lifetime", self["provisioning.login_session_lifetime"]
            ),
        )

    @property
    def displayname_format(self) -> DisplaynameFormat:
        """``bridge.displayname_template`` and ``…_preference``, checked."""
        template = self["bridge.displayname_template"]
        preference = self["bridge.displayname_preference"]
        if not isinstance(template, str) or not template.strip():
            raise ConfigError("bridge.displayname_template must be a non-empty string")
        if not isinstance(preference, list) or not preference:
            raise ConfigError("bridge.displayname_preference must be a non-empty list")
        for name in preference:
            if name not in NAME_SOURCES:
                raise ConfigError(
                    f"bridge.displayname_preference: unknown name {name!r} "
                    f"(one of {', '.join(NAME_SOURCES)})"
                )
        try:
            fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        except ValueError as e:
            raise ConfigError(f"bridge.displayname_template is malformed: {e}") from None
        unknown = fields - {"displayname", *NAME_SOURCES}
        if unknown:
            raise ConfigError(
                f"bridge.displayname_template: unknown variable {{{sorted(unknown)[0]}}}"
            )
        return DisplaynameFormat(template, tuple(preference))

    def validate(self) -> None:
        """Check the bridge's own sections; raises :class:`ConfigError` naming the key."""
        _ = self.history_sync
        _ = self.media_requests  # ---- media requests ----
        provisioning = self.provisioning
        secret = provisioning.shared_secret
        # "generate" is replaced by the update that precedes every start.
        if provisioning.enabled and secret != "generate" and len(secret) < 16:
            raise ConfigError("provisioning.shared_secret must be at least 16 characters")
        if provisioning.prefix == "/":
            raise ConfigError("provisioning.prefix must not be empty")
        _ = self.whatsapp
        _ = self.metrics_listen
        parse_duration("bridge.disconnect_notice_delay", self["bridge.disconnect_notice_delay"])
        _ = self.displayname_format
        template = str(self["bridge.username_template"])
        if "{userid}" not in template:
            raise ConfigError("bridge.username_template must contain {userid}")
        if not str(self["bridge.command_prefix"] or "").strip():
            raise ConfigError("bridge.command_prefix must not be empty")
        _ = self.chat_state  # ---- chatstate ----

    # ---- encryption ----

    def generate_registration(self) -> None:
        """mautrix's registration, plus what appservice-mode encryption needs: to-device
        events (MSC2409, pushed with the ephemeral ones) and device lists and one-time-key
        counts (MSC3202). Synapse refuses /sync to an appservice's bot, so with Synapse this
        mode is the one that works."""
        super().generate_registration()
        registration = self._registration
        if registration is None:
            return
        if self["bridge.encryption.allow"] and self["bridge.encryption.appservice"]:
            registration["de.sorunome.msc2409.push_ephemeral"] = True
            registration["receive_ephemeral"] = True
            registration["org.matrix.msc3202"] = True

    # ---- backfill ----

    @property
    def history_max_age_days(self) -> int:
        """``bridge.history_sync.max_age_days``: no portal at login for chats silent longer
        (0: no limit)."""
        value = self["bridge.history_sync.max_age_days"]
        try:
            days = int(value or 0)
        except (TypeError, ValueError):
            raise ConfigError("bridge.history_sync.max_age_days must be a number") from None
        if days < 0:
            raise ConfigError("bridge.history_sync.max_age_days must not be negative")
        return days

    # ---- media requests ----

    @property
    def media_requests(self) -> MediaRequestSettings:
        prefix = "bridge.history_sync.media_requests."
        method = str(self[prefix + "request_method"] or "immediate")
        if method not in MEDIA_REQUEST_METHODS:
            raise ConfigError(f"{prefix}request_method must be immediate or local_time")
        try:
            local_time = int(self[prefix + "request_local_time"] or 0)
            max_async = int(self[prefix + "max_async_handle"] or 0)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{prefix}request_local_time and max_async_handle are numbers"
            ) from None
        if not 0 <= local_time < 24 * 60:
            raise ConfigError(f"{prefix}request_local_time is minutes after midnight (0-1439)")
        if max_async < 1:
            raise ConfigError(f"{prefix}max_async_handle must be at least 1")
        return MediaRequestSettings(
            auto_request_media=bool(self[prefix + "auto_request_media"]),
            request_method=method,
            request_local_time=local_time,
            max_async_handle=max_async,
        )

    # ---- chatstate ----

    @property
    def chat_state(self) -> ChatStateSettings:
        """``bridge.mute_bridging``, ``…archive_tag``, ``…pinned_tag`` and
        ``…sync_manual_marked_unread``: what of the phone's chat state double puppeting
        mirrors."""

        def tag(key: str) -> str | None:
            value = self[key]
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be a room tag such as m.favourite, or null")
            return value

        return ChatStateSettings(
            mute_bridging=bool(self["bridge.mute_bridging"]),
            archive_tag=tag("bridge.archive_tag"),
            pinned_tag=tag("bridge.pinned_tag"),
            sync_manual_marked_unread=bool(self["bridge.sync_manual_marked_unread"]),
        )


# ---- chatstate ----


@dataclass(frozen=True)
class ChatStateSettings:
    """What of the phone's chat state goes to the user's own Matrix account (legacy
    mautrix-whatsapp's keys and defaults: off, except manual marked-unread)."""

    mute_bridging: bool
    archive_tag: str | None
    pinned_tag: str | None
    sync_manual_marked_unread: bool
