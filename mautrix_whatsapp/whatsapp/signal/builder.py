"""Session building (X3DH), from a fetched pre-key bundle or an incoming pre-key message.

    secret = FF*32 ‖ DH(IKa, SPKb) ‖ DH(EKa, IKb) ‖ DH(EKa, SPKb) [‖ DH(EKa, OPKb)]
    root key ‖ chain key = HKDF(secret, salt=zero*32, "WhisperText")

Alice (who fetched the bundle) then takes one DH ratchet step to get a sending chain; Bob's
first sending chain comes from the DH ratchet step that Alice's first message triggers.
"""

from __future__ import annotations

from ..crypto.hkdf import hkdf_sha256
from ..crypto.keys import KeyPair
from ..store import Direction, SignalProtocolStore
from .address import SignalAddress
from .errors import InvalidKeyError, InvalidKeyIdError, UntrustedIdentityError
from .keys import PreKeyBundle
from .messages import PreKeySignalMessage
from .ratchet import TEXT_INFO, ZERO_SALT, ChainKey, root_step
from .session import PendingPreKey, SessionRecord, SessionState

_DISCONTINUITY = b"\xff" * 32


def _dh(ours: KeyPair, theirs: bytes) -> bytes:
    """X25519, turning a peer's degenerate (low-order) key into a typed error."""
    try:
        return ours.dh(theirs)
    except ValueError:
        raise InvalidKeyError("the peer's key gives no shared secret") from None


def _derive_initial(secret: bytes) -> tuple[bytes, ChainKey]:
    material = hkdf_sha256(secret, ZERO_SALT, TEXT_INFO, 64)
    return material[:32], ChainKey(material[32:], 0)


def initialize_alice_session(
    our_identity: KeyPair,
    our_base_key: KeyPair,
    their_identity: bytes,
    their_signed_pre_key: bytes,
    their_one_time_pre_key: bytes | None,
) -> SessionState:
    """The initiator's fresh session (keys already validated, 32 bytes)."""
    secret = (
        _DISCONTINUITY
        + _dh(our_identity, their_signed_pre_key)
        + _dh(our_base_key, their_identity)
        + _dh(our_base_key, their_signed_pre_key)
    )
    if their_one_time_pre_key is not None:
        secret += _dh(our_base_key, their_one_time_pre_key)
    root_key, _ = _derive_initial(secret)
    sending_ratchet = KeyPair.generate()
    new_root, sending_chain = root_step(root_key, their_signed_pre_key, sending_ratchet)
    state = SessionState()
    state.root_key = new_root
    state.set_sender_chain(sending_ratchet, sending_chain)
    return state


def initialize_bob_session(
    our_identity: KeyPair,
    our_signed_pre_key: KeyPair,
    our_one_time_pre_key: KeyPair | None,
    their_identity: bytes,
    their_base_key: bytes,
) -> SessionState:
    """The responder's fresh session; its sender chain is replaced on the first message."""
    secret = (
        _DISCONTINUITY
        + _dh(our_signed_pre_key, their_identity)
        + _dh(our_identity, their_base_key)
        + _dh(our_signed_pre_key, their_base_key)
    )
    if our_one_time_pre_key is not None:
        secret += _dh(our_one_time_pre_key, their_base_key)
    root_key, chain_key = _derive_initial(secret)
    state = SessionState()
    state.root_key = root_key
    state.set_sender_chain(our_signed_pre_key, chain_key)
    return state


class SessionBuilder:
    """Builds sessions with one remote device into the store.

    Calls for one address must not overlap (the caller serializes them, as whatsmeow does).
    """

    def __init__(self, store: SignalProtocolStore, address: SignalAddress) -> None:
        self.store = store
        self.address = address

    async def process_bundle(self, bundle: PreKeyBundle) -> None:
        """Start a session from the peer's bundle; the next messages we send are pkmsgs.

        Raises :class:`UntrustedIdentityError` or :class:`InvalidSignatureError`; the store is
        left untouched on error. An existing session is archived, not deleted.
        """
        if not await self.store.is_trusted_identity(
            self.address, bundle.identity_key, Direction.SENDING
        ):
            raise UntrustedIdentityError(str(self.address), bundle.identity_key)
        bundle.verify_signature()
        data = await self.store.load_session(self.address)
        record = SessionRecord.deserialize(data) if data is not None else SessionRecord()
        our_identity = await self.store.get_identity_key_pair()
        base_key = KeyPair.generate()
        state = initialize_alice_session(
            our_identity, base_key, bundle.identity_key, bundle.signed_pre_key, bundle.pre_key
        )
        state.set_identities(
            our_identity.public,
            bundle.identity_key,
            base_key.public,
            await self.store.get_local_registration_id(),
            bundle.registration_id,
        )
        state.set_pending_pre_key(
            PendingPreKey(bundle.pre_key_id, bundle.signed_pre_key_id, base_key.public)
        )
        record.promote_state(state)
        await self.store.store_session(self.address, record.serialize())
        await self.store.save_identity(self.address, bundle.identity_key)

    async def process_pre_key_message(
        self, record: SessionRecord, message: PreKeySignalMessage
    ) -> tuple[SessionState, int | None]:
        """Find or build (in ``record``, not yet stored) the state ``message`` belongs to.

        Returns the state and the one-time pre-key id to delete once decryption succeeded.
        """
        if not await self.store.is_trusted_identity(
            self.address, message.identity_key, Direction.RECEIVING
        ):
            raise UntrustedIdentityError(str(self.address), message.identity_key)
        existing = record.find_state(message.base_key)
        if existing is not None:
            # The peer sent several pkmsgs before hearing from us: same session.
            return existing, None
        signed_pre_key = await self.store.load_signed_pre_key(message.signed_pre_key_id)
        if signed_pre_key is None:
            raise InvalidKeyIdError(f"no signed pre-key with id {message.signed_pre_key_id}")
        one_time: KeyPair | None = None
        if message.pre_key_id is not None:
            pre_key = await self.store.load_pre_key(message.pre_key_id)
            if pre_key is None:
                raise InvalidKeyIdError(f"no pre-key with id {message.pre_key_id}")
            one_time = pre_key.key_pair
        our_identity = await self.store.get_identity_key_pair()
        state = initialize_bob_session(
            our_identity,
            signed_pre_key.key_pair,
            one_time,
            message.identity_key,
            message.base_key,
        )
        state.set_identities(
            our_identity.public,
            message.identity_key,
            message.base_key,
            await self.store.get_local_registration_id(),
            message.registration_id,
        )
        record.promote_state(state)
        return state, message.pre_key_id
