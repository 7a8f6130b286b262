"""Fetching and sending app-state collections: ``client.app_state`` (whatsmeow ``appstate.go``).

``await client.app_state.fetch(name)`` asks the server for what changed since our version
(``<iq xmlns="w:sync:app:state" type="set"><sync><collection name version
return_snapshot/>``), looping while ``has_more_patches``; a collection never synced (or being
resynced) starts from a snapshot. Each decoded mutation is emitted as an event
(:mod:`.events`) once the whole fetch is done.

Failures never end the connection. A MAC or hash mismatch or a malformed patch drops our copy
of the collection and fetches it again from a full snapshot (:class:`AppStateSyncError` with
``resyncing=True`` says so). A missing key is requested from our phone
(:class:`AppStateKeysMissing`), and the collection is fetched again when the share arrives.
``<notification type="server_sync">`` (acked by the client) triggers a fetch of each collection
it names. ``await client.app_state.send(build_mute(jid, True))`` sends our own patch, then
re-fetches the collection so our state matches the server's.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..binary.errors import BinaryError
from ..binary.node import Node
from ..connection import NotConnectedError
from ..media.download import download_media
from ..media.types import MediaType
from ..proto import wa_e2e_pb2
from ..proto import wa_server_sync_pb2 as pb
from ..request import IQError
from ..socket.errors import SocketError
from ..store import AppStateStore
from .decode import Decoder, Downloader, Mutation, PatchList, key_ids, parse_patch_list
from .encode import PatchInfo, encode_patch
from .errors import (
    AppStateError,
    AppStateUpdateError,
    KeyNotFoundError,
    MACMismatchError,
    MalformedAppStateError,
    MissingKeysError,
    NoAppStateKeyError,
)
from .events import AppStateKeysMissing, AppStateSyncComplete, AppStateSyncError, to_event
from .hash import HashState
from .keys import ALL_PATCH_NAMES, KeyCache
from .keyshare import KeyShares

if TYPE_CHECKING:
    from ..client import Client

XMLNS = "w:sync:app:state"
MAX_ROUNDS = 1000
"""A server that keeps saying ``has_more_patches`` without moving on is cut off here."""


def _media_downloader(client: Client) -> Downloader:
    """Download blobs with the media module (media type APP_STATE, all four checks)."""

    async def download(ref: pb.ExternalBlobReference) -> bytes:
        return await download_media(
            client,
            direct_path=ref.directPath,
            media_key=ref.mediaKey,
            file_enc_sha256=ref.fileEncSHA256,
            file_sha256=ref.fileSHA256,
            media_type=MediaType.APP_STATE,
            file_length=ref.fileSizeBytes or None,
        )

    return download


class AppState:
    """One client's app state (see the module docstring)."""

    def __init__(
        self, client: Client, store: AppStateStore, download: Downloader | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.keys = KeyCache(store)
        self.decoder = Decoder(store, self.keys)
        self.download = download or _media_downloader(client)
        self.shares = KeyShares(store, client.send_peer_message, self._keys_arrived, client.log)
        self._lock = asyncio.Lock()

    def install(self) -> None:
        self.client.add_notification_handler("server_sync", self._handle_server_sync)
        self.client.messages.add_protocol_handler(
            wa_e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE, self.shares.handle_share
        )

    # --- fetching ---------------------------------------------------------------------------

    async def fetch(
        self, name: str, *, full_sync: bool = False, only_if_not_synced: bool = False
    ) -> None:
        """Bring ``name`` up to date (from a snapshot if ``full_sync`` or never synced).

        Raises :class:`AppStateError` if it could not be done even after a snapshot resync
        (after emitting :class:`AppStateSyncError`), :class:`MissingKeysError` when it waits for
        keys; connection errors (IQError, NotConnectedError) propagate.
        """
        name = str(name)  # a PatchName is a str subclass; node attributes want plain str
        events: list[object] = []
        try:
            async with self._lock:
                await self._fetch_locked(name, full_sync, only_if_not_synced, events)
        finally:
            await self._dispatch(events)

    async def _dispatch(self, events: list[object]) -> None:
        """Deliver events outside the lock, so a handler may fetch or send in turn."""
        for event in events:
            await self.client.dispatch(event)

    async def fetch_all(self, *, only_if_not_synced: bool = False) -> None:
        """Fetch every collection; one collection's failure is logged and the rest go on."""
        await self._fetch_each(list(ALL_PATCH_NAMES), only_if_not_synced)

    async def _fetch_each(self, names: list[str], only_if_not_synced: bool) -> None:
        """Fetch ``names`` in turn; a lost connection ends it (the next login catches up)."""
        for name in names:
            try:
                await self.fetch(name, only_if_not_synced=only_if_not_synced)
            except AppStateError as e:
                self.client.log.warning("App state %s not synced: %s", name, e)
            except (IQError, NotConnectedError, SocketError) as e:
                self.client.log.info("App state sync stopped at %s: %s", name, e)
                return

    async def _fetch_locked(
        self, name: str, full_sync: bool, only_if_not_synced: bool, events: list[object]
    ) -> None:
        """Sync ``name``, collecting events (those of patches verified before a failure too)."""
        try:
            await self._sync(name, full_sync, only_if_not_synced, events)
            return
        except MissingKeysError as e:
            await self._keys_missing(e, events)
            raise
        except (MACMismatchError, MalformedAppStateError) as e:
            self.client.log.warning("App state %s failed to verify (%s); resyncing", name, e)
            events.append(AppStateSyncError(name, e, full_sync, resyncing=True))
        except AppStateError as e:
            self._failed(name, e, full_sync, events)
            raise
        try:
            await self._sync(name, True, False, events)
        except MissingKeysError as e:
            await self._keys_missing(e, events)
            raise
        except AppStateError as e:
            self._failed(name, e, True, events)
            raise

    async def _keys_missing(self, error: MissingKeysError, events: list[object]) -> None:
        events.append(AppStateKeysMissing(error.name, error.key_ids))
        await self.shares.request(error.key_ids)

    def _failed(
        self, name: str, error: AppStateError, full_sync: bool, events: list[object]
    ) -> None:
        self.client.log.warning("App state %s sync failed: %s", name, error)
        events.append(AppStateSyncError(name, error, full_sync, resyncing=False))

    async def _sync(
        self, name: str, full_sync: bool, only_if_not_synced: bool, events: list[object]
    ) -> None:
        if full_sync:
            await self.store.delete_app_state_version(name)
        version, lt_hash = await self.store.get_app_state_version(name)
        if version == 0:
            full_sync = True
        elif only_if_not_synced:
            return
        state = HashState(version, lt_hash)
        want_snapshot = full_sync
        for _ in range(MAX_ROUNDS):
            patch_list = await self._fetch_patches(name, state.version, want_snapshot)
            if patch_list.snapshot is not None and not want_snapshot:
                raise MalformedAppStateError(f"unasked-for snapshot of {name}")
            want_snapshot = False
            mutations: list[Mutation] = []
            try:
                _, state = await self.decoder.decode(patch_list, state, out=mutations)
            except KeyNotFoundError as e:
                missing = [k for k in key_ids(patch_list) if not await self.keys.has(k)]
                raise MissingKeysError(name, missing or [e.key_id]) from e
            finally:
                # Patches verified before a failure are stored: their events are real.
                events.extend(to_event(name, m, full_sync) for m in mutations)
            if not patch_list.has_more_patches:
                break
        else:
            raise MalformedAppStateError(f"{name} still has more patches after {MAX_ROUNDS}")
        self.client.log.debug("Synced app state %s to v%d", name, state.version)
        events.append(AppStateSyncComplete(name, state.version, full_sync))

    async def _fetch_patches(self, name: str, version: int, snapshot: bool) -> PatchList:
        attrs = {"name": name, "return_snapshot": "true" if snapshot else "false"}
        if not snapshot:
            attrs["version"] = str(version)
        resp = await self.client.send_iq(
            XMLNS, "set", [Node("sync", {}, [Node("collection", attrs)])]
        )
        return await parse_patch_list(_collection(resp, name), self.download)

    # --- sending ----------------------------------------------------------------------------

    async def send(self, patch: PatchInfo) -> None:
        """Send our own mutations, then re-fetch the collection (events follow)."""
        events: list[object] = []
        try:
            async with self._lock:
                await self._send_locked(patch, events, retry=True)
        finally:
            await self._dispatch(events)

    async def _send_locked(self, patch: PatchInfo, events: list[object], *, retry: bool) -> None:
        name = str(patch.type)
        version, lt_hash = await self.store.get_app_state_version(name)
        key_id = await self.store.get_latest_app_state_sync_key_id()
        if key_id is None:
            raise NoAppStateKeyError("no app state key has been shared with us yet")
        keys = await self.keys.get(key_id)

        async def previous(index_mac: bytes, _i: int) -> bytes | None:
            return await self.store.get_app_state_mutation_mac(name, index_mac)

        encoded, _ = await encode_patch(patch, key_id, keys, HashState(version, lt_hash), previous)
        attrs = {"name": name, "version": str(version), "return_snapshot": "false"}
        resp = await self.client.send_iq(
            XMLNS,
            "set",
            [Node("sync", {}, [Node("collection", attrs, [Node("patch", {}, encoded)])])],
        )
        collection = resp.get_optional_child_by_tag("sync", "collection")
        if collection is not None and collection.attrs.get("type") == "error":
            error = _collection_error(collection, name)
            if error.code == 409 and retry:
                # Someone else changed the collection first: catch up, then try once more.
                self.client.log.warning("App state %s conflict; catching up and retrying", name)
                await self._fetch_locked(name, False, False, events)
                await self._send_locked(patch, events, retry=False)
                return
            raise error
        await self._fetch_locked(name, False, False, events)

    # --- triggers ---------------------------------------------------------------------------

    async def _handle_server_sync(self, node: Node) -> None:
        """``<notification type="server_sync">``: fetch each named collection (in background)."""
        names: list[str] = []
        for child in node.children_by_tag("collection"):
            try:
                names.append(child.attr_str("name"))
            except BinaryError as e:
                self.client.log.warning("Malformed server_sync collection: %s", e)
        if names:
            self.client._spawn(self._fetch_each(names, False))

    async def _keys_arrived(self, answered_request: bool) -> None:
        """New keys: sync what was never synced (or everything, if we had asked for them)."""
        self.client._spawn(self.fetch_all(only_if_not_synced=not answered_request))


def _collection(resp: Node, name: str) -> Node:
    collection = resp.get_optional_child_by_tag("sync", "collection")
    if collection is None:
        raise MalformedAppStateError(f"app state answer for {name} has no <collection>")
    if collection.attrs.get("type") == "error":
        raise _collection_error(collection, name)
    return collection


def _collection_error(collection: Node, name: str) -> AppStateUpdateError:
    error = collection.get_optional_child_by_tag("error")
    code: int | None = None
    text = ""
    if error is not None:
        raw = error.attrs.get("code")
        code = int(raw) if isinstance(raw, str) and raw.isdigit() else None
        text = str(error.attrs.get("text", ""))
    return AppStateUpdateError(name, code, text)
