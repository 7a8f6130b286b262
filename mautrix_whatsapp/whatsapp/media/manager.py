"""``client.media``: the media connection cache and the media operations as methods.

The operations are plain functions of the client in their own modules (:mod:`.download`,
:mod:`.upload`, :mod:`.retry`); this object holds the per-client state they share (the cached
``media_conn``) and lets callers write ``await client.media.download(...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .conn import MediaConnCache
from .download import MediaRef, download, download_to_file

if TYPE_CHECKING:
    from ..client import Client


class MediaManager:
    def __init__(self, client: Client) -> None:
        self._client = client
        self.conn = MediaConnCache(client)

    async def download(self, ref: MediaRef) -> bytes:
        return await download(self._client, ref)

    async def download_to_file(self, ref: MediaRef, destination: str | Path) -> int:
        return await download_to_file(self._client, ref, destination)
