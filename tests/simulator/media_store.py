"""The media server's storage: encrypted blobs by direct path, as WhatsApp's CDN keeps them.

:class:`MediaStore` lives in ``state.extra["media_store"]`` (see :func:`get_media_store`). The
HTTP side (``media.py``: upload, download, ``media_conn``) and the phone (history blobs, app-state
snapshots, media it sends or re-uploads) both put blobs here. A blob can be expired on demand:
downloads then answer 410, as WhatsApp does for media older than its retention, until the phone
uploads it again (media retry).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass

from .state import ServerState

MEDIA_PATH_BY_TYPE: dict[str, str] = {
    "image": "/mms/image",
    "video": "/mms/video",
    "gif": "/mms/video",
    "audio": "/mms/audio",
    "ptt": "/mms/audio",
    "document": "/mms/document",
    "sticker": "/mms/image",
    "thumbnail-link": "/mms/image",
    "md-msg-hist": "/mms/md-app-state",
    "md-app-state": "/mms/md-app-state",
    "product-catalog-image": "/product/image",
}
"""Upload path per media type (Baileys ``MEDIA_PATH_MAP``)."""


@dataclass
class StoredBlob:
    direct_path: str
    """``/v/t62.7118-24/<name>.enc?ccb=11-4&oh=…&oe=…``: starts with ``/`` and has a query."""
    media_type: str
    blob: bytes
    enc_sha256: bytes
    expired: bool = False


MEDIA_CONN_TTL = 300
"""Seconds a client may cache ``media_conn`` (WhatsApp answers ``ttl="300"``)."""
AUTH_TTL = 21600
"""Seconds an upload ``auth`` stays valid (WhatsApp's ``auth_ttl``)."""
MAX_UPLOAD_BYTES = 128 * 1024 * 1024
"""Default largest accepted upload body (a 100 MB video fits)."""


class MediaStore:
    def __init__(self) -> None:
        self.blobs: dict[str, StoredBlob] = {}
        """By direct path without its query string."""
        self.auths: dict[str, float] = {}
        """Upload auths issued by ``media_conn``, with their expiry (monotonic seconds)."""
        self.revoked: set[str] = set()
        """Auths issued once and revoked since (a refresh is due, not a client fault)."""
        self.max_upload_bytes = MAX_UPLOAD_BYTES

    def issue_auth(self) -> str:
        auth = secrets.token_urlsafe(48)
        self.auths[auth] = time.monotonic() + AUTH_TTL
        return auth

    def auth_status(self, auth: str) -> str:
        """``valid``, ``expired`` (issued, but past its ttl or revoked) or ``unknown``."""
        expiry = self.auths.get(auth)
        if expiry is None:
            return "expired" if auth in self.revoked else "unknown"
        if time.monotonic() > expiry:
            return "expired"
        return "valid"

    def revoke_auths(self) -> int:
        """Invalidate every issued auth, so clients must fetch ``media_conn`` again."""
        count = len(self.auths)
        self.revoked.update(self.auths)
        self.auths.clear()
        return count

    def put(self, blob: bytes, media_type: str) -> StoredBlob:
        """Keep ``blob`` under a fresh direct path (each upload gets its own, like WhatsApp)."""
        enc_sha256 = hashlib.sha256(blob).digest()
        name = secrets.token_hex(16)
        path = f"/v/t62.7118-24/{name}.enc"
        token = base64.urlsafe_b64encode(enc_sha256).decode().rstrip("=")
        stored = StoredBlob(f"{path}?ccb=11-4&oh={token[:16]}&oe=0", media_type, blob, enc_sha256)
        self.blobs[path] = stored
        return stored

    def get(self, direct_path: str) -> StoredBlob | None:
        """The blob at ``direct_path``; extra query parameters are ignored."""
        return self.blobs.get(direct_path.split("?", 1)[0])

    def expire(self, direct_path: str) -> bool:
        stored = self.get(direct_path)
        if stored is None:
            return False
        stored.expired = True
        return True

    def forget(self, direct_path: str) -> bool:
        """Drop the blob: downloads answer 404 and a phone asked to re-upload it has no file."""
        return self.blobs.pop(direct_path.split("?", 1)[0], None) is not None


def get_media_store(state: ServerState) -> MediaStore:
    store = state.extra.get("media_store")
    if not isinstance(store, MediaStore):
        store = state.extra["media_store"] = MediaStore()
    return store
