from mautrix_whatsapp.whatsapp.proto import wa_common_pb2 as _wa_common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncActionData(_message.Message):
    __slots__ = ("index", "value", "padding", "version")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PADDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    index: bytes
    value: SyncActionValue
    padding: bytes
    version: int
    def __init__(self, index: _Optional[bytes] = ..., value: _Optional[_Union[SyncActionValue, _Mapping]] = ..., padding: _Optional[bytes] = ..., version: _Optional[int] = ...) -> None: ...

class SyncActionValue(_message.Message):
    __slots__ = ("timestamp", "starAction", "contactAction", "muteAction", "pinAction", "pushNameSetting", "labelEditAction", "labelAssociationAction", "localeSetting", "archiveChatAction", "deleteMessageForMeAction", "keyExpiration", "markChatAsReadAction", "clearChatAction", "deleteChatAction", "unarchiveChatsSetting", "userStatusMuteAction", "timeFormatAction", "primaryVersionAction", "pnForLidChatAction", "lockChatAction", "lidContactAction")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STARACTION_FIELD_NUMBER: _ClassVar[int]
    CONTACTACTION_FIELD_NUMBER: _ClassVar[int]
    MUTEACTION_FIELD_NUMBER: _ClassVar[int]
    PINACTION_FIELD_NUMBER: _ClassVar[int]
    PUSHNAMESETTING_FIELD_NUMBER: _ClassVar[int]
    LABELEDITACTION_FIELD_NUMBER: _ClassVar[int]
    LABELASSOCIATIONACTION_FIELD_NUMBER: _ClassVar[int]
    LOCALESETTING_FIELD_NUMBER: _ClassVar[int]
    ARCHIVECHATACTION_FIELD_NUMBER: _ClassVar[int]
    DELETEMESSAGEFORMEACTION_FIELD_NUMBER: _ClassVar[int]
    KEYEXPIRATION_FIELD_NUMBER: _ClassVar[int]
    MARKCHATASREADACTION_FIELD_NUMBER: _ClassVar[int]
    CLEARCHATACTION_FIELD_NUMBER: _ClassVar[int]
    DELETECHATACTION_FIELD_NUMBER: _ClassVar[int]
    UNARCHIVECHATSSETTING_FIELD_NUMBER: _ClassVar[int]
    USERSTATUSMUTEACTION_FIELD_NUMBER: _ClassVar[int]
    TIMEFORMATACTION_FIELD_NUMBER: _ClassVar[int]
    PRIMARYVERSIONACTION_FIELD_NUMBER: _ClassVar[int]
    PNFORLIDCHATACTION_FIELD_NUMBER: _ClassVar[int]
    LOCKCHATACTION_FIELD_NUMBER: _ClassVar[int]
    LIDCONTACTACTION_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    starAction: StarAction
    contactAction: ContactAction
    muteAction: MuteAction
    pinAction: PinAction
    pushNameSetting: PushNameSetting
    labelEditAction: LabelEditAction
    labelAssociationAction: LabelAssociationAction
    localeSetting: LocaleSetting
    archiveChatAction: ArchiveChatAction
    deleteMessageForMeAction: DeleteMessageForMeAction
    keyExpiration: KeyExpiration
    markChatAsReadAction: MarkChatAsReadAction
    clearChatAction: ClearChatAction
    deleteChatAction: DeleteChatAction
    unarchiveChatsSetting: UnarchiveChatsSetting
    userStatusMuteAction: UserStatusMuteAction
    timeFormatAction: TimeFormatAction
    primaryVersionAction: PrimaryVersionAction
    pnForLidChatAction: PnForLidChatAction
    lockChatAction: LockChatAction
    lidContactAction: LidContactAction
    def __init__(self, timestamp: _Optional[int] = ..., starAction: _Optional[_Union[StarAction, _Mapping]] = ..., contactAction: _Optional[_Union[ContactAction, _Mapping]] = ..., muteAction: _Optional[_Union[MuteAction, _Mapping]] = ..., pinAction: _Optional[_Union[PinAction, _Mapping]] = ..., pushNameSetting: _Optional[_Union[PushNameSetting, _Mapping]] = ..., labelEditAction: _Optional[_Union[LabelEditAction, _Mapping]] = ..., labelAssociationAction: _Optional[_Union[LabelAssociationAction, _Mapping]] = ..., localeSetting: _Optional[_Union[LocaleSetting, _Mapping]] = ..., archiveChatAction: _Optional[_Union[ArchiveChatAction, _Mapping]] = ..., deleteMessageForMeAction: _Optional[_Union[DeleteMessageForMeAction, _Mapping]] = ..., keyExpiration: _Optional[_Union[KeyExpiration, _Mapping]] = ..., markChatAsReadAction: _Optional[_Union[MarkChatAsReadAction, _Mapping]] = ..., clearChatAction: _Optional[_Union[ClearChatAction, _Mapping]] = ..., deleteChatAction: _Optional[_Union[DeleteChatAction, _Mapping]] = ..., unarchiveChatsSetting: _Optional[_Union[UnarchiveChatsSetting, _Mapping]] = ..., userStatusMuteAction: _Optional[_Union[UserStatusMuteAction, _Mapping]] = ..., timeFormatAction: _Optional[_Union[TimeFormatAction, _Mapping]] = ..., primaryVersionAction: _Optional[_Union[PrimaryVersionAction, _Mapping]] = ..., pnForLidChatAction: _Optional[_Union[PnForLidChatAction, _Mapping]] = ..., lockChatAction: _Optional[_Union[LockChatAction, _Mapping]] = ..., lidContactAction: _Optional[_Union[LidContactAction, _Mapping]] = ...) -> None: ...

