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
from .retry import MediaRetry, MediaRetryError, decrypt_media_retry
from .types import MediaType
from .upload import UploadResult, upload

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
    "MediaRetry",
    "MediaRetryError",
    "MediaType",
    "MediaUploadError",
    "UploadResult",
    "decrypt_media_retry",
    "download",
    "download_media",
    "download_to_file",
    "upload",
]
