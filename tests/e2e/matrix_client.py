"""A small Matrix client for end-to-end tests: a real user talking to the test Synapse.

Deliberately independent of mautrix, so the tests do not check the bridge with the library the
bridge is built on. Events are plain dicts as the server sends them.

Every event the client sees through ``/sync`` is kept per room in arrival order.
:meth:`MatrixTestUser.wait_for_event` returns the first kept event that matches and that no
earlier ``wait_for_event`` returned, syncing on (with a since-token) until one arrives. So an
event that arrived before the wait started is still found, and waiting twice for "an edit of the
QR" yields two different edits.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from tests.e2e.secrets_scan import SECRETS

Event = dict[str, Any]
EventPredicate = Callable[[Event], bool]

SYNC_FILTER = '{"room": {"timeline": {"limit": 100}}, "presence": {"types": []}}'
MAX_POLL_MS = 5000


class MatrixRequestError(RuntimeError):
    """The homeserver answered with an error status."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.errcode = body.get("errcode") if isinstance(body, dict) else None
        super().__init__(f"{method} {url} -> {status}: {body}")


class MatrixTestUser:
    """A logged-in Matrix user. Create it through ``SynapseInfo.register_user``; close it."""

    def __init__(
        self, *, base_url: str, user_id: str, access_token: str, device_id: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.user_id = user_id
        self.access_token = access_token
        SECRETS.add("Matrix access token", access_token)  # ---- secrets scanner ----
        self.device_id = device_id
        self.next_batch: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self._timelines: dict[str, list[Event]] = {}
        self._seen_ids: set[str] = set()
        self._returned_ids: set[str] = set()
        self._invites: dict[str, list[Event]] = {}
        self._sync_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MatrixTestUser({self.user_id!r})"

    async def __aenter__(self) -> MatrixTestUser:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ---- raw requests ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        want_bytes: bool = False,
    ) -> Any:
        """Call the homeserver as this user; raises on non-200.

        Returns the decoded JSON, or the body's bytes with ``want_bytes``."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        url = self.base_url + path
        all_headers = {"Authorization": f"Bearer {self.access_token}", **(headers or {})}
        async with self._http.request(
            method,
            url,
            json=json,
            params=params,
            data=data,
            headers=all_headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            if resp.status != 200:
                try:
                    body: Any = await resp.json(content_type=None)
                except ValueError:
                    body = await resp.text()
                raise MatrixRequestError(method, url, resp.status, body)
            if want_bytes:
                return await resp.read()
            return await resp.json(content_type=None)

    @staticmethod
    def _room(room_id: str) -> str:
        return quote(room_id, safe="")

    # ---- rooms -------------------------------------------------------------------------

    async def create_room(
        self,
        *,
        invite: list[str] | None = None,
        is_direct: bool = False,
        preset: str = "private_chat",
        name: str | None = None,
        room_version: str | None = None,
    ) -> str:
        body: dict[str, Any] = {"preset": preset, "invite": invite or [], "is_direct": is_direct}
        if name is not None:
            body["name"] = name
        if room_version is not None:
            body["room_version"] = room_version
        data = await self.request("POST", "/_matrix/client/v3/createRoom", json=body)
        return str(data["room_id"])

    async def create_dm(self, invitee: str) -> str:
        """A direct chat with ``invitee`` (how Element opens a DM with a bridge bot)."""
        return await self.create_room(
            invite=[invitee], is_direct=True, preset="trusted_private_chat"
        )

    async def invite(self, room_id: str, user_id: str) -> None:
        path = f"/_matrix/client/v3/rooms/{self._room(room_id)}/invite"
        await self.request("POST", path, json={"user_id": user_id})

    async def join(self, room_id: str) -> str:
        data = await self.request(
            "POST", f"/_matrix/client/v3/join/{self._room(room_id)}", json={}
        )
        return str(data["room_id"])

    async def leave(self, room_id: str) -> None:
        await self.request(
            "POST", f"/_matrix/client/v3/rooms/{self._room(room_id)}/leave", json={}
        )

    async def joined_members(self, room_id: str) -> dict[str, Any]:
        """``{user_id: {"display_name", "avatar_url"}}`` of the room's joined members."""
        path = f"/_matrix/client/v3/rooms/{self._room(room_id)}/joined_members"
        data = await self.request("GET", path)
        return dict(data["joined"])

    # ---- events ------------------------------------------------------------------------

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        txn = uuid.uuid4().hex
        path = (
            f"/_matrix/client/v3/rooms/{self._room(room_id)}/send/{quote(event_type, safe='')}"
            f"/{txn}"
        )
        data = await self.request("PUT", path, json=content)
        return str(data["event_id"])

    async def send_text(self, room_id: str, body: str) -> str:
        return await self.send_event(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}
        )

    async def get_event(self, room_id: str, event_id: str) -> Event:
        path = f"/_matrix/client/v3/rooms/{self._room(room_id)}/event/{quote(event_id, safe='')}"
        data: Event = await self.request("GET", path)
        return data

    # ---- media -------------------------------------------------------------------------

    async def upload(
        self, data: bytes, content_type: str = "application/octet-stream", filename: str = ""
    ) -> str:
        params = {"filename": filename} if filename else None
        body = await self.request(
            "POST",
            "/_matrix/media/v3/upload",
            data=data,
            params=params,
            headers={"Content-Type": content_type},
        )
        return str(body["content_uri"])

    async def download_media(self, mxc: str) -> bytes:
        """Fetch ``mxc://server/id`` through the authenticated media API (the only one on)."""
        if not mxc.startswith("mxc://"):
            raise ValueError(f"not an mxc URI: {mxc!r}")
        server, _, media_id = mxc.removeprefix("mxc://").partition("/")
        if not server or not media_id:
            raise ValueError(f"malformed mxc URI: {mxc!r}")
        path = (
            f"/_matrix/client/v1/media/download/{quote(server, safe='')}/"
            f"{quote(media_id, safe='')}"
        )
        return bytes(await self.request("GET", path, want_bytes=True))

    # ---- sync --------------------------------------------------------------------------

    async def sync_once(self, timeout_ms: int = 0) -> None:
        """One ``/sync`` from the last since-token; new events are kept per room."""
        async with self._sync_lock:
            params = {"timeout": str(timeout_ms), "filter": SYNC_FILTER}
            if self.next_batch is not None:
                params["since"] = self.next_batch
            data = await self.request(
                "GET", "/_matrix/client/v3/sync", params=params, timeout=timeout_ms / 1000 + 30
            )
            self.next_batch = data["next_batch"]
            rooms = data.get("rooms", {})
            for room_id, room in rooms.get("join", {}).items():
                self._invites.pop(room_id, None)
                for section in ("state", "timeline"):
                    for event in room.get(section, {}).get("events", []):
                        self._keep(room_id, event)
            for room_id, room in rooms.get("invite", {}).items():
                self._invites[room_id] = list(room.get("invite_state", {}).get("events", []))

    def _keep(self, room_id: str, event: Event) -> None:
        event_id = event.get("event_id")
        if event_id is None or event_id in self._seen_ids:
            return
        self._seen_ids.add(event_id)
        event.setdefault("room_id", room_id)
        self._timelines.setdefault(room_id, []).append(event)

    def events(self, room_id: str) -> list[Event]:
        """Every event kept so far for ``room_id``, in arrival order."""
        return list(self._timelines.get(room_id, []))

    async def wait_for_event(
        self, room_id: str, predicate: EventPredicate, timeout: float = 10.0
    ) -> Event:
        """The first kept, not yet returned event in ``room_id`` matching ``predicate``.

        Raises ``TimeoutError`` listing what did arrive, so a failing test shows the room.
        """
        deadline = time.monotonic() + timeout
        while True:
            for event in self._timelines.get(room_id, []):
                if event["event_id"] not in self._returned_ids and predicate(event):
                    self._returned_ids.add(event["event_id"])
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                summary = [
                    (e.get("type"), e.get("sender"), e.get("content", {}).get("body"))
                    for e in self._timelines.get(room_id, [])
                ]
                raise TimeoutError(
                    f"{self.user_id}: no matching event in {room_id} after {timeout} s; "
                    f"seen: {summary}"
                )
            await self.sync_once(min(MAX_POLL_MS, max(int(remaining * 1000), 1)))

    async def wait_for_invite(self, room_id: str | None = None, timeout: float = 10.0) -> str:
        """The ID of a room this user is invited to (``room_id`` or any), syncing until one."""
        deadline = time.monotonic() + timeout
        while True:
            for invited in self._invites:
                if room_id is None or invited == room_id:
                    return invited
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.user_id}: no invite after {timeout} s")
            await self.sync_once(min(MAX_POLL_MS, max(int(remaining * 1000), 1)))

    def invite_state(self, room_id: str) -> list[Event]:
        """The stripped state that came with the invite to ``room_id`` (until it is joined)."""
        return list(self._invites.get(room_id, []))

    async def wait_for_join(self, room_id: str, user_id: str, timeout: float = 10.0) -> Event:
        """The membership event of ``user_id`` joining ``room_id``."""
        return await self.wait_for_event(
            room_id,
            lambda e: (
                e.get("type") == "m.room.member"
                and e.get("state_key") == user_id
                and e.get("content", {}).get("membership") == "join"
            ),
            timeout,
        )

    # ---- groups ----

    def invited_rooms(self) -> list[str]:
        """The rooms this user is invited to and hasn't joined, as of the last sync."""
        return list(self._invites)
