"""In-process tests of the simulator's building blocks: stream decoding, QR parsing, registries."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.socket.errors import FrameTooLargeError
from mautrix_whatsapp.whatsapp.socket.frames import encode_frame
from mautrix_whatsapp.whatsapp.socket.framesocket import connection_header
from tests.simulator.qr import QR_URL_PREFIX, QRFormatError, parse_qr
from tests.simulator.state import AdminError, AdminRouter, IQHandlerRegistry, RegistryError
from tests.simulator.stream import ClientStreamDecoder, FrameError

FRAMES = [b"", b"a", os.urandom(300), os.urandom(70000)]


def _stream(routing: bytes | None) -> bytes:
    return connection_header(routing) + b"".join(encode_frame(f) for f in FRAMES)


@pytest.mark.parametrize("routing", [None, b"", b"\x08\x02\x12\x05edge1"])
def test_stream_in_one_piece(routing: bytes | None) -> None:
    decoder = ClientStreamDecoder()
    assert decoder.feed(_stream(routing)) == FRAMES
    assert decoder.routing_info == (routing or None)


@settings(max_examples=60, deadline=None)
@given(
    routing=st.one_of(st.none(), st.binary(min_size=1, max_size=40)),
    cuts=st.lists(st.integers(min_value=0, max_value=71000), max_size=12),
)
def test_stream_split_anywhere(routing: bytes | None, cuts: list[int]) -> None:
    """Header, prefix and frames may be cut at any byte and still come out whole and in order."""
    stream = _stream(routing)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    decoder = ClientStreamDecoder()
    frames: list[bytes] = []
    previous = 0
    for point in [*points, len(stream)]:
        frames += decoder.feed(stream[previous:point])
        previous = point
    assert frames == FRAMES
    assert decoder.routing_info == routing


@pytest.mark.parametrize(
    "data",
    [
        b"XA\x06\x03",
        b"WA\x05\x03",
        b"WA\x06\x09",
        b"EX\x00\x01",
        b"ED\x01\x01\x00\x00\x00WA\x06\x03",
    ],
)
def test_bad_header_rejected(data: bytes) -> None:
    with pytest.raises(FrameError):
        ClientStreamDecoder().feed(data)


def test_partial_header_waits() -> None:
    decoder = ClientStreamDecoder()
    for byte in connection_header(b"xyz"):
        assert decoder.feed(bytes([byte])) == []
    assert decoder.feed(encode_frame(b"hi")) == [b"hi"]
    assert decoder.routing_info == b"xyz"


def test_oversized_frame_rejected() -> None:
    decoder = ClientStreamDecoder(max_frame_size=1000)
    with pytest.raises(FrameTooLargeError):
        decoder.feed(connection_header() + (1001).to_bytes(3, "big"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


NOISE, IDENTITY, ADV = os.urandom(32), os.urandom(32), os.urandom(32)
FIELDS = f"2@abc+/=,{_b64(NOISE)},{_b64(IDENTITY)},{_b64(ADV)}"


@pytest.mark.parametrize(
    ("text", "platform", "prefixed"),
    [
        (QR_URL_PREFIX + FIELDS + ",1", "1", True),
        (FIELDS + ",c", "c", False),
        (FIELDS, None, False),
        (" " + QR_URL_PREFIX + FIELDS + "\n", None, True),
    ],
)
def test_qr_formats(text: str, platform: str | None, prefixed: bool) -> None:
    qr = parse_qr(text)
    assert (qr.ref, qr.noise_public, qr.identity_public, qr.adv_secret) == (
        "2@abc+/=",
        NOISE,
        IDENTITY,
        ADV,
    )
    assert qr.platform == platform
    assert qr.had_url_prefix == prefixed
    assert _b64(NOISE) not in repr(qr)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        FIELDS + ",1,extra",
        f",{_b64(NOISE)},{_b64(IDENTITY)},{_b64(ADV)}",
        f"ref,{_b64(NOISE[:31])},{_b64(IDENTITY)},{_b64(ADV)}",
        f"ref,{_b64(NOISE)},not*base64,{_b64(ADV)}",
        FIELDS + ",",
        "https://example.com/#" + FIELDS,
    ],
)
def test_qr_garbage(text: str) -> None:
    with pytest.raises(QRFormatError):
        parse_qr(text)


async def _handler_a(conn: object, node: Node) -> Node | None:
    return None


async def _handler_b(conn: object, node: Node) -> Node | None:
    return None


def test_iq_registry_most_specific_first() -> None:
    registry = IQHandlerRegistry()
    registry.register("encrypt", _handler_a)
    registry.register("encrypt", _handler_b, child="count", type="get")
    assert registry.find("encrypt", "get", "count") is _handler_b
    assert registry.find("encrypt", "set", "count") is _handler_a
    assert registry.find("encrypt", "get", None) is _handler_a
    assert registry.find("other", "get", "count") is None
    with pytest.raises(RegistryError):
        registry.register("encrypt", _handler_b)
    registry.register("encrypt", _handler_b, replace=True)
    assert registry.find("encrypt", "set", None) is _handler_b
    with pytest.raises(RegistryError):
        registry.register("x", _handler_a, type="result")


async def _admin(request: object, params: dict[str, str]) -> object:
    return params


def test_admin_router() -> None:
    router = AdminRouter()
    router.add("POST", "/mock-phone/scan-qr", _admin)  # type: ignore[arg-type]
    router.add("GET", "/accounts/{phone}/devices", _admin)  # type: ignore[arg-type]
    found = router.resolve("GET", "accounts/123/devices")
    assert found is not None and found[1] == {"phone": "123"}
    assert router.resolve("GET", "accounts/123") is None
    with pytest.raises(AdminError) as error:
        router.resolve("GET", "/mock-phone/scan-qr")
    assert error.value.status == 405
    with pytest.raises(RegistryError):
        router.add("post", "/mock-phone/scan-qr", _admin)  # type: ignore[arg-type]
