"""Media I/O for the converters: files between WhatsApp's media hosts and the homeserver.

msgconv converts media given a context that downloads and uploads; this module does that work
for the portal. WhatsApp files are downloaded with the session of the bridge user the message
came to (so an expired file can be asked again of *their* phone) and uploaded to the homeserver
with the bot's intent; Matrix files are downloaded with the bot's intent (decrypted when the
event carries an encrypted ``file``) and uploaded with the sending user's session.

Which user that is travels in :data:`media_origin`, set by the portal's message handlers just
before they convert: the converter protocols take only the portal and the message.

Limits: WhatsApp takes files up to 2000 MiB; the homeserver says its own limit
(``m.upload.size``). A file over either becomes a clear reason, not a broken message. Formats
WhatsApp needs converted (webm/gif → mp4, voice → Ogg Opus) go through ffmpeg when it is
installed; without it msgconv refuses them by name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from mautrix.errors import MatrixError
from mautrix.types import ContentURI

from ..encryption import encrypt_file, portal_is_encrypted
from ..msgconv.media import MediaRequested
from ..whatsapp.media.errors import MediaExpiredError
from ..whatsapp.media.types import MediaType
from ..whatsapp.media.upload import UploadResult
from ..whatsapp.proto import wa_e2e_pb2

if TYPE_CHECKING:
    from ..session import MessageReceived, WhatsAppSession
    from ..user import User
    from .portal import Portal

log = logging.getLogger("mau.portal.media")

MIB = 1024 * 1024
WHATSAPP_MAX_FILE_SIZE = 2000 * MIB
"""The largest file WhatsApp accepts (the Go bridge's limit, as WhatsApp's apps)."""
FFMPEG_TIMEOUT = 300.0


class MediaTransferError(RuntimeError):
    """A file could not be moved; the text is the reason, fit to show the user."""


@dataclass(frozen=True)
class MediaOrigin:
    """The bridge user whose WhatsApp session moves the current message's files, and the
    received message itself (WhatsApp → Matrix; its key is what a media retry names)."""

    user: User
    received: MessageReceived | None = None


media_origin: ContextVar[MediaOrigin | None] = ContextVar("media_origin", default=None)


def set_media_origin(user: User, received: MessageReceived | None = None) -> None:
    """Called by the portal's handlers in their queue job, before converting a message."""
    media_origin.set(MediaOrigin(user, received))


# ---- WhatsApp side ---------------------------------------------------------------------

_MESSAGE_FIELDS: dict[type, str] = {
    wa_e2e_pb2.ImageMessage: "imageMessage",
    wa_e2e_pb2.VideoMessage: "videoMessage",
    wa_e2e_pb2.AudioMessage: "audioMessage",
    wa_e2e_pb2.DocumentMessage: "documentMessage",
    wa_e2e_pb2.StickerMessage: "stickerMessage",
}


def wrap_media(media: Any) -> wa_e2e_pb2.Message:
    """A ``Message`` holding one media part (``ImageMessage``…), as the session downloads."""
    field = _MESSAGE_FIELDS.get(type(media))
    if field is None:
        raise MediaTransferError(f"{type(media).__name__} is not a media message")
    message = wa_e2e_pb2.Message()
    getattr(message, field).CopyFrom(media)
    return message


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


# ---- Matrix side -----------------------------------------------------------------------


async def homeserver_upload_limit(portal: Portal) -> int | None:
    """The homeserver's ``m.upload.size`` (None when it doesn't say or can't be asked)."""
    try:
        config = await portal.bridge.az.intent.get_media_repo_config()
    except Exception as e:
        log.debug("Can't ask the homeserver for its upload limit: %s", e)
        return None
    return config.upload_size or None


