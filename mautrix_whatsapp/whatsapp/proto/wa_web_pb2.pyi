from mautrix_whatsapp.whatsapp.proto import wa_common_pb2 as _wa_common_pb2
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2 as _wa_e2e_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebMessageInfo(_message.Message):
    __slots__ = ("key", "message", "messageTimestamp", "status", "participant", "messageC2STimestamp", "ignore", "starred", "broadcast", "pushName", "mediaCiphertextSHA256", "multicast", "urlText", "urlNumber", "messageStubType", "clearMedia", "messageStubParameters", "duration", "labels", "finalLiveLocation", "ephemeralStartTimestamp", "ephemeralDuration", "ephemeralOffToOn", "ephemeralOutOfSync", "bizPrivacyStatus", "verifiedBizName", "photoChange", "userReceipt", "reactions", "pollUpdates", "pollAdditionalMetadata", "agentID", "statusAlreadyViewed", "messageSecret", "originalSelfAuthorUserJIDString", "revokeMessageTimestamp", "pinInChat", "is1PBizBotMessage", "isGroupHistoryMessage", "botMessageInvokerJID", "newsletterServerID", "targetMessageID", "nonJIDMentions", "ephemeralExpirationTimestamp")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ERROR: _ClassVar[WebMessageInfo.Status]
        PENDING: _ClassVar[WebMessageInfo.Status]
        SERVER_ACK: _ClassVar[WebMessageInfo.Status]
        DELIVERY_ACK: _ClassVar[WebMessageInfo.Status]
        READ: _ClassVar[WebMessageInfo.Status]
        PLAYED: _ClassVar[WebMessageInfo.Status]
    ERROR: WebMessageInfo.Status
    PENDING: WebMessageInfo.Status
    SERVER_ACK: WebMessageInfo.Status
    DELIVERY_ACK: WebMessageInfo.Status
    READ: WebMessageInfo.Status
    PLAYED: WebMessageInfo.Status
    class BizPrivacyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        E2EE: _ClassVar[WebMessageInfo.BizPrivacyStatus]
        BSP: _ClassVar[WebMessageInfo.BizPrivacyStatus]
        FB: _ClassVar[WebMessageInfo.BizPrivacyStatus]
        BSP_AND_FB: _ClassVar[WebMessageInfo.BizPrivacyStatus]
    E2EE: WebMessageInfo.BizPrivacyStatus
    BSP: WebMessageInfo.BizPrivacyStatus
    FB: WebMessageInfo.BizPrivacyStatus
    BSP_AND_FB: WebMessageInfo.BizPrivacyStatus
    class StubType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[WebMessageInfo.StubType]
        REVOKE: _ClassVar[WebMessageInfo.StubType]
        CIPHERTEXT: _ClassVar[WebMessageInfo.StubType]
        FUTUREPROOF: _ClassVar[WebMessageInfo.StubType]
        NON_VERIFIED_TRANSITION: _ClassVar[WebMessageInfo.StubType]
        UNVERIFIED_TRANSITION: _ClassVar[WebMessageInfo.StubType]
        VERIFIED_TRANSITION: _ClassVar[WebMessageInfo.StubType]
        GROUP_CREATE: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_SUBJECT: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_ICON: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_INVITE_LINK: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_DESCRIPTION: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_RESTRICT: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_ANNOUNCE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_ADD: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_REMOVE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_PROMOTE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_DEMOTE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_INVITE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_LEAVE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_CHANGE_NUMBER: _ClassVar[WebMessageInfo.StubType]
        BROADCAST_CREATE: _ClassVar[WebMessageInfo.StubType]
        BROADCAST_ADD: _ClassVar[WebMessageInfo.StubType]
        BROADCAST_REMOVE: _ClassVar[WebMessageInfo.StubType]
        GENERIC_NOTIFICATION: _ClassVar[WebMessageInfo.StubType]
        E2E_IDENTITY_CHANGED: _ClassVar[WebMessageInfo.StubType]
        E2E_ENCRYPTED: _ClassVar[WebMessageInfo.StubType]
        CALL_MISSED_VOICE: _ClassVar[WebMessageInfo.StubType]
        CALL_MISSED_VIDEO: _ClassVar[WebMessageInfo.StubType]
        INDIVIDUAL_CHANGE_NUMBER: _ClassVar[WebMessageInfo.StubType]
        GROUP_DELETE: _ClassVar[WebMessageInfo.StubType]
        GROUP_ANNOUNCE_MODE_MESSAGE_BOUNCE: _ClassVar[WebMessageInfo.StubType]
        CALL_MISSED_GROUP_VOICE: _ClassVar[WebMessageInfo.StubType]
        CALL_MISSED_GROUP_VIDEO: _ClassVar[WebMessageInfo.StubType]
        OVERSIZED: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_NO_FREQUENTLY_FORWARDED: _ClassVar[WebMessageInfo.StubType]
        GROUP_V4_ADD_INVITE_SENT: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_ADD_REQUEST_JOIN: _ClassVar[WebMessageInfo.StubType]
        CHANGE_EPHEMERAL_SETTING: _ClassVar[WebMessageInfo.StubType]
        E2E_DEVICE_CHANGED: _ClassVar[WebMessageInfo.StubType]
        VIEWED_ONCE: _ClassVar[WebMessageInfo.StubType]
        E2E_ENCRYPTED_NOW: _ClassVar[WebMessageInfo.StubType]
        E2E_IDENTITY_UNAVAILABLE: _ClassVar[WebMessageInfo.StubType]
        GROUP_CREATING: _ClassVar[WebMessageInfo.StubType]
        GROUP_CREATE_FAILED: _ClassVar[WebMessageInfo.StubType]
        GROUP_BOUNCED: _ClassVar[WebMessageInfo.StubType]
        BLOCK_CONTACT: _ClassVar[WebMessageInfo.StubType]
        EPHEMERAL_SETTING_NOT_APPLIED: _ClassVar[WebMessageInfo.StubType]
        SYNC_FAILED: _ClassVar[WebMessageInfo.StubType]
        SYNCING: _ClassVar[WebMessageInfo.StubType]
        DISAPPEARING_MODE: _ClassVar[WebMessageInfo.StubType]
        E2E_DEVICE_FETCH_FAILED: _ClassVar[WebMessageInfo.StubType]
        ADMIN_REVOKE: _ClassVar[WebMessageInfo.StubType]
        GROUP_INVITE_LINK_GROWTH_LOCKED: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_ACCEPT: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_LINKED_GROUP_JOIN: _ClassVar[WebMessageInfo.StubType]
        COMMUNITY_CREATE: _ClassVar[WebMessageInfo.StubType]
        EPHEMERAL_KEEP_IN_CHAT: _ClassVar[WebMessageInfo.StubType]
        GROUP_MEMBERSHIP_JOIN_APPROVAL_REQUEST: _ClassVar[WebMessageInfo.StubType]
        GROUP_MEMBERSHIP_JOIN_APPROVAL_MODE: _ClassVar[WebMessageInfo.StubType]
        CHAT_POLL_CREATION_MESSAGE: _ClassVar[WebMessageInfo.StubType]
        SCHEDULED_CALL_START_MESSAGE: _ClassVar[WebMessageInfo.StubType]
        SILENCED_UNKNOWN_CALLER_AUDIO: _ClassVar[WebMessageInfo.StubType]
        SILENCED_UNKNOWN_CALLER_VIDEO: _ClassVar[WebMessageInfo.StubType]
        GROUP_MEMBER_ADD_MODE: _ClassVar[WebMessageInfo.StubType]
        PINNED_MESSAGE_IN_CHAT: _ClassVar[WebMessageInfo.StubType]
        CHANGE_USERNAME: _ClassVar[WebMessageInfo.StubType]
        CHANGE_LID: _ClassVar[WebMessageInfo.StubType]
    UNKNOWN: WebMessageInfo.StubType
    REVOKE: WebMessageInfo.StubType
    CIPHERTEXT: WebMessageInfo.StubType
    FUTUREPROOF: WebMessageInfo.StubType
    NON_VERIFIED_TRANSITION: WebMessageInfo.StubType
    UNVERIFIED_TRANSITION: WebMessageInfo.StubType
    VERIFIED_TRANSITION: WebMessageInfo.StubType
    GROUP_CREATE: WebMessageInfo.StubType
    GROUP_CHANGE_SUBJECT: WebMessageInfo.StubType
    GROUP_CHANGE_ICON: WebMessageInfo.StubType
    GROUP_CHANGE_INVITE_LINK: WebMessageInfo.StubType
    GROUP_CHANGE_DESCRIPTION: WebMessageInfo.StubType
    GROUP_CHANGE_RESTRICT: WebMessageInfo.StubType
    GROUP_CHANGE_ANNOUNCE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_ADD: WebMessageInfo.StubType
    GROUP_PARTICIPANT_REMOVE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_PROMOTE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_DEMOTE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_INVITE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_LEAVE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_CHANGE_NUMBER: WebMessageInfo.StubType
    BROADCAST_CREATE: WebMessageInfo.StubType
    BROADCAST_ADD: WebMessageInfo.StubType
    BROADCAST_REMOVE: WebMessageInfo.StubType
    GENERIC_NOTIFICATION: WebMessageInfo.StubType
    E2E_IDENTITY_CHANGED: WebMessageInfo.StubType
    E2E_ENCRYPTED: WebMessageInfo.StubType
    CALL_MISSED_VOICE: WebMessageInfo.StubType
    CALL_MISSED_VIDEO: WebMessageInfo.StubType
    INDIVIDUAL_CHANGE_NUMBER: WebMessageInfo.StubType
    GROUP_DELETE: WebMessageInfo.StubType
    GROUP_ANNOUNCE_MODE_MESSAGE_BOUNCE: WebMessageInfo.StubType
    CALL_MISSED_GROUP_VOICE: WebMessageInfo.StubType
    CALL_MISSED_GROUP_VIDEO: WebMessageInfo.StubType
    OVERSIZED: WebMessageInfo.StubType
    GROUP_CHANGE_NO_FREQUENTLY_FORWARDED: WebMessageInfo.StubType
    GROUP_V4_ADD_INVITE_SENT: WebMessageInfo.StubType
    GROUP_PARTICIPANT_ADD_REQUEST_JOIN: WebMessageInfo.StubType
    CHANGE_EPHEMERAL_SETTING: WebMessageInfo.StubType
    E2E_DEVICE_CHANGED: WebMessageInfo.StubType
    VIEWED_ONCE: WebMessageInfo.StubType
    E2E_ENCRYPTED_NOW: WebMessageInfo.StubType
    E2E_IDENTITY_UNAVAILABLE: WebMessageInfo.StubType
    GROUP_CREATING: WebMessageInfo.StubType
    GROUP_CREATE_FAILED: WebMessageInfo.StubType
    GROUP_BOUNCED: WebMessageInfo.StubType
    BLOCK_CONTACT: WebMessageInfo.StubType
    EPHEMERAL_SETTING_NOT_APPLIED: WebMessageInfo.StubType
    SYNC_FAILED: WebMessageInfo.StubType
    SYNCING: WebMessageInfo.StubType
    DISAPPEARING_MODE: WebMessageInfo.StubType
    E2E_DEVICE_FETCH_FAILED: WebMessageInfo.StubType
    ADMIN_REVOKE: WebMessageInfo.StubType
    GROUP_INVITE_LINK_GROWTH_LOCKED: WebMessageInfo.StubType
    GROUP_PARTICIPANT_ACCEPT: WebMessageInfo.StubType
    GROUP_PARTICIPANT_LINKED_GROUP_JOIN: WebMessageInfo.StubType
    COMMUNITY_CREATE: WebMessageInfo.StubType
    EPHEMERAL_KEEP_IN_CHAT: WebMessageInfo.StubType
    GROUP_MEMBERSHIP_JOIN_APPROVAL_REQUEST: WebMessageInfo.StubType
    GROUP_MEMBERSHIP_JOIN_APPROVAL_MODE: WebMessageInfo.StubType
    CHAT_POLL_CREATION_MESSAGE: WebMessageInfo.StubType
    SCHEDULED_CALL_START_MESSAGE: WebMessageInfo.StubType
    SILENCED_UNKNOWN_CALLER_AUDIO: WebMessageInfo.StubType
    SILENCED_UNKNOWN_CALLER_VIDEO: WebMessageInfo.StubType
    GROUP_MEMBER_ADD_MODE: WebMessageInfo.StubType
    PINNED_MESSAGE_IN_CHAT: WebMessageInfo.StubType
    CHANGE_USERNAME: WebMessageInfo.StubType
    CHANGE_LID: WebMessageInfo.StubType
    KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    MESSAGEC2STIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IGNORE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    PUSHNAME_FIELD_NUMBER: _ClassVar[int]
    MEDIACIPHERTEXTSHA256_FIELD_NUMBER: _ClassVar[int]
    MULTICAST_FIELD_NUMBER: _ClassVar[int]
    URLTEXT_FIELD_NUMBER: _ClassVar[int]
    URLNUMBER_FIELD_NUMBER: _ClassVar[int]
    MESSAGESTUBTYPE_FIELD_NUMBER: _ClassVar[int]
    CLEARMEDIA_FIELD_NUMBER: _ClassVar[int]
    MESSAGESTUBPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    FINALLIVELOCATION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALSTARTTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALDURATION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALOFFTOON_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALOUTOFSYNC_FIELD_NUMBER: _ClassVar[int]
    BIZPRIVACYSTATUS_FIELD_NUMBER: _ClassVar[int]
    VERIFIEDBIZNAME_FIELD_NUMBER: _ClassVar[int]
    PHOTOCHANGE_FIELD_NUMBER: _ClassVar[int]
    USERRECEIPT_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    POLLUPDATES_FIELD_NUMBER: _ClassVar[int]
    POLLADDITIONALMETADATA_FIELD_NUMBER: _ClassVar[int]
    AGENTID_FIELD_NUMBER: _ClassVar[int]
    STATUSALREADYVIEWED_FIELD_NUMBER: _ClassVar[int]
    MESSAGESECRET_FIELD_NUMBER: _ClassVar[int]
    ORIGINALSELFAUTHORUSERJIDSTRING_FIELD_NUMBER: _ClassVar[int]
    REVOKEMESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PININCHAT_FIELD_NUMBER: _ClassVar[int]
    IS1PBIZBOTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    ISGROUPHISTORYMESSAGE_FIELD_NUMBER: _ClassVar[int]
    BOTMESSAGEINVOKERJID_FIELD_NUMBER: _ClassVar[int]
    NEWSLETTERSERVERID_FIELD_NUMBER: _ClassVar[int]
    TARGETMESSAGEID_FIELD_NUMBER: _ClassVar[int]
    NONJIDMENTIONS_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALEXPIRATIONTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    key: _wa_common_pb2.MessageKey
    message: _wa_e2e_pb2.Message
    messageTimestamp: int
    status: WebMessageInfo.Status
    participant: str
    messageC2STimestamp: int
    ignore: bool
    starred: bool
    broadcast: bool
    pushName: str
    mediaCiphertextSHA256: bytes
    multicast: bool
    urlText: bool
    urlNumber: bool
    messageStubType: WebMessageInfo.StubType
    clearMedia: bool
    messageStubParameters: _containers.RepeatedScalarFieldContainer[str]
    duration: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    finalLiveLocation: _wa_e2e_pb2.LiveLocationMessage
    ephemeralStartTimestamp: int
    ephemeralDuration: int
    ephemeralOffToOn: bool
    ephemeralOutOfSync: bool
    bizPrivacyStatus: WebMessageInfo.BizPrivacyStatus
    verifiedBizName: str
    photoChange: PhotoChange
    userReceipt: _containers.RepeatedCompositeFieldContainer[UserReceipt]
    reactions: _containers.RepeatedCompositeFieldContainer[Reaction]
    pollUpdates: _containers.RepeatedCompositeFieldContainer[PollUpdate]
    pollAdditionalMetadata: PollAdditionalMetadata
    agentID: str
    statusAlreadyViewed: bool
    messageSecret: bytes
    originalSelfAuthorUserJIDString: str
    revokeMessageTimestamp: int
    pinInChat: PinInChat
    is1PBizBotMessage: bool
    isGroupHistoryMessage: bool
    botMessageInvokerJID: str
    newsletterServerID: int
    targetMessageID: _wa_common_pb2.MessageKey
    nonJIDMentions: int
    ephemeralExpirationTimestamp: int
    def __init__(self, key: _Optional[_Union[_wa_common_pb2.MessageKey, _Mapping]] = ..., message: _Optional[_Union[_wa_e2e_pb2.Message, _Mapping]] = ..., messageTimestamp: _Optional[int] = ..., status: _Optional[_Union[WebMessageInfo.Status, str]] = ..., participant: _Optional[str] = ..., messageC2STimestamp: _Optional[int] = ..., ignore: _Optional[bool] = ..., starred: _Optional[bool] = ..., broadcast: _Optional[bool] = ..., pushName: _Optional[str] = ..., mediaCiphertextSHA256: _Optional[bytes] = ..., multicast: _Optional[bool] = ..., urlText: _Optional[bool] = ..., urlNumber: _Optional[bool] = ..., messageStubType: _Optional[_Union[WebMessageInfo.StubType, str]] = ..., clearMedia: _Optional[bool] = ..., messageStubParameters: _Optional[_Iterable[str]] = ..., duration: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., finalLiveLocation: _Optional[_Union[_wa_e2e_pb2.LiveLocationMessage, _Mapping]] = ..., ephemeralStartTimestamp: _Optional[int] = ..., ephemeralDuration: _Optional[int] = ..., ephemeralOffToOn: _Optional[bool] = ..., ephemeralOutOfSync: _Optional[bool] = ..., bizPrivacyStatus: _Optional[_Union[WebMessageInfo.BizPrivacyStatus, str]] = ..., verifiedBizName: _Optional[str] = ..., photoChange: _Optional[_Union[PhotoChange, _Mapping]] = ..., userReceipt: _Optional[_Iterable[_Union[UserReceipt, _Mapping]]] = ..., reactions: _Optional[_Iterable[_Union[Reaction, _Mapping]]] = ..., pollUpdates: _Optional[_Iterable[_Union[PollUpdate, _Mapping]]] = ..., pollAdditionalMetadata: _Optional[_Union[PollAdditionalMetadata, _Mapping]] = ..., agentID: _Optional[str] = ..., statusAlreadyViewed: _Optional[bool] = ..., messageSecret: _Optional[bytes] = ..., originalSelfAuthorUserJIDString: _Optional[str] = ..., revokeMessageTimestamp: _Optional[int] = ..., pinInChat: _Optional[_Union[PinInChat, _Mapping]] = ..., is1PBizBotMessage: _Optional[bool] = ..., isGroupHistoryMessage: _Optional[bool] = ..., botMessageInvokerJID: _Optional[str] = ..., newsletterServerID: _Optional[int] = ..., targetMessageID: _Optional[_Union[_wa_common_pb2.MessageKey, _Mapping]] = ..., nonJIDMentions: _Optional[int] = ..., ephemeralExpirationTimestamp: _Optional[int] = ...) -> None: ...

