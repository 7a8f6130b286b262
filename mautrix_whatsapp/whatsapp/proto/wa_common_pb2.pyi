from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageKey(_message.Message):
    __slots__ = ("remoteJID", "fromMe", "ID", "participant")
    REMOTEJID_FIELD_NUMBER: _ClassVar[int]
    FROMME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    remoteJID: str
    fromMe: bool
    ID: str
    participant: str
    def __init__(self, remoteJID: _Optional[str] = ..., fromMe: _Optional[bool] = ..., ID: _Optional[str] = ..., participant: _Optional[str] = ...) -> None: ...

class LimitSharing(_message.Message):
    __slots__ = ("sharingLimited", "trigger", "limitSharingSettingTimestamp", "initiatedByMe")
    class Trigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[LimitSharing.Trigger]
        CHAT_SETTING: _ClassVar[LimitSharing.Trigger]
        BIZ_SUPPORTS_FB_HOSTING: _ClassVar[LimitSharing.Trigger]
        UNKNOWN_GROUP: _ClassVar[LimitSharing.Trigger]
    UNKNOWN: LimitSharing.Trigger
    CHAT_SETTING: LimitSharing.Trigger
    BIZ_SUPPORTS_FB_HOSTING: LimitSharing.Trigger
    UNKNOWN_GROUP: LimitSharing.Trigger
    SHARINGLIMITED_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    LIMITSHARINGSETTINGTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    INITIATEDBYME_FIELD_NUMBER: _ClassVar[int]
    sharingLimited: bool
    trigger: LimitSharing.Trigger
    limitSharingSettingTimestamp: int
    initiatedByMe: bool
    def __init__(self, sharingLimited: _Optional[bool] = ..., trigger: _Optional[_Union[LimitSharing.Trigger, str]] = ..., limitSharingSettingTimestamp: _Optional[int] = ..., initiatedByMe: _Optional[bool] = ...) -> None: ...
