"""Downloading media by direct path or URL, to bytes or streamed to a file (whatsmeow
``download.go``, ``download-to-file.go``).

A direct path (``/v/t62…enc?ccb=…``) is tried on each ``media_conn`` host in order as
``https://{host}{direct_path}&hash=…&mms-type=…&__wa-mms=``; a full ``url`` (what Baileys puts in
messages) is tried first when given. The body is decrypted as it arrives; the four checks (enc
hash, MAC, padding, plain hash) run when it ends, and a failing file is deleted. 404/410 mean
expired (:class:`MediaExpiredError`, worth a media retry); 401/403 refresh ``media_conn`` once;
other statuses and network errors move on to the next host.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from .cipher import MediaDecryptor
from .conn import AUTH_ERROR_STATUSES, AuthRefusedError, MediaConn, http_session, log, try_hosts
from .errors import MediaDownloadError, MediaExpiredError, MediaHTTPError
from .types import MediaType

if TYPE_CHECKING:
    from ..client import Client

CHUNK_SIZE = 256 * 1024
EXPIRED_STATUSES = frozenset({404, 410})

Sink = Callable[[bytes], object]


@dataclass(frozen=True, repr=False)
class MediaRef:
    """What a message says about its file: enough to download and check it."""

    media_type: MediaType
    media_key: bytes
    file_enc_sha256: bytes | None
    file_sha256: bytes | None
    direct_path: str | None = None
    url: str | None = None

    def __repr__(self) -> str:
        return f"MediaRef({self.media_type.value}, {self.direct_path!r})"


def direct_path_url(
    host: str, direct_path: str, file_enc_sha256: bytes | None, media_type: MediaType
) -> str:
    """whatsmeow's download URL for ``direct_path`` on ``host``."""
    if not direct_path.startswith("/"):
        raise MediaDownloadError(f"direct path does not start with a slash: {direct_path!r}")
    separator = "&" if "?" in direct_path else "?"
    query = ""
    if file_enc_sha256 is not None:
        query = f"hash={base64.urlsafe_b64encode(file_enc_sha256).decode()}&"
    return f"https://{host}{direct_path}{separator}{query}mms-type={media_type.mms_type}&__wa-mms="


async def _fetch_once(
    session: aiohttp.ClientSession, url: str, decryptor: MediaDecryptor, sink: Sink
) -> None:
    try:
        async with session.get(url) as response:
            if response.status in EXPIRED_STATUSES:
                raise MediaExpiredError(f"media expired ({response.status})", response.status)
            if response.status in AUTH_ERROR_STATUSES:
                raise AuthRefusedError(response.status)
            if response.status != 200:
                raise MediaHTTPError(f"media host answered {response.status}", response.status)
            async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                sink(decryptor.update(chunk))
    except aiohttp.ClientError as e:
        raise MediaHTTPError(f"media download failed: {e}") from e
    sink(decryptor.finalize())


async def _download(client: Client, ref: MediaRef, new_sink: Callable[[], Sink]) -> None:
    """Try ``url`` then each host; ``new_sink`` starts a fresh output for every attempt."""
    direct_path, url = ref.direct_path, ref.url

    async def attempt(session: aiohttp.ClientSession, target: str) -> None:
        decryptor = MediaDecryptor(
            ref.media_key,
            ref.media_type,
            file_enc_sha256=ref.file_enc_sha256,
            file_sha256=ref.file_sha256,
        )
        await _fetch_once(session, target, decryptor, new_sink())

    async with http_session(client) as session:
        if url:
            try:
                return await attempt(session, url)
            except (MediaHTTPError, AuthRefusedError) as e:
                if isinstance(e, MediaExpiredError) or not direct_path:
                    raise _as_http_error(e) from None
                log.warning("Media download by URL failed (%s), trying the direct path", e)
        if not direct_path:
            raise MediaDownloadError("neither a direct path nor a URL to download")

        async def on_host(host: str, conn: MediaConn) -> None:
            await attempt(
                session, direct_path_url(host, direct_path, ref.file_enc_sha256, ref.media_type)
            )

        await try_hosts(
            client.media.conn, on_host, MediaHTTPError, _as_http_error, (MediaExpiredError,)
        )


def _as_http_error(error: Exception) -> MediaHTTPError:
    if isinstance(error, AuthRefusedError):
        return MediaHTTPError(str(error), error.status)
    assert isinstance(error, MediaHTTPError)
    return error


async def download(client: Client, ref: MediaRef) -> bytes:
    """Download and decrypt a whole file into memory (history and app-state blobs, small
    media). Raises a :class:`~.errors.MediaDownloadError` subclass for each failure."""
    parts: list[bytes] = []

    def new_sink() -> Sink:
        parts.clear()
        return parts.append

    await _download(client, ref, new_sink)
    return b"".join(parts)


async def download_media(
    client: Client,
    *,
    direct_path: str,
    media_key: bytes,
    file_enc_sha256: bytes,
    file_sha256: bytes | None,
    media_type: MediaType,
    file_length: int | None = None,
    url: str | None = None,
) -> bytes:
    """:func:`download` with the fields spelled out; ``file_length`` is a hint only."""
    ref = MediaRef(media_type, media_key, file_enc_sha256, file_sha256, direct_path, url)
    return await download(client, ref)


async def download_to_file(client: Client, ref: MediaRef, destination: str | Path) -> int:
    """Stream a file to ``destination`` (written beside it, renamed once every check passed);
    returns its size. Memory use stays at one chunk whatever the file's size."""
    destination = Path(destination)
    fd, temp_name = tempfile.mkstemp(prefix=".download-", dir=destination.parent)
    temp = os.fdopen(fd, "w+b")
    try:

        def new_sink() -> Sink:
            temp.seek(0)
            temp.truncate()
            return temp.write

        await _download(client, ref, new_sink)
        size = temp.tell()
        temp.close()
        os.replace(temp_name, destination)
        return size
    except BaseException:
        temp.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