class UserReceipt(_message.Message):
    __slots__ = ("userJID", "receiptTimestamp", "readTimestamp", "playedTimestamp", "pendingDeviceJID", "deliveredDeviceJID")
    USERJID_FIELD_NUMBER: _ClassVar[int]
    RECEIPTTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    READTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PLAYEDTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PENDINGDEVICEJID_FIELD_NUMBER: _ClassVar[int]
    DELIVEREDDEVICEJID_FIELD_NUMBER: _ClassVar[int]
    userJID: str
    receiptTimestamp: int
    readTimestamp: int
    playedTimestamp: int
    pendingDeviceJID: _containers.RepeatedScalarFieldContainer[str]
    deliveredDeviceJID: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, userJID: _Optional[str] = ..., receiptTimestamp: _Optional[int] = ..., readTimestamp: _Optional[int] = ..., playedTimestamp: _Optional[int] = ..., pendingDeviceJID: _Optional[_Iterable[str]] = ..., deliveredDeviceJID: _Optional[_Iterable[str]] = ...) -> None: ...

class Reaction(_message.Message):
    __slots__ = ("key", "text", "groupingKey", "senderTimestampMS", "unread")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GROUPINGKEY_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    key: _wa_common_pb2.MessageKey
    text: str
    groupingKey: str
    senderTimestampMS: int
    unread: bool
    def __init__(self, key: _Optional[_Union[_wa_common_pb2.MessageKey, _Mapping]] = ..., text: _Optional[str] = ..., groupingKey: _Optional[str] = ..., senderTimestampMS: _Optional[int] = ..., unread: _Optional[bool] = ...) -> None: ...

