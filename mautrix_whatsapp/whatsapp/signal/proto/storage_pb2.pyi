from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStructure(_message.Message):
    __slots__ = ("sessionVersion", "localIdentityPublic", "remoteIdentityPublic", "rootKey", "previousCounter", "senderChain", "receiverChains", "pendingPreKey", "remoteRegistrationId", "localRegistrationId", "needsRefresh", "aliceBaseKey")
    class Chain(_message.Message):
        __slots__ = ("senderRatchetKey", "senderRatchetKeyPrivate", "chainKey", "messageKeys")
        class ChainKey(_message.Message):
            __slots__ = ("index", "key")
            INDEX_FIELD_NUMBER: _ClassVar[int]
            KEY_FIELD_NUMBER: _ClassVar[int]
            index: int
            key: bytes
            def __init__(self, index: _Optional[int] = ..., key: _Optional[bytes] = ...) -> None: ...
        class MessageKey(_message.Message):
            __slots__ = ("index", "cipherKey", "macKey", "iv")
            INDEX_FIELD_NUMBER: _ClassVar[int]
            CIPHERKEY_FIELD_NUMBER: _ClassVar[int]
            MACKEY_FIELD_NUMBER: _ClassVar[int]
            IV_FIELD_NUMBER: _ClassVar[int]
            index: int
            cipherKey: bytes
            macKey: bytes
            iv: bytes
            def __init__(self, index: _Optional[int] = ..., cipherKey: _Optional[bytes] = ..., macKey: _Optional[bytes] = ..., iv: _Optional[bytes] = ...) -> None: ...
        SENDERRATCHETKEY_FIELD_NUMBER: _ClassVar[int]
        SENDERRATCHETKEYPRIVATE_FIELD_NUMBER: _ClassVar[int]
        CHAINKEY_FIELD_NUMBER: _ClassVar[int]
        MESSAGEKEYS_FIELD_NUMBER: _ClassVar[int]
        senderRatchetKey: bytes
        senderRatchetKeyPrivate: bytes
        chainKey: SessionStructure.Chain.ChainKey
        messageKeys: _containers.RepeatedCompositeFieldContainer[SessionStructure.Chain.MessageKey]
        def __init__(self, senderRatchetKey: _Optional[bytes] = ..., senderRatchetKeyPrivate: _Optional[bytes] = ..., chainKey: _Optional[_Union[SessionStructure.Chain.ChainKey, _Mapping]] = ..., messageKeys: _Optional[_Iterable[_Union[SessionStructure.Chain.MessageKey, _Mapping]]] = ...) -> None: ...
    class PendingPreKey(_message.Message):
        __slots__ = ("preKeyId", "signedPreKeyId", "baseKey")
        PREKEYID_FIELD_NUMBER: _ClassVar[int]
        SIGNEDPREKEYID_FIELD_NUMBER: _ClassVar[int]
        BASEKEY_FIELD_NUMBER: _ClassVar[int]
        preKeyId: int
        signedPreKeyId: int
        baseKey: bytes
        def __init__(self, preKeyId: _Optional[int] = ..., signedPreKeyId: _Optional[int] = ..., baseKey: _Optional[bytes] = ...) -> None: ...
    SESSIONVERSION_FIELD_NUMBER: _ClassVar[int]
    LOCALIDENTITYPUBLIC_FIELD_NUMBER: _ClassVar[int]
    REMOTEIDENTITYPUBLIC_FIELD_NUMBER: _ClassVar[int]
    ROOTKEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUSCOUNTER_FIELD_NUMBER: _ClassVar[int]
    SENDERCHAIN_FIELD_NUMBER: _ClassVar[int]
    RECEIVERCHAINS_FIELD_NUMBER: _ClassVar[int]
    PENDINGPREKEY_FIELD_NUMBER: _ClassVar[int]
    REMOTEREGISTRATIONID_FIELD_NUMBER: _ClassVar[int]
    LOCALREGISTRATIONID_FIELD_NUMBER: _ClassVar[int]
    NEEDSREFRESH_FIELD_NUMBER: _ClassVar[int]
    ALICEBASEKEY_FIELD_NUMBER: _ClassVar[int]
    sessionVersion: int
    localIdentityPublic: bytes
    remoteIdentityPublic: bytes
    rootKey: bytes
    previousCounter: int
    senderChain: SessionStructure.Chain
    receiverChains: _containers.RepeatedCompositeFieldContainer[SessionStructure.Chain]
    pendingPreKey: SessionStructure.PendingPreKey
    remoteRegistrationId: int
    localRegistrationId: int
    needsRefresh: bool
    aliceBaseKey: bytes
    def __init__(self, sessionVersion: _Optional[int] = ..., localIdentityPublic: _Optional[bytes] = ..., remoteIdentityPublic: _Optional[bytes] = ..., rootKey: _Optional[bytes] = ..., previousCounter: _Optional[int] = ..., senderChain: _Optional[_Union[SessionStructure.Chain, _Mapping]] = ..., receiverChains: _Optional[_Iterable[_Union[SessionStructure.Chain, _Mapping]]] = ..., pendingPreKey: _Optional[_Union[SessionStructure.PendingPreKey, _Mapping]] = ..., remoteRegistrationId: _Optional[int] = ..., localRegistrationId: _Optional[int] = ..., needsRefresh: _Optional[bool] = ..., aliceBaseKey: _Optional[bytes] = ...) -> None: ...

