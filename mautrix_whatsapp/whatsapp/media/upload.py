"""Uploading media (whatsmeow ``upload.go``): encrypt, then POST the blob to a media host.

The blob's SHA-256 names the upload (``/mms/{type}/{b64url(enc sha256)}?auth=…&token=…``), so the
whole blob must exist before the request starts. It is written to a temporary file while the
plaintext is read (a path, bytes or an async iterator of chunks) and hashed, then streamed to
the host from that file: a 100 MB video is never in memory, let alone twice. Small in-memory
inputs skip the file. The host answers ``{"url", "direct_path"}``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp

from .cipher import MediaEncryptor
from .conn import AUTH_ERROR_STATUSES, AuthRefusedError, MediaConn, http_session, try_hosts
from .errors import MediaUploadError
from .types import MediaType

if TYPE_CHECKING:
    from ..client import Client

CHUNK_SIZE = 256 * 1024
IN_MEMORY_LIMIT = 1024 * 1024
"""Byte strings up to this size are encrypted in memory; larger inputs go through a file."""

Source = bytes | str | Path | AsyncIterable[bytes]


@dataclass(frozen=True, repr=False)
class UploadResult:
    """What a media message needs to point at the uploaded file."""

    url: str
    direct_path: str
    media_key: bytes
    file_sha256: bytes
    file_enc_sha256: bytes
    file_length: int
    media_type: MediaType

    def __repr__(self) -> str:
        return f"UploadResult({self.media_type.value}, {self.direct_path!r}, {self.file_length})"


@dataclass
class _Encrypted:
    encryptor: MediaEncryptor
    blob: bytes | None
    """The blob, for small inputs; else it is in ``file``."""
    file: IO[bytes] | None


def _encrypt_path(path: Path, encryptor: MediaEncryptor, out: IO[bytes]) -> None:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            out.write(encryptor.update(chunk))
    out.write(encryptor.finalize())


def _encrypt_bytes(data: bytes, encryptor: MediaEncryptor, out: IO[bytes]) -> None:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK_SIZE):
        out.write(encryptor.update(bytes(view[start : start + CHUNK_SIZE])))
    out.write(encryptor.finalize())


async def _encrypt(source: Source, media_key: bytes, media_type: MediaType) -> _Encrypted:
    encryptor = MediaEncryptor(media_key, media_type)
    if isinstance(source, bytes) and len(source) <= IN_MEMORY_LIMIT:
        blob = encryptor.update(source) + encryptor.finalize()
        return _Encrypted(encryptor, blob, None)
    # Closed by upload() once the POST is done (or here if encryption fails).
    out = tempfile.TemporaryFile(prefix="wa-upload-")  # noqa: SIM115
    try:
        if isinstance(source, bytes):
            await asyncio.to_thread(_encrypt_bytes, source, encryptor, out)
        elif isinstance(source, str | Path):
            await asyncio.to_thread(_encrypt_path, Path(source), encryptor, out)
        else:
            async for chunk in source:
                out.write(encryptor.update(chunk))
            out.write(encryptor.finalize())
    except BaseException:
        out.close()
        raise
    return _Encrypted(encryptor, None, out)


def upload_url(host: str, conn: MediaConn, media_type: MediaType, file_enc_sha256: bytes) -> str:
    token = base64.urlsafe_b64encode(file_enc_sha256).decode()
    query = urlencode({"auth": conn.auth, "token": token})
    return f"https://{host}/mms/{media_type.mms_type}/{token}?{query}"


async def _read_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    # Not the file object itself: aiohttp would close it after one attempt.
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        yield chunk


async def _post(session: aiohttp.ClientSession, url: str, encrypted: _Encrypted) -> dict[str, Any]:
    body: bytes | AsyncIterator[bytes]
    headers = {"Content-Type": "application/octet-stream"}
    if encrypted.file is not None:
        headers["Content-Length"] = str(encrypted.file.seek(0, os.SEEK_END))
        body = _read_chunks(encrypted.file)
    else:
        assert encrypted.blob is not None
        body = encrypted.blob
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status in AUTH_ERROR_STATUSES:
                raise AuthRefusedError(response.status)
            if response.status != 200:
                raise MediaUploadError(f"media host answered {response.status}", response.status)
            answer = await response.json(content_type=None)
    except aiohttp.ClientError as e:
        raise MediaUploadError(f"upload failed: {e}") from e
    except ValueError as e:
        raise MediaUploadError(f"upload answer is not JSON: {e}") from e
    if not isinstance(answer, dict) or not isinstance(answer.get("direct_path"), str):
        raise MediaUploadError(f"upload answer without direct_path: {answer!r:.200}")
    return answer


async def upload(
    client: Client,
    source: Source,
    media_type: MediaType,
    *,
    media_key: bytes | None = None,
) -> UploadResult:
    """Encrypt ``source`` under a fresh media key (or ``media_key``) and upload it.

    Raises :class:`MediaUploadError`; a 401/403 refreshes ``media_conn`` and retries once, other
    failures move on to the next host."""
    media_key = media_key or os.urandom(32)
    encrypted = await _encrypt(source, media_key, media_type)
    encryptor = encrypted.encryptor
    with contextlib.ExitStack() as stack:
        if encrypted.file is not None:
            stack.callback(encrypted.file.close)
        answer = await _upload_encrypted(client, encrypted, media_type)
    direct_path = answer["direct_path"]
    return UploadResult(
        url=str(answer.get("url") or ""),
        direct_path=direct_path,
        media_key=media_key,
        file_sha256=encryptor.file_sha256,
        file_enc_sha256=encryptor.file_enc_sha256,
        file_length=encryptor.file_length,
        media_type=media_type,
    )


async def _upload_encrypted(
    client: Client, encrypted: _Encrypted, media_type: MediaType
) -> dict[str, Any]:
    enc_sha256 = encrypted.encryptor.file_enc_sha256
    async with http_session(client) as session:

        async def on_host(host: str, conn: MediaConn) -> dict[str, Any]:
            return await _post(session, upload_url(host, conn, media_type, enc_sha256), encrypted)

        return await try_hosts(client.media.conn, on_host, MediaUploadError, _auth_error)


def _auth_error(error: AuthRefusedError) -> MediaUploadError:
    return MediaUploadError(str(error), error.status)
