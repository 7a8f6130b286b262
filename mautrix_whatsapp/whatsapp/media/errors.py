"""Typed media failures: one class per download check and per HTTP outcome.

Callers branch on them: an expired blob (:class:`MediaExpiredError`) is worth a media retry, a
hash or MAC mismatch is not (the blob or the message is wrong).
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of every media failure."""


class MediaConnError(MediaError):
    """The ``media_conn`` query failed or its answer was malformed."""


class MediaDownloadError(MediaError):
    """A download failed (base of the download errors)."""


class MediaHTTPError(MediaDownloadError):
    """The media host answered an unexpected status (``status``) or could not be reached
    (``status`` is None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MediaExpiredError(MediaHTTPError):
    """404 or 410: the CDN no longer has the blob; ask the sender's phone for a media retry."""


class EncHashMismatchError(MediaDownloadError):
    """The downloaded blob's SHA-256 is not the message's ``fileEncSHA256``."""


class MACMismatchError(MediaDownloadError):
    """The blob's truncated HMAC does not match (wrong media key or tampered blob)."""


class MediaDecryptError(MediaDownloadError):
    """The ciphertext is not whole blocks or its padding is bad."""


class FileHashMismatchError(MediaDownloadError):
    """The decrypted file's SHA-256 is not the message's ``fileSHA256``."""


class MediaUploadError(MediaError):
    """An upload failed (``status`` is the HTTP status, None if the host was unreachable)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