class PollUpdate(_message.Message):
    __slots__ = ("pollUpdateMessageKey", "vote", "senderTimestampMS", "serverTimestampMS", "unread", "metadata")
    POLLUPDATEMESSAGEKEY_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    SERVERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    pollUpdateMessageKey: _wa_common_pb2.MessageKey
    vote: _wa_e2e_pb2.PollVoteMessage
    senderTimestampMS: int
    serverTimestampMS: int
    unread: bool
    metadata: _wa_e2e_pb2.PollUpdateMessageMetadata
    def __init__(self, pollUpdateMessageKey: _Optional[_Union[_wa_common_pb2.MessageKey, _Mapping]] = ..., vote: _Optional[_Union[_wa_e2e_pb2.PollVoteMessage, _Mapping]] = ..., senderTimestampMS: _Optional[int] = ..., serverTimestampMS: _Optional[int] = ..., unread: _Optional[bool] = ..., metadata: _Optional[_Union[_wa_e2e_pb2.PollUpdateMessageMetadata, _Mapping]] = ...) -> None: ...

class PollAdditionalMetadata(_message.Message):
    __slots__ = ("pollInvalidated", "pollNameHashHistory")
    class PollNameHashHistoryEntry(_message.Message):
        __slots__ = ("editStanzaID", "pollNameHash")
        EDITSTANZAID_FIELD_NUMBER: _ClassVar[int]
        POLLNAMEHASH_FIELD_NUMBER: _ClassVar[int]
        editStanzaID: str
        pollNameHash: bytes
        def __init__(self, editStanzaID: _Optional[str] = ..., pollNameHash: _Optional[bytes] = ...) -> None: ...
    POLLINVALIDATED_FIELD_NUMBER: _ClassVar[int]
    POLLNAMEHASHHISTORY_FIELD_NUMBER: _ClassVar[int]
    pollInvalidated: bool
    pollNameHashHistory: _containers.RepeatedCompositeFieldContainer[PollAdditionalMetadata.PollNameHashHistoryEntry]
    def __init__(self, pollInvalidated: _Optional[bool] = ..., pollNameHashHistory: _Optional[_Iterable[_Union[PollAdditionalMetadata.PollNameHashHistoryEntry, _Mapping]]] = ...) -> None: ...

