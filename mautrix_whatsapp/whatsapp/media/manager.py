"""``client.media``: the media connection cache and the media operations as methods.

The operations are plain functions of the client in their own modules (:mod:`.download`,
:mod:`.upload`, :mod:`.retry`); this object holds the per-client state they share (the cached
``media_conn``, callers waiting for media-retry answers) and lets callers write
``await client.media.download(...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..message_info import MessageInfo
from .builders import MediaFields, Message, prepare_media_message
from .conn import MediaConnCache
from .download import MediaRef, download, download_to_file
from .errors import MediaExpiredError
from .retry import RetryWaiters, send_media_retry_receipt
from .retry import install as install_retry
from .types import MediaType
from .upload import Source, UploadResult, upload

if TYPE_CHECKING:
    from ..client import Client


class MediaManager:
    def __init__(self, client: Client) -> None:
        self._client = client
        self.conn = MediaConnCache(client)
        self._retries = RetryWaiters()
        install_retry(client, self._retries)

    async def download(self, ref: MediaRef) -> bytes:
        return await download(self._client, ref)

    async def download_to_file(self, ref: MediaRef, destination: str | Path) -> int:
        return await download_to_file(self._client, ref, destination)

    async def upload(
        self, source: Source, media_type: MediaType, *, media_key: bytes | None = None
    ) -> UploadResult:
        return await upload(self._client, source, media_type, media_key=media_key)

    async def send_retry_receipt(self, info: MessageInfo, media_key: bytes) -> None:
        """Ask the phone to re-upload expired media (answer: a :class:`~.retry.MediaRetry`)."""
        await send_media_retry_receipt(self._client, info, media_key)

    async def prepare_message(
        self, source: bytes | str | Path, kind: MediaType, fields: MediaFields | None = None
    ) -> tuple[Message, UploadResult]:
        """Probe, upload and build a media message (:func:`.builders.prepare_media_message`)."""
        return await prepare_media_message(self._client, source, kind, fields)

    async def download_or_retry(
        self, ref: MediaRef, info: MessageInfo, *, timeout: float = 60.0
    ) -> bytes:
        """:meth:`download`; if the file expired (404/410), ask the phone to upload it again
        (media retry), wait for its answer and download from the new direct path. Raises
        :class:`~.retry.MediaRetryError` if the phone cannot."""
        try:
            return await self.download(ref)
        except MediaExpiredError:
            pass
        answer = await self._retries.request(self._client, info, ref.media_key, timeout)
        renewed = MediaRef(
            ref.media_type, ref.media_key, ref.file_enc_sha256, ref.file_sha256, answer.directPath
        )
        return await self.download(renewed)
