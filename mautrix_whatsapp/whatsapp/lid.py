"""The LID ↔ phone-number map of one client (``client.lids``).

WhatsApp names each account twice: by phone number (``123@s.whatsapp.net``) and by a LID
(``456@lid``, a "hidden" id). Mappings are learned from usync ``<lid val>`` answers, from message
and receipt attributes (``sender_lid``, ``sender_pn``, ``participant_pn``, ``peer_recipient_pn``…;
the receiving side calls :meth:`LIDMap.learn`) and later from history sync. They are kept by
user (devices share their account's mapping) in a :class:`~.store.LIDStore`, with a small cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from .binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, JID
from .locks import SignalLocks
from .signal.address import SignalAddress
from .store import DeviceSignalStore, LIDStore


class LIDMap:
    """Look-ups and updates of the LID map, through a store."""

    def __init__(self, store: LIDStore) -> None:
        self.store = store
        self._pn_by_lid: dict[str, str] = {}
        self._lid_by_pn: dict[str, str] = {}

    async def learn(self, lid: JID | None, pn: JID | None) -> None:
        """Record that ``lid`` and ``pn`` are the same account (no-op if either is missing).

        Call it with whatever a stanza revealed; pairs of the wrong kinds are ignored.
        """
        if lid is None or pn is None:
            return
        await self.put_many([(lid, pn)])

    async def put_many(self, pairs: Sequence[tuple[JID, JID]]) -> None:
        fresh: list[tuple[str, str]] = []
        for lid, pn in pairs:
            if lid.server != HIDDEN_USER_SERVER or pn.server != DEFAULT_USER_SERVER:
                continue
            if self._pn_by_lid.get(lid.user) == pn.user:
                continue
            fresh.append((lid.user, pn.user))
        if not fresh:
            return
        await self.store.put_lid_mappings(fresh)
        for lid_user, pn_user in fresh:
            old_pn = self._pn_by_lid.pop(lid_user, None)
            if old_pn is not None:
                self._lid_by_pn.pop(old_pn, None)
            old_lid = self._lid_by_pn.pop(pn_user, None)
            if old_lid is not None:
                self._pn_by_lid.pop(old_lid, None)
            self._pn_by_lid[lid_user] = pn_user
            self._lid_by_pn[pn_user] = lid_user

    async def get_lid(self, pn: JID) -> JID | None:
        """The LID user JID of phone-number ``pn`` (any device), or None if unknown."""
        user = self._lid_by_pn.get(pn.user)
        if user is None:
            user = await self.store.get_lid_for_pn(pn.user)
            if user is None:
                return None
            self._lid_by_pn[pn.user] = user
            self._pn_by_lid[user] = pn.user
        return JID(user, HIDDEN_USER_SERVER)

    async def get_pn(self, lid: JID) -> JID | None:
        """The phone-number user JID of ``lid``, or None if unknown."""
        user = self._pn_by_lid.get(lid.user)
        if user is None:
            user = await self.store.get_pn_for_lid(lid.user)
            if user is None:
                return None
            self._pn_by_lid[lid.user] = user
            self._lid_by_pn[user] = lid.user
        return JID(user, DEFAULT_USER_SERVER)

    async def alternate(self, jid: JID) -> JID | None:
        """The other name of ``jid``'s account (LID for a number, number for a LID)."""
        if jid.server == DEFAULT_USER_SERVER:
            return await self.get_lid(jid)
        if jid.server == HIDDEN_USER_SERVER:
            return await self.get_pn(jid)
        return None


async def move_session_to_lid(
    store: DeviceSignalStore, locks: SignalLocks, pn: SignalAddress, lid: SignalAddress
) -> None:
    """Move a session kept under a device's phone-number address to its LID address (with the
    identity), unless the LID already has one (whatsmeow's ``migrateSessionStore``).

    Both directions use the LID's session once the mapping is known, so what one side builds
    the other continues. The caller holds the LID address's session lock."""
    if await store.contains_session(lid):
        return
    record = await store.load_session(pn)
    if record is None:
        return
    async with locks.session(pn):
        await store.store_session(lid, record)
        await store.delete_session(pn)
    identity = await store.get_identity(pn)
    if identity is not None and await store.get_identity(lid) is None:
        await store.save_identity(lid, identity)