class RecordStructure(_message.Message):
    __slots__ = ("currentSession", "previousSessions")
    CURRENTSESSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUSSESSIONS_FIELD_NUMBER: _ClassVar[int]
    currentSession: SessionStructure
    previousSessions: _containers.RepeatedCompositeFieldContainer[SessionStructure]
    def __init__(self, currentSession: _Optional[_Union[SessionStructure, _Mapping]] = ..., previousSessions: _Optional[_Iterable[_Union[SessionStructure, _Mapping]]] = ...) -> None: ...

class PreKeyRecordStructure(_message.Message):
    __slots__ = ("id", "publicKey", "privateKey")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    PRIVATEKEY_FIELD_NUMBER: _ClassVar[int]
    id: int
    publicKey: bytes
    privateKey: bytes
    def __init__(self, id: _Optional[int] = ..., publicKey: _Optional[bytes] = ..., privateKey: _Optional[bytes] = ...) -> None: ...

class SignedPreKeyRecordStructure(_message.Message):
    __slots__ = ("id", "publicKey", "privateKey", "signature", "timestamp")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    PRIVATEKEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    id: int
    publicKey: bytes
    privateKey: bytes
    signature: bytes
    timestamp: int
    def __init__(self, id: _Optional[int] = ..., publicKey: _Optional[bytes] = ..., privateKey: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., timestamp: _Optional[int] = ...) -> None: ...

class IdentityKeyPairStructure(_message.Message):
    __slots__ = ("publicKey", "privateKey")
    PUBLICKEY_FIELD_NUMBER: _ClassVar[int]
    PRIVATEKEY_FIELD_NUMBER: _ClassVar[int]
    publicKey: bytes
    privateKey: bytes
    def __init__(self, publicKey: _Optional[bytes] = ..., privateKey: _Optional[bytes] = ...) -> None: ...

class SenderKeyStateStructure(_message.Message):
    __slots__ = ("senderKeyId", "senderChainKey", "senderSigningKey", "senderMessageKeys")
    class SenderChainKey(_message.Message):
        __slots__ = ("iteration", "seed")
        ITERATION_FIELD_NUMBER: _ClassVar[int]
        SEED_FIELD_NUMBER: _ClassVar[int]
        iteration: int
        seed: bytes
        def __init__(self, iteration: _Optional[int] = ..., seed: _Optional[bytes] = ...) -> None: ...
    class SenderMessageKey(_message.Message):
        __slots__ = ("iteration", "seed")
        ITERATION_FIELD_NUMBER: _ClassVar[int]
        SEED_FIELD_NUMBER: _ClassVar[int]
        iteration: int
        seed: bytes
        def __init__(self, iteration: _Optional[int] = ..., seed: _Optional[bytes] = ...) -> None: ...
    class SenderSigningKey(_message.Message):
        __slots__ = ("public", "private")
        PUBLIC_FIELD_NUMBER: _ClassVar[int]
        PRIVATE_FIELD_NUMBER: _ClassVar[int]
        public: bytes
        private: bytes
        def __init__(self, public: _Optional[bytes] = ..., private: _Optional[bytes] = ...) -> None: ...
    SENDERKEYID_FIELD_NUMBER: _ClassVar[int]
    SENDERCHAINKEY_FIELD_NUMBER: _ClassVar[int]
    SENDERSIGNINGKEY_FIELD_NUMBER: _ClassVar[int]
    SENDERMESSAGEKEYS_FIELD_NUMBER: _ClassVar[int]
    senderKeyId: int
    senderChainKey: SenderKeyStateStructure.SenderChainKey
    senderSigningKey: SenderKeyStateStructure.SenderSigningKey
    senderMessageKeys: _containers.RepeatedCompositeFieldContainer[SenderKeyStateStructure.SenderMessageKey]
    def __init__(self, senderKeyId: _Optional[int] = ..., senderChainKey: _Optional[_Union[SenderKeyStateStructure.SenderChainKey, _Mapping]] = ..., senderSigningKey: _Optional[_Union[SenderKeyStateStructure.SenderSigningKey, _Mapping]] = ..., senderMessageKeys: _Optional[_Iterable[_Union[SenderKeyStateStructure.SenderMessageKey, _Mapping]]] = ...) -> None: ...

class SenderKeyRecordStructure(_message.Message):
    __slots__ = ("senderKeyStates",)
    SENDERKEYSTATES_FIELD_NUMBER: _ClassVar[int]
    senderKeyStates: _containers.RepeatedCompositeFieldContainer[SenderKeyStateStructure]
    def __init__(self, senderKeyStates: _Optional[_Iterable[_Union[SenderKeyStateStructure, _Mapping]]] = ...) -> None: ...
