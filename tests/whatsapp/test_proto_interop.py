"""Our .proto schemas against an independent implementation: Baileys' compiled WAProto.

``tests/js/proto_interop.mjs`` encodes realistic samples with Baileys; we decode them with our
modules and check the values field by field and that nothing landed in unknown fields (which would
mean a wrong field number or wire type). Then we re-encode each message from its *known* fields
only (a JSON round trip drops unknown fields) and Baileys checks it decodes to the same object.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage
from google.protobuf.unknown_fields import UnknownFieldSet

from mautrix_whatsapp.whatsapp.proto import (
    wa_adv_pb2,
    wa_companion_reg_pb2,
    wa_e2e_pb2,
    wa_handshake_pb2,
    wa_history_sync_pb2,
    wa_server_sync_pb2,
    wa_sync_action_pb2,
    wa_wa6_pb2,
    wa_web_pb2,
)

pytestmark = pytest.mark.node

OUR_TYPES: dict[str, type[ProtoMessage]] = {
    "DeviceProps": wa_companion_reg_pb2.DeviceProps,
    "ClientPayload": wa_wa6_pb2.ClientPayload,
    "ADVDeviceIdentity": wa_adv_pb2.ADVDeviceIdentity,
    "ADVSignedDeviceIdentity": wa_adv_pb2.ADVSignedDeviceIdentity,
    "ADVSignedDeviceIdentityHMAC": wa_adv_pb2.ADVSignedDeviceIdentityHMAC,
    "ADVKeyIndexList": wa_adv_pb2.ADVKeyIndexList,
    "ADVSignedKeyIndexList": wa_adv_pb2.ADVSignedKeyIndexList,
    "HandshakeMessage": wa_handshake_pb2.HandshakeMessage,
    "Message": wa_e2e_pb2.Message,
    "HistorySync": wa_history_sync_pb2.HistorySync,
    "WebMessageInfo": wa_web_pb2.WebMessageInfo,
    "SyncActionData": wa_sync_action_pb2.SyncActionData,
    "SyncdPatch": wa_server_sync_pb2.SyncdPatch,
    "SyncdMutations": wa_server_sync_pb2.SyncdMutations,
    "SyncdSnapshot": wa_server_sync_pb2.SyncdSnapshot,
}

SAMPLE_NAMES = [
    "device_props",
    "client_payload_registration",
    "client_payload_login",
    "adv_device_identity",
    "adv_signed_device_identity",
    "adv_signed_device_identity_hmac",
    "adv_key_index_list",
    "adv_signed_key_index_list",
    "handshake_server_hello",
    "msg_conversation",
    "msg_image",
    "msg_quoted_reply",
    "msg_link_preview",
    "msg_reaction",
    "msg_history_notification",
    "msg_key_share",
    "msg_key_request",
    "msg_on_demand_request",
    "msg_edit",
    "msg_edit_wrapper",
    "msg_revoke",
    "msg_ephemeral_setting",
    "msg_poll_v3",
    "msg_poll_v1",
    "msg_poll_v2",
    "msg_poll_vote",
    "msg_device_sent",
    "msg_sender_key",
    "msg_video",
    "msg_audio",
    "msg_document_with_caption",
    "msg_sticker",
    "msg_location",
    "msg_live_location",
    "msg_contact",
    "msg_contacts_array",
    "msg_ephemeral_view_once",
    "history_sync",
    "web_message_info",
    "sync_action_contact",
    "sync_action_archive",
    "sync_action_settings",
    "syncd_patch",
    "syncd_patch_external",
    "syncd_mutations",
    "syncd_snapshot",
]

DM = "15557654321@s.whatsapp.net"
GROUP = "120363025246125486@g.us"
OWN = "15551234567@s.whatsapp.net"


def fill(byte: int, length: int) -> bytes:
    return bytes([byte]) * length


@dataclass
class Exchange:
    raw: dict[str, bytes]
    decoded: dict[str, ProtoMessage]
    checks: dict[str, dict[str, Any]]


def reencode_known_fields(msg: ProtoMessage) -> bytes:
    """Serialize only what our schema understands: unknown fields do not survive JSON."""
    as_dict = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    return json_format.ParseDict(as_dict, type(msg)()).SerializeToString()


def unknown_field_paths(msg: ProtoMessage, path: str = "") -> list[str]:
    """Every place in the tree holding fields our schema did not recognise."""
    unknown = UnknownFieldSet(msg)
    found = [f"{path or '<root>'}#{unknown[i].field_number}" for i in range(len(unknown))]
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if field.is_repeated:
            for i, item in enumerate(value):
                found += unknown_field_paths(item, f"{path}.{field.name}[{i}]")
        else:
            found += unknown_field_paths(value, f"{path}.{field.name}")
    return found


@pytest.fixture(scope="module")
def exchange(node_harness_dir: Path) -> Iterator[Exchange]:
    proc = subprocess.Popen(
        ["node", "proto_interop.mjs"],
        cwd=node_harness_dir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        first = proc.stdout.readline()
        if not first:
            proc.wait(timeout=10)
            pytest.fail(
                f"harness produced no samples: {proc.stderr.read() if proc.stderr else ''}"
            )
        samples = json.loads(first)["samples"]
        raw = {s["name"]: bytes.fromhex(s["hex"]) for s in samples}
        decoded = {s["name"]: OUR_TYPES[s["type"]].FromString(raw[s["name"]]) for s in samples}
        results = [
            {"name": name, "hex": reencode_known_fields(msg).hex()}
            for name, msg in decoded.items()
        ]
        out, err = proc.communicate(json.dumps({"results": results}) + "\n", timeout=30)
        assert proc.returncode == 0, err
        checks = {c["name"]: c for c in json.loads(out.splitlines()[0])["checks"]}
        yield Exchange(raw=raw, decoded=decoded, checks=checks)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_harness_covers_every_sample(exchange: Exchange) -> None:
    assert sorted(exchange.decoded) == sorted(SAMPLE_NAMES)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_no_unknown_fields(exchange: Exchange, name: str) -> None:
    assert unknown_field_paths(exchange.decoded[name]) == []


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_baileys_decodes_our_encoding(exchange: Exchange, name: str) -> None:
    check = exchange.checks[name]
    assert "error" not in check, check.get("error")
    assert check["ours"] == check["baileys"]
    assert check["ok"] is True


def get(exchange: Exchange, name: str, kind: type[ProtoMessage]) -> Any:
    msg = exchange.decoded[name]
    assert isinstance(msg, kind)
    return msg


def test_device_props(exchange: Exchange) -> None:
    props = get(exchange, "device_props", wa_companion_reg_pb2.DeviceProps)
    assert props.os == "Mautrix-WhatsApp"
    assert (props.version.primary, props.version.secondary, props.version.tertiary) == (0, 1, 0)
    assert props.platformType == wa_companion_reg_pb2.DeviceProps.CHROME
    assert props.HasField("requireFullSync") and not props.requireFullSync
    cfg = props.historySyncConfig
    assert cfg.fullSyncDaysLimit == 3650
    assert cfg.fullSyncSizeMbLimit == 102400
    assert cfg.storageQuotaMb == 102400
    assert cfg.inlineInitialPayloadInE2EeMsg is True
    assert cfg.recentSyncDaysLimit == 30
    assert cfg.HasField("supportCallLogHistory") and not cfg.supportCallLogHistory
    assert cfg.supportBotUserAgentChatHistory and cfg.supportCagReactionsAndPolls
    assert cfg.supportBizHostedMsg and cfg.supportRecentSyncChunkMessageCountTuning
    assert cfg.supportHostedGroupMsg and cfg.supportFbidBotChatHistory
    assert not cfg.supportAddOnHistorySyncMigration and cfg.supportMessageAssociation
    assert not cfg.supportGroupHistory and cfg.onDemandReady and not cfg.supportGuestChat
    assert cfg.completeOnDemandReady
    assert cfg.thumbnailSyncDaysLimit == 60


def check_user_agent(ua: wa_wa6_pb2.ClientPayload.UserAgent) -> None:
    assert ua.platform == wa_wa6_pb2.ClientPayload.UserAgent.WEB
    assert (ua.appVersion.primary, ua.appVersion.secondary) == (2, 3000)
    assert ua.appVersion.tertiary == 1045649367
    assert (ua.mcc, ua.mnc, ua.osVersion, ua.device) == ("000", "000", "0.1", "Desktop")
    assert ua.osBuildNumber == "0.1"
    assert ua.HasField("releaseChannel")
    assert ua.releaseChannel == wa_wa6_pb2.ClientPayload.UserAgent.RELEASE
    assert (ua.localeLanguageIso6391, ua.localeCountryIso31661Alpha2) == ("en", "US")


def test_client_payload_registration(exchange: Exchange) -> None:
    payload = get(exchange, "client_payload_registration", wa_wa6_pb2.ClientPayload)
    assert not payload.HasField("username") and not payload.HasField("device")
    assert payload.HasField("passive") and payload.passive is False
    assert payload.HasField("pull") and payload.pull is False
    check_user_agent(payload.userAgent)
    assert payload.webInfo.webSubPlatform == wa_wa6_pb2.ClientPayload.WebInfo.WEB_BROWSER
    assert payload.webInfo.HasField("webSubPlatform")
    assert payload.connectType == wa_wa6_pb2.ClientPayload.WIFI_UNKNOWN
    assert payload.connectReason == wa_wa6_pb2.ClientPayload.USER_ACTIVATED
    reg = payload.devicePairingData
    assert reg.eRegid == (12345).to_bytes(4, "big")
    assert reg.eKeytype == b"\x05"
    assert reg.eIdent == fill(0xA1, 32)
    assert reg.eSkeyID == (1).to_bytes(3, "big")
    assert reg.eSkeyVal == fill(0xB2, 32)
    assert reg.eSkeySig == fill(0xC3, 64)
    assert reg.buildHash == fill(0xD4, 16)
    props = wa_companion_reg_pb2.DeviceProps.FromString(reg.deviceProps)
    assert props == exchange.decoded["device_props"]


def test_client_payload_login(exchange: Exchange) -> None:
    payload = get(exchange, "client_payload_login", wa_wa6_pb2.ClientPayload)
    assert payload.username == 15551234567
    assert payload.device == 7
    assert payload.passive and payload.pull and payload.lidDbMigrated
    assert payload.lc == 1
    check_user_agent(payload.userAgent)
    assert payload.dnsSource.dnsMethod == wa_wa6_pb2.ClientPayload.DNSSource.HARDCODED
    assert payload.dnsSource.HasField("appCached") and not payload.dnsSource.appCached
    assert payload.connectAttemptCount == 3
    assert payload.sessionID == -123456789
    assert list(payload.shards) == [1, 2, 300]
    assert payload.HasField("product") and payload.product == wa_wa6_pb2.ClientPayload.WHATSAPP
    assert payload.HasField("oc") and not payload.oc
    assert not payload.HasField("devicePairingData")


def test_adv_chain(exchange: Exchange) -> None:
    container = get(
        exchange, "adv_signed_device_identity_hmac", wa_adv_pb2.ADVSignedDeviceIdentityHMAC
    )
    hmac_value = container.HMAC
    assert hmac_value == fill(0x24, 32)
    assert container.accountType == wa_adv_pb2.HOSTED
    signed = wa_adv_pb2.ADVSignedDeviceIdentity.FromString(container.details)
    assert signed == exchange.decoded["adv_signed_device_identity"]
    assert signed.accountSignatureKey == fill(0x21, 32)
    assert signed.accountSignature == fill(0x22, 64)
    assert signed.deviceSignature == fill(0x23, 64)
    identity = wa_adv_pb2.ADVDeviceIdentity.FromString(signed.details)
    assert identity == exchange.decoded["adv_device_identity"]
    assert (identity.rawID, identity.timestamp, identity.keyIndex) == (3456789, 1764000000, 4)
    assert identity.HasField("accountType") and identity.accountType == wa_adv_pb2.E2EE
    assert identity.HasField("deviceType") and identity.deviceType == wa_adv_pb2.E2EE


def test_adv_key_index_list(exchange: Exchange) -> None:
    signed = get(exchange, "adv_signed_key_index_list", wa_adv_pb2.ADVSignedKeyIndexList)
    assert signed.accountSignature == fill(0x25, 64)
    assert signed.accountSignatureKey == fill(0x26, 32)
    key_list = wa_adv_pb2.ADVKeyIndexList.FromString(signed.details)
    assert key_list == exchange.decoded["adv_key_index_list"]
    assert (key_list.rawID, key_list.timestamp, key_list.currentIndex) == (3456789, 1764000001, 5)
    assert list(key_list.validIndexes) == [0, 4, 5]


def test_handshake(exchange: Exchange) -> None:
    msg = get(exchange, "handshake_server_hello", wa_handshake_pb2.HandshakeMessage)
    hello = msg.serverHello
    assert (hello.ephemeral, hello.static, hello.payload) == (
        fill(1, 32),
        fill(2, 48),
        fill(3, 300),
    )
    assert not msg.HasField("clientHello") and not msg.HasField("clientFinish")


def test_conversation(exchange: Exchange) -> None:
    msg = get(exchange, "msg_conversation", wa_e2e_pb2.Message)
    assert msg.conversation == "Hello, world! 👋"


def test_image(exchange: Exchange) -> None:
    msg = get(exchange, "msg_image", wa_e2e_pb2.Message)
    img = msg.imageMessage
    assert img.URL.startswith("https://mmg.whatsapp.net/v/t62.7118-24/")
    assert img.mimetype == "image/jpeg"
    assert img.caption == "sunset 🌅"
    assert img.fileSHA256 == fill(0x31, 32)
    assert img.fileLength == 204800
    assert (img.height, img.width) == (1280, 960)
    assert img.mediaKey == fill(0x32, 32)
    assert img.fileEncSHA256 == fill(0x33, 32)
    assert img.directPath == (
        "/v/t62.7118-24/11111_22222_n.enc?ccb=11-4&oh=01_Q5&oe=6800AAAA&_nc_sid=5e03e0"
    )
    assert img.mediaKeyTimestamp == 1764000100
    assert img.JPEGThumbnail == fill(0x34, 200)
    assert img.scansSidecar == fill(0x35, 40)
    assert list(img.scanLengths) == [2000, 8000, 30000, 164800]
    assert img.midQualityFileSHA256 == fill(0x36, 32)
    assert img.HasField("viewOnce") and not img.viewOnce
    assert img.contextInfo.expiration == 604800
    assert img.contextInfo.ephemeralSettingTimestamp == 1763000000
    mci = msg.messageContextInfo
    assert mci.messageSecret == fill(0x39, 32)
    assert mci.deviceListMetadataVersion == 2
    dlm = mci.deviceListMetadata
    assert dlm.senderKeyHash == fill(0x37, 10) and dlm.senderTimestamp == 1763999000
    assert list(dlm.senderKeyIndexes) == [0, 2]
    assert dlm.recipientKeyHash == fill(0x38, 10) and dlm.recipientTimestamp == 1763999500
    assert list(dlm.recipientKeyIndexes) == [0, 1, 9]


def test_quoted_reply(exchange: Exchange) -> None:
    ext = get(exchange, "msg_quoted_reply", wa_e2e_pb2.Message).extendedTextMessage
    assert ext.text == "Replying to @15557654321 and @15550000001"
    assert ext.previewType == wa_e2e_pb2.ExtendedTextMessage.NONE
    assert ext.HasField("inviteLinkGroupTypeV2")
    ctx = ext.contextInfo
    assert ctx.stanzaID == "3EB0C0FFEE1234567890"
    assert ctx.participant == DM
    assert ctx.remoteJID == GROUP
    assert ctx.quotedMessage.conversation == "original message"
    assert list(ctx.mentionedJID) == [DM, "15550000001@s.whatsapp.net"]
    assert ctx.isForwarded is True
    assert ctx.forwardingScore == 2
    assert ctx.expiration == 86400
    assert [(m.groupJID, m.groupSubject) for m in ctx.groupMentions] == [(GROUP, "Team")]


def test_link_preview(exchange: Exchange) -> None:
    ext = get(exchange, "msg_link_preview", wa_e2e_pb2.Message).extendedTextMessage
    assert ext.text == "see https://example.org/page"
    assert ext.matchedText == "https://example.org/page"
    assert (ext.title, ext.description) == ("Example page", "An example")
    assert ext.JPEGThumbnail == fill(0x41, 64)
    assert (ext.textArgb, ext.backgroundArgb) == (0xFFFFFFFF, 0xFF000000)
    assert ext.font == wa_e2e_pb2.ExtendedTextMessage.SYSTEM_TEXT


def test_reaction(exchange: Exchange) -> None:
    reaction = get(exchange, "msg_reaction", wa_e2e_pb2.Message).reactionMessage
    key = reaction.key
    assert (key.remoteJID, key.fromMe, key.ID, key.participant) == (
        GROUP,
        False,
        "3EB0AAAABBBBCCCC",
        DM,
    )
    assert key.HasField("fromMe")
    assert reaction.text == "❤️"
    assert reaction.senderTimestampMS == 1764000200123


def test_history_sync_notification(exchange: Exchange) -> None:
    proto_msg = get(exchange, "msg_history_notification", wa_e2e_pb2.Message).protocolMessage
    assert proto_msg.type == wa_e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
    note = proto_msg.historySyncNotification
    assert note.fileSHA256 == fill(0x51, 32)
    assert note.fileLength == 1048576
    assert note.mediaKey == fill(0x52, 32)
    assert note.fileEncSHA256 == fill(0x53, 32)
    assert note.directPath.startswith("/v/t62.36145-24/33333_44444_n.enc?")
    assert note.HasField("syncType") and note.syncType == wa_e2e_pb2.INITIAL_BOOTSTRAP
    assert (note.chunkOrder, note.progress) == (1, 42)
    assert note.originalMessageID == "3EB0HISTORY000001"
    assert note.oldestMsgInChunkTimestampSec == 1700000000
    assert note.initialHistBootstrapInlinePayload == fill(0x54, 100)
    assert note.peerDataRequestSessionID == "sess-1"


def test_app_state_key_share_and_request(exchange: Exchange) -> None:
    share = get(exchange, "msg_key_share", wa_e2e_pb2.Message).protocolMessage
    assert share.type == wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE
    (key,) = share.appStateSyncKeyShare.keys
    assert key.keyID.keyID == bytes([0, 0, 0, 0, 0x5A, 0x01])
    assert key.keyData.keyData == fill(0x61, 32)
    assert key.keyData.timestamp == 1764000300000
    fingerprint = key.keyData.fingerprint
    assert (fingerprint.rawID, fingerprint.currentIndex) == (3456789, 5)
    assert list(fingerprint.deviceIndexes) == [0, 5]
    request = get(exchange, "msg_key_request", wa_e2e_pb2.Message).protocolMessage
    assert request.type == wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST
    assert [k.keyID for k in request.appStateSyncKeyRequest.keyIDs] == [
        bytes([0, 0, 0, 0, 0x5A, 0x02])
    ]


def test_on_demand_history_request(exchange: Exchange) -> None:
    proto_msg = get(exchange, "msg_on_demand_request", wa_e2e_pb2.Message).protocolMessage
    assert proto_msg.type == wa_e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_MESSAGE
    request = proto_msg.peerDataOperationRequestMessage
    assert request.peerDataOperationRequestType == wa_e2e_pb2.HISTORY_SYNC_ON_DEMAND
    on_demand = request.historySyncOnDemandRequest
    assert (on_demand.chatJID, on_demand.oldestMsgID) == (DM, "3EB0OLDEST")
    assert on_demand.oldestMsgFromMe is True
    assert on_demand.onDemandMsgCount == 50
    assert on_demand.oldestMsgTimestampMS == 1700000000
    (resend,) = request.placeholderMessageResendRequest
    assert (resend.messageKey.remoteJID, resend.messageKey.ID) == (DM, "3EB0MISSING")


def test_edit_revoke_and_ephemeral(exchange: Exchange) -> None:
    edit = get(exchange, "msg_edit", wa_e2e_pb2.Message).protocolMessage
    assert edit.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
    assert (edit.key.remoteJID, edit.key.fromMe, edit.key.ID) == (DM, True, "3EB0EDITED")
    assert edit.editedMessage.conversation == "fixed typo"
    assert edit.timestampMS == 1764000400000

    wrapped = get(exchange, "msg_edit_wrapper", wa_e2e_pb2.Message).editedMessage.message
    assert wrapped.protocolMessage.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
    assert wrapped.protocolMessage.editedMessage.extendedTextMessage.text == "edited text"
    assert wrapped.protocolMessage.key.ID == "3EB0EDIT2"

    revoke = get(exchange, "msg_revoke", wa_e2e_pb2.Message).protocolMessage
    assert revoke.HasField("type") and revoke.type == wa_e2e_pb2.ProtocolMessage.REVOKE
    assert (revoke.key.remoteJID, revoke.key.ID) == (GROUP, "3EB0GONE")

    eph = get(exchange, "msg_ephemeral_setting", wa_e2e_pb2.Message).protocolMessage
    assert eph.type == wa_e2e_pb2.ProtocolMessage.EPHEMERAL_SETTING
    assert (eph.ephemeralExpiration, eph.ephemeralSettingTimestamp) == (604800, 1764000500)


def test_polls(exchange: Exchange) -> None:
    v3 = get(exchange, "msg_poll_v3", wa_e2e_pb2.Message)
    assert not v3.HasField("pollCreationMessage")
    poll = v3.pollCreationMessageV3
    assert poll.name == "Lunch?"
    assert [o.optionName for o in poll.options] == ["Pizza", "Sushi", "Salad"]
    assert poll.selectableOptionsCount == 1
    assert v3.messageContextInfo.messageSecret == fill(0x71, 32)

    v1 = get(exchange, "msg_poll_v1", wa_e2e_pb2.Message).pollCreationMessage
    assert v1.encKey == fill(0x72, 32)
    assert [(o.optionName, o.optionHash) for o in v1.options] == [("A", "aa"), ("B", "")]
    assert v1.HasField("selectableOptionsCount") and v1.selectableOptionsCount == 0
    assert list(v1.contextInfo.mentionedJID) == [DM]

    v2 = get(exchange, "msg_poll_v2", wa_e2e_pb2.Message).pollCreationMessageV2
    assert v2.name == "Multi" and [o.optionName for o in v2.options] == ["X"]

    vote = get(exchange, "msg_poll_vote", wa_e2e_pb2.Message).pollUpdateMessage
    key = vote.pollCreationMessageKey
    assert (key.remoteJID, key.fromMe, key.ID) == (GROUP, True, "3EB0POLL")
    assert vote.vote.encPayload == fill(0x73, 48)
    assert vote.vote.encIV == fill(0x74, 12)
    assert vote.senderTimestampMS == 1764000600000


def test_device_sent_and_sender_key(exchange: Exchange) -> None:
    dsm_msg = get(exchange, "msg_device_sent", wa_e2e_pb2.Message)
    dsm = dsm_msg.deviceSentMessage
    assert dsm.destinationJID == DM
    assert dsm.message.conversation == "hello from my phone"
    assert dsm.phash == "2:abcdef"
    assert dsm_msg.messageContextInfo.messageSecret == fill(0x81, 32)

    skdm_msg = get(exchange, "msg_sender_key", wa_e2e_pb2.Message)
    skdm = skdm_msg.senderKeyDistributionMessage
    assert skdm.groupID == GROUP
    assert skdm.axolotlSenderKeyDistributionMessage == fill(0x91, 90)
    assert skdm_msg.conversation == "group hello"


def test_video_audio_document_sticker(exchange: Exchange) -> None:
    video = get(exchange, "msg_video", wa_e2e_pb2.Message).videoMessage
    assert (video.mimetype, video.seconds, video.caption) == ("video/mp4", 12, "clip")
    assert video.gifPlayback is True
    assert (video.height, video.width, video.fileLength) == (720, 1280, 5000000)
    assert video.mediaKey == fill(0xA2, 32) and video.fileSHA256 == fill(0xA1, 32)
    assert video.fileEncSHA256 == fill(0xA3, 32) and video.directPath == "/v/video.enc?x=1"
    assert video.JPEGThumbnail == fill(0xA4, 30) and video.streamingSidecar == fill(0xA5, 20)
    assert video.gifAttribution == wa_e2e_pb2.VideoMessage.GIPHY
    assert video.mediaKeyTimestamp == 1764000700

    audio = get(exchange, "msg_audio", wa_e2e_pb2.Message).audioMessage
    assert audio.mimetype == "audio/ogg; codecs=opus"
    assert (audio.seconds, audio.PTT, audio.fileLength) == (7, True, 12345)
    assert audio.mediaKey == fill(0xB2, 32) and audio.fileEncSHA256 == fill(0xB3, 32)
    assert audio.fileSHA256 == fill(0xB1, 32) and audio.waveform == fill(0xB4, 64)
    assert audio.directPath == "/v/audio.enc?x=1" and audio.mediaKeyTimestamp == 1764000800

    outer = get(exchange, "msg_document_with_caption", wa_e2e_pb2.Message)
    doc = outer.documentWithCaptionMessage.message.documentMessage
    assert (doc.mimetype, doc.title, doc.fileName) == ("application/pdf", "report", "report.pdf")
    assert (doc.fileLength, doc.pageCount, doc.caption) == (99999, 3, "the report")
    assert doc.mediaKey == fill(0xC2, 32) and doc.fileSHA256 == fill(0xC1, 32)
    assert doc.fileEncSHA256 == fill(0xC3, 32) and doc.directPath == "/v/doc.enc?x=1"
    assert doc.contextInfo.stanzaID == "3EB0Q"
    assert doc.contextInfo.quotedMessage.conversation == "send it"

    sticker = get(exchange, "msg_sticker", wa_e2e_pb2.Message).stickerMessage
    assert (sticker.mimetype, sticker.height, sticker.width) == ("image/webp", 512, 512)
    assert sticker.isAnimated is True and sticker.pngThumbnail == fill(0xD4, 16)
    assert sticker.mediaKey == fill(0xD3, 32) and sticker.fileSHA256 == fill(0xD1, 32)
    assert sticker.fileEncSHA256 == fill(0xD2, 32) and sticker.fileLength == 30000
    assert sticker.directPath == "/v/sticker.enc?x=1"


def test_location_and_contacts(exchange: Exchange) -> None:
    loc = get(exchange, "msg_location", wa_e2e_pb2.Message).locationMessage
    assert (loc.degreesLatitude, loc.degreesLongitude) == (52.52, 13.405)
    assert (loc.name, loc.address, loc.comment) == ("Berlin", "Alexanderplatz", "here")
    assert loc.URL == "https://maps.example.org/x"
    assert (loc.accuracyInMeters, loc.speedInMps) == (15, 1.5)
    assert loc.degreesClockwiseFromMagneticNorth == 90
    assert loc.JPEGThumbnail == fill(0xE1, 20)

    live = get(exchange, "msg_live_location", wa_e2e_pb2.Message).liveLocationMessage
    assert (live.degreesLatitude, live.degreesLongitude) == (-33.8688, 151.2093)
    assert (live.accuracyInMeters, live.speedInMps, live.caption) == (10, 0.5, "walking")
    assert live.degreesClockwiseFromMagneticNorth == 180
    assert (live.sequenceNumber, live.timeOffset) == (1764001100000, 30)

    contact = get(exchange, "msg_contact", wa_e2e_pb2.Message).contactMessage
    assert contact.displayName == "Alice"
    assert contact.vcard.startswith("BEGIN:VCARD") and "FN:Alice" in contact.vcard

    array = get(exchange, "msg_contacts_array", wa_e2e_pb2.Message).contactsArrayMessage
    assert array.displayName == "2 contacts"
    assert [c.displayName for c in array.contacts] == ["Alice", "Bob"]
    assert "FN:Bob" in array.contacts[1].vcard


def test_ephemeral_view_once_wrappers(exchange: Exchange) -> None:
    msg = get(exchange, "msg_ephemeral_view_once", wa_e2e_pb2.Message)
    inner = msg.ephemeralMessage.message.viewOnceMessageV2.message.imageMessage
    assert inner.viewOnce is True
    assert inner.mimetype == "image/jpeg"
    assert inner.mediaKey == fill(0xF1, 32)


def check_first_web_message(info: wa_web_pb2.WebMessageInfo) -> None:
    assert (info.key.remoteJID, info.key.fromMe, info.key.ID) == (GROUP, False, "3EB0HIST1")
    assert info.key.participant == DM
    assert info.message.extendedTextMessage.text == "first"
    assert info.message.extendedTextMessage.contextInfo.expiration == 86400
    assert info.messageTimestamp == 1700000100
    assert info.status == wa_web_pb2.WebMessageInfo.READ
    assert (info.participant, info.pushName) == (DM, "Bob")
    (reaction,) = info.reactions
    assert (reaction.key.ID, reaction.key.fromMe, reaction.text) == ("3EB0REACT", True, "👍")
    assert reaction.senderTimestampMS == 1700000200000
    (receipt,) = info.userReceipt
    assert (receipt.userJID, receipt.receiptTimestamp, receipt.readTimestamp) == (
        OWN,
        1700000150,
        1700000160,
    )
    assert info.messageSecret == fill(0x12, 32)


def test_web_message_info(exchange: Exchange) -> None:
    check_first_web_message(get(exchange, "web_message_info", wa_web_pb2.WebMessageInfo))


def test_history_sync(exchange: Exchange) -> None:
    hs = get(exchange, "history_sync", wa_history_sync_pb2.HistorySync)
    assert hs.syncType == wa_history_sync_pb2.HistorySync.RECENT
    assert (hs.chunkOrder, hs.progress) == (1, 10)
    group, dm = hs.conversations
    assert group.ID == GROUP
    assert (group.unreadCount, group.name, group.markedAsUnread) == (3, "Team", True)
    assert (group.ephemeralExpiration, group.ephemeralSettingTimestamp) == (86400, 1690000000)
    assert (group.conversationTimestamp, group.pinned) == (1700000100, 1700000000)
    assert group.HasField("archived") and not group.archived
    assert group.HasField("muteEndTime") and group.muteEndTime == 0
    assert group.HasField("endOfHistoryTransferType")
    assert group.disappearingMode.initiator == wa_e2e_pb2.DisappearingMode.INITIATED_BY_ME
    Rank = wa_history_sync_pb2.GroupParticipant
    assert [(p.userJID, p.rank) for p in group.participant] == [
        (DM, Rank.ADMIN),
        (OWN, Rank.SUPERADMIN),
    ]
    first, second = group.messages
    assert (first.msgOrderID, second.msgOrderID) == (2, 1)
    check_first_web_message(first.message)
    stub = second.message
    assert stub.messageStubType == wa_web_pb2.WebMessageInfo.GROUP_PARTICIPANT_ADD
    assert list(stub.messageStubParameters) == [
        "15550000003@s.whatsapp.net",
        "15550000004@s.whatsapp.net",
    ]
    assert not stub.HasField("message")
    assert (stub.messageTimestamp, stub.status) == (
        1700000000,
        wa_web_pb2.WebMessageInfo.SERVER_ACK,
    )

    assert (dm.ID, dm.lidJID, dm.pnJID, dm.displayName) == (
        DM,
        "123456789012345@lid",
        DM,
        "Bob",
    )
    (dm_msg,) = dm.messages
    assert dm_msg.message.key.fromMe is True and dm_msg.message.message.conversation == "hi"
    assert dm_msg.message.status == wa_web_pb2.WebMessageInfo.DELIVERY_ACK

    assert [(p.ID, p.pushname) for p in hs.pushnames] == [
        (DM, "Bob"),
        ("15550000001@s.whatsapp.net", "Carol"),
    ]
    settings = hs.globalSettings
    assert settings.disappearingModeDuration == 604800
    assert settings.disappearingModeTimestamp == 1690000000
    assert settings.mediaVisibility == wa_history_sync_pb2.ON
    wifi = settings.autoDownloadWiFi
    assert (wifi.downloadImages, wifi.downloadAudio, wifi.downloadVideo) == (True, True, False)
    assert [(m.pnJID, m.lidJID) for m in hs.phoneNumberToLidMappings] == [
        (DM, "123456789012345@lid")
    ]


def test_sync_action_contact_and_archive(exchange: Exchange) -> None:
    contact = get(exchange, "sync_action_contact", wa_sync_action_pb2.SyncActionData)
    assert json.loads(contact.index) == ["contact", DM]
    assert (contact.padding, contact.version) == (b"\0\0\0\0", 2)
    assert contact.value.timestamp == 1764002000000
    action = contact.value.contactAction
    assert (action.fullName, action.firstName) == ("Bob Builder", "Bob")
    assert action.lidJID == "123456789012345@lid"
    assert action.saveOnPrimaryAddressbook is True

    archive = get(exchange, "sync_action_archive", wa_sync_action_pb2.SyncActionData)
    assert json.loads(archive.index) == ["archive", GROUP]
    assert archive.version == 3
    arch = archive.value.archiveChatAction
    assert arch.archived is True
    rng = arch.messageRange
    assert (rng.lastMessageTimestamp, rng.lastSystemMessageTimestamp) == (1764002000, 1764001000)
    (last,) = rng.messages
    assert (last.key.remoteJID, last.key.ID, last.key.participant) == (GROUP, "3EB0LAST", DM)
    assert last.timestamp == 1764002000


def test_sync_action_settings(exchange: Exchange) -> None:
    data = get(exchange, "sync_action_settings", wa_sync_action_pb2.SyncActionData)
    value = data.value
    assert value.timestamp == 1764002200000
    assert value.muteAction.muted is True and value.muteAction.muteEndTimestamp == -1
    assert value.muteAction.HasField("autoMuted") and not value.muteAction.autoMuted
    assert value.pinAction.pinned is True
    assert value.starAction.HasField("starred") and not value.starAction.starred
    assert value.pushNameSetting.name == "Me"
    assert value.localeSetting.locale == "en_US"
    assert not value.markChatAsReadAction.read
    assert value.markChatAsReadAction.messageRange.lastMessageTimestamp == 1764002000
    assert value.deleteMessageForMeAction.deleteMedia is True
    assert value.deleteMessageForMeAction.messageTimestamp == 1764001900
    assert value.clearChatAction.messageRange.lastMessageTimestamp == 1764001800
    assert value.deleteChatAction.messageRange.lastMessageTimestamp == 1764001700
    assert value.unarchiveChatsSetting.unarchiveChats is True
    assert value.userStatusMuteAction.muted is True
    assert value.timeFormatAction.isTwentyFourHourFormatEnabled is True
    assert value.primaryVersionAction.version == "2.26.1.1"
    assert value.pnForLidChatAction.pnJID == DM
    assert value.lockChatAction.locked is True
    lid = value.lidContactAction
    assert (lid.fullName, lid.firstName, lid.username) == ("Lid Contact", "Lid", "lidder")
    assert value.keyExpiration.expiredKeyEpoch == 7
    label = value.labelEditAction
    assert (label.name, label.color, label.predefinedID, label.orderIndex) == ("Work", 3, 1, 2)
    assert label.isActive and not label.deleted
    assert label.type == wa_sync_action_pb2.LabelEditAction.CUSTOM
    assert value.labelAssociationAction.labeled is True


def test_syncd_patch_and_snapshot(exchange: Exchange) -> None:
    key_id = bytes([0, 0, 0, 0, 0x5A, 0x01])
    Op = wa_server_sync_pb2.SyncdMutation
    patch = get(exchange, "syncd_patch", wa_server_sync_pb2.SyncdPatch)
    assert patch.version.version == 42
    set_op, remove_op = patch.mutations
    assert set_op.HasField("operation") and set_op.operation == Op.SET
    assert remove_op.operation == Op.REMOVE
    assert set_op.record.index.blob == fill(0x61, 32)
    assert set_op.record.value.blob == fill(0x62, 96)
    assert key_id == set_op.record.keyID.ID
    assert remove_op.record.index.blob == fill(0x63, 32)
    assert remove_op.record.value.blob == fill(0x64, 80)
    assert (patch.snapshotMAC, patch.patchMAC) == (fill(0x65, 32), fill(0x66, 32))
    assert key_id == patch.keyID.ID and patch.deviceIndex == 5

    mutations = get(exchange, "syncd_mutations", wa_server_sync_pb2.SyncdMutations)
    assert list(mutations.mutations) == list(patch.mutations)

    external = get(exchange, "syncd_patch_external", wa_server_sync_pb2.SyncdPatch)
    assert external.version.version == 43 and not external.mutations
    blob = external.externalMutations
    assert blob.mediaKey == fill(0x67, 32)
    assert blob.directPath == "/v/t62.1234-24/55555_66666_n.enc?ccb=11-4"
    assert (blob.handle, blob.fileSizeBytes) == ("handle-1", 70000)
    assert (blob.fileSHA256, blob.fileEncSHA256) == (fill(0x68, 32), fill(0x69, 32))
    assert external.exitCode.HasField("code") and external.exitCode.text == "ok"

    snapshot = get(exchange, "syncd_snapshot", wa_server_sync_pb2.SyncdSnapshot)
    assert snapshot.version.version == 41
    (record,) = snapshot.records
    assert (record.index.blob, record.value.blob) == (fill(0x6C, 32), fill(0x6D, 64))
    assert key_id == record.keyID.ID
    assert snapshot.mac == fill(0x6E, 32) and key_id == snapshot.keyID.ID