def _unb64(value: Any, what: str, *, urlsafe: bool = False) -> bytes:
    if not isinstance(value, str):
        raise MediaTransferError(f"the encrypted file's {what} is missing")
    padded = value + "=" * (-len(value) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as e:
        raise MediaTransferError(f"the encrypted file's {what} is not base64") from e


def decrypt_attachment(ciphertext: bytes, file: Mapping[str, Any]) -> bytes:
    """An encrypted-room attachment's plaintext (Matrix spec: AES-256-CTR under ``key.k``
    with ``iv``; ``hashes.sha256`` is the ciphertext's, checked first)."""
    key_info = file.get("key")
    hashes = file.get("hashes")
    if not isinstance(key_info, Mapping) or not isinstance(hashes, Mapping):
        raise MediaTransferError("the encrypted file has no key or hashes")
    key = _unb64(key_info.get("k"), "key", urlsafe=True)
    iv = _unb64(file.get("iv"), "iv")
    expected = _unb64(hashes.get("sha256"), "hash")
    if len(key) != 32 or len(iv) != 16:
        raise MediaTransferError("the encrypted file's key or iv has the wrong length")
    if hashlib.sha256(ciphertext).digest() != expected:
        raise MediaTransferError("the encrypted file's hash doesn't match what was downloaded")
    decryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


# ---- the I/O one conversion needs ------------------------------------------------------


class PortalMedia:
    """Downloads and uploads for one message of ``portal`` (msgconv's contexts call these)."""

    def __init__(self, portal: Portal, origin: MediaOrigin | None) -> None:
        self.portal = portal
        self.origin = origin
        self._upload_limit: tuple[int | None] | None = None
        self.encrypted_files: dict[str, dict[str, Any]] = {}  # ---- encryption ----

    async def upload_limit(self) -> int | None:
        """The homeserver's upload limit, asked once per message (it may change any time)."""
        if self._upload_limit is None:
            self._upload_limit = (await homeserver_upload_limit(self.portal),)
        return self._upload_limit[0]

    def _user(self) -> User:
        if self.origin is None:
            raise MediaTransferError("no bridge user to move the file with")
        return self.origin.user

    async def download_from_whatsapp(self, media: Any) -> bytes:
        """The decrypted file of a waE2E media part; expired files are asked again of the
        receiving user's phone. Files larger than the homeserver accepts are refused before
        downloading."""
        declared = int(getattr(media, "fileLength", 0) or 0)
        limit = await self.upload_limit()
        if limit is not None and declared > limit:
            raise MediaTransferError(
                f"the file is too large for the homeserver ({_mib(declared)}; it accepts at "
                f"most {_mib(limit)})"
            )
        session = self._user().session
        if session is None:
            raise MediaTransferError("the user isn't logged in to WhatsApp")
        origin = self.origin.received if self.origin is not None else None
        # ---- media requests ----
        prefetched = prefetched_media.get()
        if prefetched is not None:
            return prefetched
        deferred = deferred_media.get()
        if deferred is not None and origin is not None:
            return await download_or_defer(session, wrap_media(media), deferred)
        return await session.download_media(wrap_media(media), origin)

    async def upload_to_matrix(self, data: bytes, mimetype: str, filename: str) -> str:
        """Upload to the homeserver's media repository with the bot; the ``mxc://`` URI."""
        limit = await self.upload_limit()
        if limit is not None and len(data) > limit:
            raise MediaTransferError(
                f"the file is too large for the homeserver ({_mib(len(data))}; it accepts at "
                f"most {_mib(limit)})"
            )
        intent = self.portal.bridge.az.intent
        if await portal_is_encrypted(self.portal):  # ---- encryption ----
            return await self._upload_encrypted(data)
        url = await intent.upload_media(data, mime_type=mimetype, filename=filename)
        return str(url)

    # ---- encryption ----

    async def _upload_encrypted(self, data: bytes) -> str:
        """Upload ``data`` encrypted (the room is): the URL, its ``file`` kept for the event."""
        ciphertext, file = await asyncio.to_thread(encrypt_file, data)
        intent = self.portal.bridge.az.intent
        url = str(await intent.upload_media(ciphertext, mime_type="application/octet-stream"))
        self.encrypted_files[url] = file
        return url

    async def download_from_matrix(
        self, url: str, encrypted_file: Mapping[str, Any] | None
    ) -> bytes:
        """The file behind an ``mxc://`` URI (decrypted for encrypted rooms), with the bot."""
        intent = self.portal.bridge.az.intent
        try:
            data = await intent.download_media(ContentURI(url))
        except aiohttp.ClientResponseError as e:
            raise MediaTransferError(
                f"the homeserver can't serve {url} (HTTP {e.status} {e.message})"
            ) from e
        except (MatrixError, aiohttp.ClientError) as e:
            raise MediaTransferError(f"the homeserver can't serve {url} ({e})") from e
        if len(data) > WHATSAPP_MAX_FILE_SIZE:
            raise MediaTransferError(too_large_for_whatsapp(len(data)))
        if encrypted_file is not None:
            data = await asyncio.to_thread(decrypt_attachment, data, encrypted_file)
        return data

    async def upload_to_whatsapp(
        self, data: bytes, kind: MediaType, mimetype: str
    ) -> UploadResult:
        """Encrypt and upload to WhatsApp with the sending user's session."""
        session = self._user().session
        if session is None:
            raise MediaTransferError("you're not logged in to WhatsApp")
        return await session.upload_media(data, kind)


def too_large_for_whatsapp(size: int) -> str:
    return (
        f"the file is too large for WhatsApp ({_mib(size)}; it accepts at most "
        f"{_mib(WHATSAPP_MAX_FILE_SIZE)})"
    )


def declared_size_problem(content: Mapping[str, Any]) -> str | None:
    """Why a Matrix media event can't go to WhatsApp by its declared ``info.size`` (checked
    before anything is downloaded), or None."""
    info = content.get("info")
    size = info.get("size") if isinstance(info, Mapping) else None
    if isinstance(size, int) and not isinstance(size, bool) and size > WHATSAPP_MAX_FILE_SIZE:
        return too_large_for_whatsapp(size)
    return None


# ---- format conversion ---------------------------------------------------------------

_FFMPEG_OUTPUTS: dict[str, tuple[str, list[str]]] = {
    "video/mp4": (
        "mp4",
        [
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-vf",
            "scale=trunc(iw/2)*2:trunc(ih/2)*2",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
        ],
    ),
    "audio/ogg; codecs=opus": ("ogg", ["-vn", "-c:a", "libopus", "-ac", "1"]),
}


class FfmpegConverter:
    """msgconv's ``MediaConverter`` on the ffmpeg program (through temporary files: MP4
    needs a seekable output)."""

    name = "ffmpeg"

    def __init__(self, program: str) -> None:
        self.program = program

    async def convert(self, data: bytes, source_mime: str, target_mime: str) -> bytes:
        output = _FFMPEG_OUTPUTS.get(target_mime)
        if output is None:
            raise ValueError(f"ffmpeg can't produce {target_mime} here")
        extension, arguments = output
        with tempfile.TemporaryDirectory(prefix="mautrix-whatsapp-") as directory:
            source, target = Path(directory) / "input", Path(directory) / f"output.{extension}"
            await asyncio.to_thread(source.write_bytes, data)
            process = await asyncio.create_subprocess_exec(
                self.program,
                *("-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(source)),
                *arguments,
                str(target),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                async with asyncio.timeout(FFMPEG_TIMEOUT):
                    _, stderr = await process.communicate()
            except TimeoutError:
                process.kill()
                await process.wait()
                raise RuntimeError(f"ffmpeg took longer than {FFMPEG_TIMEOUT:.0f} s") from None
            if process.returncode != 0:
                message = stderr.decode("utf-8", "replace").strip()[-500:]
                raise RuntimeError(f"ffmpeg exited with {process.returncode}: {message}")
            return await asyncio.to_thread(target.read_bytes)


def media_converter(program: str = "ffmpeg") -> FfmpegConverter | None:
    """The ffmpeg converter when ``program`` is installed, else None (msgconv then names the
    conversion that would have been needed)."""
    path = shutil.which(program)
    return FfmpegConverter(path) if path is not None else None


# ---- media requests ----


@dataclass
class DeferredMedia:
    """Set by a backfill around each message: an expired file is not asked of the phone
    there and then (that waits up to the retry timeout for every file); it is noted here, the
    message is bridged as a placeholder and the file is requested later
    (:mod:`..backfill.media_requests`)."""

    auto_request: bool
    expired: bool = False


deferred_media: ContextVar[DeferredMedia | None] = ContextVar("deferred_media", default=None)
prefetched_media: ContextVar[bytes | None] = ContextVar("prefetched_media", default=None)
"""The file of the message being converted, already downloaded (a media request's answer)."""


async def download_or_defer(
    session: WhatsAppSession, message: wa_e2e_pb2.Message, deferred: DeferredMedia
) -> bytes:
    """The file if it is still on WhatsApp's servers; else note it as deferred and raise
    the expiry (:class:`MediaRequested` when the phone will be asked automatically)."""
    try:
        return await session.download_media(message, None)
    except MediaExpiredError as e:
        deferred.expired = True
        if deferred.auto_request:
            raise MediaRequested(str(e), e.status) from e
        raise