class PhotoChange(_message.Message):
    __slots__ = ("oldPhoto", "newPhoto", "newPhotoID")
    OLDPHOTO_FIELD_NUMBER: _ClassVar[int]
    NEWPHOTO_FIELD_NUMBER: _ClassVar[int]
    NEWPHOTOID_FIELD_NUMBER: _ClassVar[int]
    oldPhoto: bytes
    newPhoto: bytes
    newPhotoID: int
    def __init__(self, oldPhoto: _Optional[bytes] = ..., newPhoto: _Optional[bytes] = ..., newPhotoID: _Optional[int] = ...) -> None: ...

class PinInChat(_message.Message):
    __slots__ = ("type", "key", "senderTimestampMS", "serverTimestampMS")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN_TYPE: _ClassVar[PinInChat.Type]
        PIN_FOR_ALL: _ClassVar[PinInChat.Type]
        UNPIN_FOR_ALL: _ClassVar[PinInChat.Type]
    UNKNOWN_TYPE: PinInChat.Type
    PIN_FOR_ALL: PinInChat.Type
    UNPIN_FOR_ALL: PinInChat.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    SERVERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    type: PinInChat.Type
    key: _wa_common_pb2.MessageKey
    senderTimestampMS: int
    serverTimestampMS: int
    def __init__(self, type: _Optional[_Union[PinInChat.Type, str]] = ..., key: _Optional[_Union[_wa_common_pb2.MessageKey, _Mapping]] = ..., senderTimestampMS: _Optional[int] = ..., serverTimestampMS: _Optional[int] = ...) -> None: ...
