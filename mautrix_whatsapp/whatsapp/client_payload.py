"""The handshake's ClientPayload: registration when unpaired, login when paired.

Values follow whatsmeow's ``store/clientpayload.go`` (a web client, platform WEB, release
channel RELEASE). The version is a parameter because WhatsApp refuses outdated clients (405).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .device import DeviceIdentity
from .proto import wa_companion_reg_pb2 as companion_reg
from .proto import wa_wa6_pb2 as wa6

WA_VERSION = (2, 3000, 1045649367)
"""The WhatsApp Web version whatsmeow announces (snapshot 33cfac51)."""
DJB_KEY_TYPE = b"\x05"


@dataclass(frozen=True)
class ClientConfig:
    """How the device introduces itself. The defaults are whatsmeow's."""

    version: tuple[int, int, int] = WA_VERSION
    os_name: str = "mautrix-whatsapp"
    os_version: tuple[int, int, int] = (0, 1, 0)
    platform_type: int = companion_reg.DeviceProps.UNKNOWN
    """DeviceProps.PlatformType: what the phone shows as the device's icon."""
    require_full_sync: bool = False
    history_days: int | None = None
    """Days limit of the full history sync, None for WhatsApp's default."""
    history_size_mb: int | None = None
    """Size limit (MB) of the full history sync, None for WhatsApp's default."""
    storage_quota_mb: int = 10240
    """Storage the device offers for history, in MB; whatsmeow announces 10240."""
    recent_sync_days: int | None = None
    """Days limit of the RECENT sync, None for WhatsApp's default (whatsmeow sets none)."""
    inline_initial_payload: bool = True
    """Accept the first INITIAL_BOOTSTRAP chunk inline in the notification (whatsmeow: yes)."""
    locale: tuple[str, str] = ("en", "US")

    @property
    def version_string(self) -> str:
        return ".".join(str(part) for part in self.version)


def _base_payload(config: ClientConfig) -> wa6.ClientPayload:
    ua = wa6.ClientPayload.UserAgent
    os_version = ".".join(str(p) for p in config.os_version)
    return wa6.ClientPayload(
        userAgent=ua(
            platform=ua.WEB,
            releaseChannel=ua.RELEASE,
            appVersion=ua.AppVersion(
                primary=config.version[0],
                secondary=config.version[1],
                tertiary=config.version[2],
            ),
            mcc="000",
            mnc="000",
            osVersion=os_version,
            manufacturer="",
            device="Desktop",
            osBuildNumber=os_version,
            localeLanguageIso6391=config.locale[0],
            localeCountryIso31661Alpha2=config.locale[1],
        ),
        webInfo=wa6.ClientPayload.WebInfo(webSubPlatform=wa6.ClientPayload.WebInfo.WEB_BROWSER),
        connectType=wa6.ClientPayload.WIFI_UNKNOWN,
        connectReason=wa6.ClientPayload.USER_ACTIVATED,
    )


def device_props(config: ClientConfig) -> companion_reg.DeviceProps:
    """What the phone learns about us at linking: name, version, history-sync wishes."""
    sync = companion_reg.DeviceProps.HistorySyncConfig(
        storageQuotaMb=config.storage_quota_mb,
        inlineInitialPayloadInE2EeMsg=config.inline_initial_payload,
        supportCallLogHistory=True,
        supportBotUserAgentChatHistory=True,
        supportCagReactionsAndPolls=True,
        supportBizHostedMsg=True,
        supportRecentSyncChunkMessageCountTuning=True,
        supportHostedGroupMsg=True,
        supportFbidBotChatHistory=True,
        supportMessageAssociation=True,
        supportGroupHistory=True,
        thumbnailSyncDaysLimit=60,
        supportManusHistory=True,
        supportHatchHistory=True,
    )
    if config.history_days is not None:
        sync.fullSyncDaysLimit = config.history_days
    if config.history_size_mb is not None:
        sync.fullSyncSizeMbLimit = config.history_size_mb
    if config.recent_sync_days is not None:
        sync.recentSyncDaysLimit = config.recent_sync_days
    return companion_reg.DeviceProps(
        os=config.os_name,
        version=companion_reg.DeviceProps.AppVersion(
            primary=config.os_version[0],
            secondary=config.os_version[1],
            tertiary=config.os_version[2],
        ),
        platformType=config.platform_type,  # type: ignore[arg-type]
        requireFullSync=config.require_full_sync,
        historySyncConfig=sync,
    )


def registration_payload(device: DeviceIdentity, config: ClientConfig) -> wa6.ClientPayload:
    """The payload of an unpaired device: our keys, so the server can offer pairing refs."""
    payload = _base_payload(config)
    spk = device.signed_pre_key
    payload.devicePairingData.CopyFrom(
        wa6.ClientPayload.DevicePairingRegistrationData(
            eRegid=device.registration_id.to_bytes(4, "big"),
            eKeytype=DJB_KEY_TYPE,
            eIdent=device.identity_key.public,
            eSkeyID=spk.key_id.to_bytes(4, "big")[1:],
            eSkeyVal=spk.key_pair.public,
            eSkeySig=spk.signature,
            buildHash=hashlib.md5(config.version_string.encode()).digest(),
            deviceProps=device_props(config).SerializeToString(),
        )
    )
    payload.passive = False
    payload.pull = False
    return payload


def login_payload(device: DeviceIdentity, config: ClientConfig) -> wa6.ClientPayload:
    """The payload of a paired device: who we are; the server checks it against our noise key."""
    if device.jid is None:
        raise ValueError("login payload needs a paired device")
    payload = _base_payload(config)
    payload.username = device.jid.user_int
    payload.device = device.jid.device
    payload.passive = True
    payload.pull = True
    payload.lidDbMigrated = True
    payload.lc = 1
    return payload


def client_payload(device: DeviceIdentity, config: ClientConfig) -> bytes:
    """The serialized payload for the handshake: login if paired, else registration."""
    if device.is_paired:
        return login_payload(device, config).SerializeToString()
    return registration_payload(device, config).SerializeToString()
