"""Media: keys and streaming crypto, the media connection, upload, download, media retry and
the media message builders (whatsmeow ``mediaconn.go``, ``upload.go``, ``download.go``,
``mediaretry.go``). ``client.media`` (:class:`MediaManager`) is the entry point."""

from .conn import MediaConn, MediaConnCache
from .download import MediaRef, download, download_media, download_to_file
from .errors import (
    EncHashMismatchError,
    FileHashMismatchError,
    MACMismatchError,
    MediaConnError,
    MediaDecryptError,
    MediaDownloadError,
    MediaError,
    MediaExpiredError,
    MediaHTTPError,
    MediaUploadError,
)
from .manager import MediaManager
from .types import MediaType

__all__ = [
    "EncHashMismatchError",
    "FileHashMismatchError",
    "MACMismatchError",
    "MediaConn",
    "MediaConnCache",
    "MediaConnError",
    "MediaDecryptError",
    "MediaDownloadError",
    "MediaError",
    "MediaExpiredError",
    "MediaHTTPError",
    "MediaManager",
    "MediaRef",
    "MediaType",
    "MediaUploadError",
    "download",
    "download_media",
    "download_to_file",
]
