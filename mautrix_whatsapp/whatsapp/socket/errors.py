"""Typed errors of the WhatsApp transport.

Everything the socket layer raises on bad input or a broken connection derives from
:class:`SocketError`, so a caller can tell transport trouble from its own bugs with one ``except``.
"""

from __future__ import annotations

from enum import Enum


class SocketError(Exception):
    """Base class of every error raised by :mod:`mautrix_whatsapp.whatsapp.socket`."""


class DialError(SocketError):
    """The websocket connection could not be opened (DNS, TCP, TLS, HTTP upgrade or timeout)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of a refused upgrade, when there was one."""


class SocketClosedError(SocketError):
    """The connection is closed (or was never opened), so nothing more can be sent or received."""


class FrameTooLargeError(SocketError):
    """A frame is longer than the frame size limit, in either direction."""

    def __init__(self, size: int, limit: int, *, incoming: bool) -> None:
        direction = "received" if incoming else "outgoing"
        super().__init__(f"{direction} frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit
        self.incoming = incoming


class NoiseDecryptError(SocketError):
    """A handshake or transport frame failed AES-GCM authentication."""


class HandshakeError(SocketError):
    """The Noise handshake with the server failed."""


class HandshakeTimeoutError(HandshakeError, TimeoutError):
    """The server did not answer the handshake in time."""


class HandshakeClosedError(HandshakeError, SocketClosedError):
    """The connection ended before the handshake completed."""


class CertificateErrorReason(Enum):
    """Why the server's Noise certificate chain was rejected."""

    MALFORMED = "malformed"
    BAD_ROOT_SIGNATURE = "intermediate not signed by the root key"
    BAD_INTERMEDIATE_ISSUER = "intermediate issuer serial is not the root's"
    BAD_LEAF_SIGNATURE = "leaf not signed by the intermediate key"
    BAD_LEAF_ISSUER = "leaf issuer serial is not the intermediate's serial"
    LEAF_KEY_MISMATCH = "leaf key is not the server's static key"
    EXPIRED = "certificate expired"
    NOT_YET_VALID = "certificate not yet valid"


class CertificateError(HandshakeError):
    """The server's certificate chain failed verification; ``reason`` says which check failed."""

    reason: CertificateErrorReason = CertificateErrorReason.MALFORMED

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.reason.value}: {message}")


class CertificateMalformedError(CertificateError):
    """The chain is missing parts or cannot be decoded."""

    reason = CertificateErrorReason.MALFORMED


class RootSignatureError(CertificateError):
    """The intermediate certificate's signature does not verify with the root key."""

    reason = CertificateErrorReason.BAD_ROOT_SIGNATURE


class IntermediateIssuerError(CertificateError):
    """The intermediate certificate names an issuer other than the root (serial 0)."""

    reason = CertificateErrorReason.BAD_INTERMEDIATE_ISSUER


class LeafSignatureError(CertificateError):
    """The leaf certificate's signature does not verify with the intermediate key."""

    reason = CertificateErrorReason.BAD_LEAF_SIGNATURE


class LeafIssuerError(CertificateError):
    """The leaf certificate names an issuer other than the intermediate."""

    reason = CertificateErrorReason.BAD_LEAF_ISSUER


class LeafKeyMismatchError(CertificateError):
    """The leaf certifies a key other than the static key the server proved it holds."""

    reason = CertificateErrorReason.LEAF_KEY_MISMATCH


class CertificateExpiredError(CertificateError):
    """A certificate's ``notAfter`` lies in the past."""

    reason = CertificateErrorReason.EXPIRED


class CertificateNotYetValidError(CertificateError):
    """A certificate's ``notBefore`` lies in the future."""

    reason = CertificateErrorReason.NOT_YET_VALID
