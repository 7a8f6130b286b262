"""Small real media files made in Python for the media tests (no tests of its own): JPEG and
PNG from Pillow, an animated WebP sticker, a PCM WAV voice note, and a minimal MP4 (ISO-BMFF
boxes written by hand: ``ftyp``, ``moov`` with ``mvhd`` and a video ``trak``)."""

from __future__ import annotations

import io
import math
import struct
import wave

from PIL import Image


def jpeg(width: int = 320, height: int = 240) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(0, width, 8):
        for y in range(0, height, 8):
            image.paste((x % 256, y % 256, (x * y) % 256), (x, y, x + 8, y + 8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def animated_webp(size: int = 96) -> bytes:
    frames = [Image.new("RGBA", (size, size), (i * 60, 0, 255 - i * 60, 255)) for i in range(4)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def wav(seconds: float = 2.5, rate: int = 8000) -> bytes:
    """A tone that gets louder: the waveform rises from near 0 to 100."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        count = int(seconds * rate)
        samples = (
            int(30000 * (i / count) * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count)
        )
        file.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, payload: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0" + payload)


def mp4(width: int = 640, height: int = 360, seconds: int = 7) -> bytes:
    """A video-only MP4 header: mutagen reads the duration from ``mvhd``, we read ``tkhd``."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _full(
        b"mvhd",
        struct.pack(">IIII", 0, 0, 1000, seconds * 1000)
        + struct.pack(">IH", 0x10000, 0x100)
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    tkhd = _full(
        b"tkhd",
        struct.pack(">IIIII", 0, 0, 1, 0, seconds * 1000)
        + bytes(8)
        + struct.pack(">HHHH", 0, 0, 0, 0)
        + matrix
        + struct.pack(">II", width << 16, height << 16),
    )
    hdlr = _full(b"hdlr", b"\0\0\0\0vide" + bytes(12) + b"video\0")
    mdhd = _full(b"mdhd", struct.pack(">IIII", 0, 0, 1000, seconds * 1000) + b"\x55\xc4\0\0")
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr))
    ftyp = _box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41")
    return ftyp + _box(b"moov", mvhd + trak) + _box(b"mdat", bytes(64))
