"""The media connection: which CDN hosts to use and the auth token for uploads (whatsmeow
``mediaconn.go``).

``<iq xmlns="w:m" type="set"><media_conn/></iq>`` answers ``<media_conn auth ttl auth_ttl
max_buckets><host hostname=…/>…</media_conn>``. The answer is cached until ``ttl`` runs out and
fetched again early when a host refuses our auth (401/403). Hosts are tried in the order given.
HTTP goes through aiohttp with the same TLS trust as the websocket (``ssl_context``/``ca_file``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import aiohttp

from ..binary.errors import AttrError
from ..binary.node import Node
from ..request import IQError
from ..socket.framesocket import ORIGIN, _ssl_for
from .errors import MediaConnError

if TYPE_CHECKING:
    from ..connection import ConnectionLife

log = logging.getLogger("mautrix_whatsapp.whatsapp.media")

T = TypeVar("T")
AUTH_ERROR_STATUSES = frozenset({401, 403})
HEADERS = {"Origin": ORIGIN, "Referer": ORIGIN + "/"}


@dataclass(frozen=True, repr=False)
class MediaConn:
    auth: str
    ttl: int
    auth_ttl: int
    max_buckets: int
    hosts: tuple[str, ...]
    fetched_at: float = field(default_factory=time.monotonic)

    @property
    def expires_at(self) -> float:
        return self.fetched_at + self.ttl

    def __repr__(self) -> str:
        # The auth token stays out of logs.
        return f"MediaConn(hosts={self.hosts}, ttl={self.ttl})"


def parse_media_conn(response: Node) -> MediaConn:
    """The ``<media_conn>`` of an IQ result (raises :class:`MediaConnError` if malformed)."""
    node = response.get_optional_child_by_tag("media_conn")
    if node is None:
        raise MediaConnError("IQ result without <media_conn>")
    try:
        auth = node.attr_str("auth")
        hosts = tuple(child.attr_str("hostname") for child in node.iter_children("host"))
        conn = MediaConn(
            auth=auth,
            ttl=node.attr_int("ttl"),
            auth_ttl=node.attr_int_opt("auth_ttl") or 0,
            max_buckets=node.attr_int_opt("max_buckets") or 0,
            hosts=hosts,
        )
    except AttrError as e:
        raise MediaConnError(f"malformed media_conn: {e}") from e
    if not auth or not hosts:
        raise MediaConnError("media_conn without auth or hosts")
    return conn


class MediaConnCache:
    """The client's current :class:`MediaConn`, fetched once per ttl (concurrent callers share
    one query)."""

    def __init__(self, client: ConnectionLife) -> None:
        self._client = client
        self._conn: MediaConn | None = None
        self._lock = asyncio.Lock()
        self.queries = 0
        """How many ``media_conn`` IQs were sent (tests check the caching)."""

    async def get(self, *, force: bool = False, stale: MediaConn | None = None) -> MediaConn:
        """The cached connection, or a fresh one if expired, ``force``d, or still ``stale``
        (the one a failed request used: a concurrent refresh may already have replaced it)."""
        async with self._lock:
            conn = self._conn
            if (
                conn is None
                or time.monotonic() >= conn.expires_at
                or (force and (stale is None or conn is stale))
            ):
                self.queries += 1
                try:
                    response = await self._client.send_iq("w:m", "set", [Node("media_conn")])
                except IQError as e:
                    raise MediaConnError(f"media_conn query failed: {e}") from e
                conn = self._conn = parse_media_conn(response)
                log.debug("Fetched %r", conn)
            return conn

    def clear(self) -> None:
        self._conn = None


class AuthRefusedError(Exception):
    """A host answered 401/403 (``status``): refresh ``media_conn`` and try again once."""

    def __init__(self, status: int) -> None:
        super().__init__(f"media host refused our auth ({status})")
        self.status = status


async def try_hosts(
    cache: MediaConnCache,
    attempt: Callable[[str, MediaConn], Awaitable[T]],
    retryable: type[Exception],
    auth_error: Callable[[AuthRefusedError], Exception],
    fatal: tuple[type[Exception], ...] = (),
) -> T:
    """``attempt`` on each host in order until one succeeds; after a 401/403, once more with a
    fresh ``media_conn``. A ``retryable`` failure moves on to the next host unless it is also
    ``fatal``; others propagate."""
    last_error: Exception | None = None
    stale: MediaConn | None = None
    for _ in range(2):
        conn = await cache.get(force=stale is not None, stale=stale)
        for host in conn.hosts:
            try:
                return await attempt(host, conn)
            except fatal:
                raise
            except AuthRefusedError as e:
                last_error = auth_error(e)
                stale = conn
                break
            except retryable as e:
                last_error = e
                log.warning("Media request to %s failed: %s", host, e)
        else:
            break
    assert last_error is not None
    raise last_error


@contextlib.asynccontextmanager
async def http_session(client: ConnectionLife) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session trusting what the client's websocket trusts."""
    connector = aiohttp.TCPConnector(ssl=_ssl_for(client.ssl_context, client.ca_file))
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=HEADERS
    ) as session:
        yield session
