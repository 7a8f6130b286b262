"""WhatsApp protobuf schemas written for this project, and their generated modules.

One file per concern, as in whatsmeow's ``proto/`` folder (regenerate with
``scripts/gen_proto.py``; ``--check`` fails when a committed module is stale):

- ``wa_handshake``: Noise ``HandshakeMessage`` and the server's ``CertChain``.
- ``wa_wa6``: ``ClientPayload`` (login / registration) with ``UserAgent`` and ``WebInfo``.
- ``wa_companion_reg``: ``DeviceProps`` with ``HistorySyncConfig``.
- ``wa_adv``: account-device verification (``ADVSignedDeviceIdentityHMAC`` and friends).
- ``wa_common``: ``MessageKey``.
- ``wa_e2e``: the decrypted ``Message`` and everything inside it.
- ``wa_web``: ``WebMessageInfo``, a stored message as history sync carries it.
- ``wa_history_sync``: ``HistorySync`` and ``Conversation``.
- ``wa_server_sync`` / ``wa_sync_action``: app-state patches and their decrypted actions.

Field names follow whatsmeow's spelling (``remoteJID``, ``stanzaID``, ``HMAC``). The enums are
proto2 (closed): a value newer than these schemas leaves the field unset, so check ``HasField``
before trusting an enum whose default has a meaning (``ProtocolMessage.type`` reads as REVOKE).
"""
