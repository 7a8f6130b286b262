"""The WhatsApp transport: frames over a websocket, wrapped in a Noise session.

Typical use::

    fs = FrameSocket(url, ca_file=...)
    await fs.connect()
    noise = await do_handshake(fs, noise_key, client_payload_bytes, root_public_key)
    await noise.send_frame(node_bytes)
    async for node_bytes in noise: ...
"""

from .cert import WA_CERT_ISSUER_SERIAL, WA_CERT_PUB_KEY, verify_server_cert
from .errors import (
    CertificateError,
    CertificateErrorReason,
    CertificateExpiredError,
    CertificateMalformedError,
    CertificateNotYetValidError,
    DialError,
    FrameTooLargeError,
    HandshakeClosedError,
    HandshakeError,
    HandshakeTimeoutError,
    IntermediateIssuerError,
    LeafIssuerError,
    LeafKeyMismatchError,
    LeafSignatureError,
    NoiseDecryptError,
    RootSignatureError,
    SocketClosedError,
    SocketError,
)
from .frames import FRAME_MAX_SIZE, FrameDecoder, encode_frame
from .framesocket import ORIGIN, WA_URL, FrameSocket, connection_header
from .handshake import NOISE_HANDSHAKE_RESPONSE_TIMEOUT, do_handshake
from .noise_handshake import WA_CONN_HEADER, CipherPair, NoiseHandshakeState, TransportCipher
from .noise_socket import NoiseSocket

__all__ = [
    "FRAME_MAX_SIZE",
    "NOISE_HANDSHAKE_RESPONSE_TIMEOUT",
    "ORIGIN",
    "WA_CERT_ISSUER_SERIAL",
    "WA_CERT_PUB_KEY",
    "WA_CONN_HEADER",
    "WA_URL",
    "CertificateError",
    "CertificateErrorReason",
    "CertificateExpiredError",
    "CertificateMalformedError",
    "CertificateNotYetValidError",
    "CipherPair",
    "DialError",
    "FrameDecoder",
    "FrameSocket",
    "FrameTooLargeError",
    "HandshakeClosedError",
    "HandshakeError",
    "HandshakeTimeoutError",
    "IntermediateIssuerError",
    "LeafIssuerError",
    "LeafKeyMismatchError",
    "LeafSignatureError",
    "NoiseDecryptError",
    "NoiseHandshakeState",
    "NoiseSocket",
    "RootSignatureError",
    "SocketClosedError",
    "SocketError",
    "TransportCipher",
    "connection_header",
    "do_handshake",
    "encode_frame",
    "verify_server_cert",
]