class StarAction(_message.Message):
    __slots__ = ("starred",)
    STARRED_FIELD_NUMBER: _ClassVar[int]
    starred: bool
    def __init__(self, starred: _Optional[bool] = ...) -> None: ...

class ContactAction(_message.Message):
    __slots__ = ("fullName", "firstName", "lidJID", "saveOnPrimaryAddressbook", "pnJID", "username")
    FULLNAME_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LIDJID_FIELD_NUMBER: _ClassVar[int]
    SAVEONPRIMARYADDRESSBOOK_FIELD_NUMBER: _ClassVar[int]
    PNJID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    fullName: str
    firstName: str
    lidJID: str
    saveOnPrimaryAddressbook: bool
    pnJID: str
    username: str
    def __init__(self, fullName: _Optional[str] = ..., firstName: _Optional[str] = ..., lidJID: _Optional[str] = ..., saveOnPrimaryAddressbook: _Optional[bool] = ..., pnJID: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class LidContactAction(_message.Message):
    __slots__ = ("fullName", "firstName", "username")
    FULLNAME_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    fullName: str
    firstName: str
    username: str
    def __init__(self, fullName: _Optional[str] = ..., firstName: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class MuteAction(_message.Message):
    __slots__ = ("muted", "muteEndTimestamp", "autoMuted", "muteEveryoneMentionEndTimestamp")
    MUTED_FIELD_NUMBER: _ClassVar[int]
    MUTEENDTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    AUTOMUTED_FIELD_NUMBER: _ClassVar[int]
    MUTEEVERYONEMENTIONENDTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    muted: bool
    muteEndTimestamp: int
    autoMuted: bool
    muteEveryoneMentionEndTimestamp: int
    def __init__(self, muted: _Optional[bool] = ..., muteEndTimestamp: _Optional[int] = ..., autoMuted: _Optional[bool] = ..., muteEveryoneMentionEndTimestamp: _Optional[int] = ...) -> None: ...

class PinAction(_message.Message):
    __slots__ = ("pinned",)
    PINNED_FIELD_NUMBER: _ClassVar[int]
    pinned: bool
    def __init__(self, pinned: _Optional[bool] = ...) -> None: ...

class PushNameSetting(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class LocaleSetting(_message.Message):
    __slots__ = ("locale",)
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    locale: str
    def __init__(self, locale: _Optional[str] = ...) -> None: ...

class ArchiveChatAction(_message.Message):
    __slots__ = ("archived", "messageRange")
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    MESSAGERANGE_FIELD_NUMBER: _ClassVar[int]
    archived: bool
    messageRange: SyncActionMessageRange
    def __init__(self, archived: _Optional[bool] = ..., messageRange: _Optional[_Union[SyncActionMessageRange, _Mapping]] = ...) -> None: ...

class MarkChatAsReadAction(_message.Message):
    __slots__ = ("read", "messageRange")
    READ_FIELD_NUMBER: _ClassVar[int]
    MESSAGERANGE_FIELD_NUMBER: _ClassVar[int]
    read: bool
    messageRange: SyncActionMessageRange
    def __init__(self, read: _Optional[bool] = ..., messageRange: _Optional[_Union[SyncActionMessageRange, _Mapping]] = ...) -> None: ...

class ClearChatAction(_message.Message):
    __slots__ = ("messageRange",)
    MESSAGERANGE_FIELD_NUMBER: _ClassVar[int]
    messageRange: SyncActionMessageRange
    def __init__(self, messageRange: _Optional[_Union[SyncActionMessageRange, _Mapping]] = ...) -> None: ...

class DeleteChatAction(_message.Message):
    __slots__ = ("messageRange",)
    MESSAGERANGE_FIELD_NUMBER: _ClassVar[int]
    messageRange: SyncActionMessageRange
    def __init__(self, messageRange: _Optional[_Union[SyncActionMessageRange, _Mapping]] = ...) -> None: ...

class DeleteMessageForMeAction(_message.Message):
    __slots__ = ("deleteMedia", "messageTimestamp")
    DELETEMEDIA_FIELD_NUMBER: _ClassVar[int]
    MESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    deleteMedia: bool
    messageTimestamp: int
    def __init__(self, deleteMedia: _Optional[bool] = ..., messageTimestamp: _Optional[int] = ...) -> None: ...

class UnarchiveChatsSetting(_message.Message):
    __slots__ = ("unarchiveChats",)
    UNARCHIVECHATS_FIELD_NUMBER: _ClassVar[int]
    unarchiveChats: bool
    def __init__(self, unarchiveChats: _Optional[bool] = ...) -> None: ...

class UserStatusMuteAction(_message.Message):
    __slots__ = ("muted",)
    MUTED_FIELD_NUMBER: _ClassVar[int]
    muted: bool
    def __init__(self, muted: _Optional[bool] = ...) -> None: ...

class TimeFormatAction(_message.Message):
    __slots__ = ("isTwentyFourHourFormatEnabled",)
    ISTWENTYFOURHOURFORMATENABLED_FIELD_NUMBER: _ClassVar[int]
    isTwentyFourHourFormatEnabled: bool
    def __init__(self, isTwentyFourHourFormatEnabled: _Optional[bool] = ...) -> None: ...

class PrimaryVersionAction(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class PnForLidChatAction(_message.Message):
    __slots__ = ("pnJID",)
    PNJID_FIELD_NUMBER: _ClassVar[int]
    pnJID: str
    def __init__(self, pnJID: _Optional[str] = ...) -> None: ...

class LockChatAction(_message.Message):
    __slots__ = ("locked",)
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    locked: bool
    def __init__(self, locked: _Optional[bool] = ...) -> None: ...

class KeyExpiration(_message.Message):
    __slots__ = ("expiredKeyEpoch",)
    EXPIREDKEYEPOCH_FIELD_NUMBER: _ClassVar[int]
    expiredKeyEpoch: int
    def __init__(self, expiredKeyEpoch: _Optional[int] = ...) -> None: ...

class LabelEditAction(_message.Message):
    __slots__ = ("name", "color", "predefinedID", "deleted", "orderIndex", "isActive", "type", "isImmutable", "muteEndTimeMS")
    class ListType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NONE: _ClassVar[LabelEditAction.ListType]
        UNREAD: _ClassVar[LabelEditAction.ListType]
        GROUPS: _ClassVar[LabelEditAction.ListType]
        FAVORITES: _ClassVar[LabelEditAction.ListType]
        PREDEFINED: _ClassVar[LabelEditAction.ListType]
        CUSTOM: _ClassVar[LabelEditAction.ListType]
        COMMUNITY: _ClassVar[LabelEditAction.ListType]
        SERVER_ASSIGNED: _ClassVar[LabelEditAction.ListType]
        DRAFTED: _ClassVar[LabelEditAction.ListType]
        AI_HANDOFF: _ClassVar[LabelEditAction.ListType]
        CHANNELS: _ClassVar[LabelEditAction.ListType]
        AI_RESPONDING: _ClassVar[LabelEditAction.ListType]
        ARCHIVED: _ClassVar[LabelEditAction.ListType]
        LOCKED: _ClassVar[LabelEditAction.ListType]
        INVITES: _ClassVar[LabelEditAction.ListType]
        THIRD_PARTY: _ClassVar[LabelEditAction.ListType]
        LEAD: _ClassVar[LabelEditAction.ListType]
        MENTIONS_AND_REPLIES: _ClassVar[LabelEditAction.ListType]
    NONE: LabelEditAction.ListType
    UNREAD: LabelEditAction.ListType
    GROUPS: LabelEditAction.ListType
    FAVORITES: LabelEditAction.ListType
    PREDEFINED: LabelEditAction.ListType
    CUSTOM: LabelEditAction.ListType
    COMMUNITY: LabelEditAction.ListType
    SERVER_ASSIGNED: LabelEditAction.ListType
    DRAFTED: LabelEditAction.ListType
    AI_HANDOFF: LabelEditAction.ListType
    CHANNELS: LabelEditAction.ListType
    AI_RESPONDING: LabelEditAction.ListType
    ARCHIVED: LabelEditAction.ListType
    LOCKED: LabelEditAction.ListType
    INVITES: LabelEditAction.ListType
    THIRD_PARTY: LabelEditAction.ListType
    LEAD: LabelEditAction.ListType
    MENTIONS_AND_REPLIES: LabelEditAction.ListType
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    PREDEFINEDID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    ORDERINDEX_FIELD_NUMBER: _ClassVar[int]
    ISACTIVE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ISIMMUTABLE_FIELD_NUMBER: _ClassVar[int]
    MUTEENDTIMEMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    color: int
    predefinedID: int
    deleted: bool
    orderIndex: int
    isActive: bool
    type: LabelEditAction.ListType
    isImmutable: bool
    muteEndTimeMS: int
    def __init__(self, name: _Optional[str] = ..., color: _Optional[int] = ..., predefinedID: _Optional[int] = ..., deleted: _Optional[bool] = ..., orderIndex: _Optional[int] = ..., isActive: _Optional[bool] = ..., type: _Optional[_Union[LabelEditAction.ListType, str]] = ..., isImmutable: _Optional[bool] = ..., muteEndTimeMS: _Optional[int] = ...) -> None: ...

class LabelAssociationAction(_message.Message):
    __slots__ = ("labeled", "modelMetaData")
    LABELED_FIELD_NUMBER: _ClassVar[int]
    MODELMETADATA_FIELD_NUMBER: _ClassVar[int]
    labeled: bool
    modelMetaData: str
    def __init__(self, labeled: _Optional[bool] = ..., modelMetaData: _Optional[str] = ...) -> None: ...

class SyncActionMessageRange(_message.Message):
    __slots__ = ("lastMessageTimestamp", "lastSystemMessageTimestamp", "messages")
    LASTMESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LASTSYSTEMMESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    lastMessageTimestamp: int
    lastSystemMessageTimestamp: int
    messages: _containers.RepeatedCompositeFieldContainer[SyncActionMessage]
    def __init__(self, lastMessageTimestamp: _Optional[int] = ..., lastSystemMessageTimestamp: _Optional[int] = ..., messages: _Optional[_Iterable[_Union[SyncActionMessage, _Mapping]]] = ...) -> None: ...

class SyncActionMessage(_message.Message):
    __slots__ = ("key", "timestamp")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    key: _wa_common_pb2.MessageKey
    timestamp: int
    def __init__(self, key: _Optional[_Union[_wa_common_pb2.MessageKey, _Mapping]] = ..., timestamp: _Optional[int] = ...) -> None: ...
