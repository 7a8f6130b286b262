"""``client.media``: the media connection cache and the media operations as methods.

The operations are plain functions of the client in their own modules (:mod:`.download`,
:mod:`.upload`, :mod:`.retry`); this object holds the per-client state they share (the cached
``media_conn``) and lets callers write ``await client.media.download(...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..message_info import MessageInfo
from .conn import MediaConnCache
from .download import MediaRef, download, download_to_file
from .retry import install as install_retry
from .retry import send_media_retry_receipt
from .types import MediaType
from .upload import Source, UploadResult, upload

if TYPE_CHECKING:
    from ..client import Client


class MediaManager:
    def __init__(self, client: Client) -> None:
        self._client = client
        self.conn = MediaConnCache(client)
        install_retry(client)

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
