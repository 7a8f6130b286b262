"""What a media message says about its file, read from the file itself without system tools:
image size and JPEG thumbnails with Pillow, audio/video duration with mutagen, video size from
the MP4 ``tkhd`` box, voice-note waveforms from PCM WAV.

Every probe reads lazily from a path or a byte string and returns None for what it cannot tell
(a format it does not know, a damaged file); builders then leave the field out.
"""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import mutagen
from PIL import Image, ImageOps, UnidentifiedImageError

THUMBNAIL_SIZE = 72
"""Longest side of the inline JPEG thumbnails, in pixels."""
WAVEFORM_LENGTH = 64

FileSource = bytes | str | Path


def _open(source: FileSource) -> IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else Path(source).open("rb")


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    animated: bool
    thumbnail: bytes
    """A small JPEG of the image (inline in the message)."""


def jpeg_thumbnail(image: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    thumb = ImageOps.exif_transpose(image).convert("RGB")
    thumb.thumbnail((size, size))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=60)
    return out.getvalue()


def probe_image(source: FileSource) -> ImageInfo | None:
    try:
        with _open(source) as file, Image.open(file) as image:
            width, height = image.size
            animated = bool(getattr(image, "is_animated", False))
            return ImageInfo(width, height, animated, jpeg_thumbnail(image))
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def probe_duration(source: FileSource) -> int | None:
    """Whole seconds of an audio or video file (rounded up, at least 1), if mutagen knows it."""
    try:
        with _open(source) as file:
            parsed = mutagen.File(file)
    except (mutagen.MutagenError, OSError, ValueError, struct.error):
        return None
    length = getattr(getattr(parsed, "info", None), "length", None)
    if not isinstance(length, int | float) or length <= 0:
        return None
    return max(1, int(-(-length // 1)))


def _boxes(file: IO[bytes], start: int, end: int) -> list[tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` of the ISO-BMFF boxes in ``[start, end)``."""
    boxes = []
    offset = start
    while offset + 8 <= end:
        file.seek(offset)
        header = file.read(16)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header[:8])
        payload = offset + 8
        if size == 1 and len(header) == 16:
            size = struct.unpack(">Q", header[8:16])[0]
            payload = offset + 16
        elif size == 0:
            size = end - offset
        if size < payload - offset or offset + size > end:
            break
        boxes.append((kind, payload, offset + size))
        offset += size
    return boxes


def probe_video_size(source: FileSource) -> tuple[int, int] | None:
    """Width and height of the first video track of an MP4/MOV (its ``tkhd``)."""
    try:
        with _open(source) as file:
            end = file.seek(0, io.SEEK_END)
            for kind, start, stop in _boxes(file, 0, end):
                if kind != b"moov":
                    continue
                for trak, t_start, t_stop in _boxes(file, start, stop):
                    if trak != b"trak":
                        continue
                    for box, b_start, b_stop in _boxes(file, t_start, t_stop):
                        if box == b"tkhd" and b_stop - b_start >= 8:
                            file.seek(b_stop - 8)
                            width, height = struct.unpack(">II", file.read(8))
                            if width and height:
                                return width >> 16, height >> 16
    except (OSError, struct.error):
        return None
    return None


def resample_waveform(values: Sequence[float], length: int = WAVEFORM_LENGTH) -> bytes:
    """``length`` bytes from 0 to 100 out of any number of non-negative amplitudes (the peak of
    each slice, the loudest slice = 100)."""
    count = len(values)
    if not count:
        return bytes(length)
    buckets = []
    for i in range(length):
        low = i * count // length
        buckets.append(max(values[low : max((i + 1) * count // length, low + 1)]))
    peak = max(buckets) or 1
    return bytes(min(100, round(100 * value / peak)) for value in buckets)


def probe_wav_waveform(source: FileSource) -> bytes | None:
    """The 64-byte voice-note waveform of a PCM WAV file (peak per slice, scaled to 100)."""
    try:
        with _open(source) as file, wave.open(file) as wav:
            width = wav.getsampwidth()
            frames = wav.getnframes()
            if width not in (1, 2) or frames == 0:
                return None
            block = max(1, frames // (WAVEFORM_LENGTH * 8))
            amplitudes: list[float] = []
            while chunk := wav.readframes(block):
                if width == 2:
                    samples: tuple[int, ...] = struct.unpack(f"<{len(chunk) // 2}h", chunk)
                else:
                    samples = tuple(b - 128 for b in chunk)
                amplitudes.append(max(map(abs, samples), default=0))
    except (OSError, EOFError, wave.Error, struct.error):
        return None
    return resample_waveform(amplitudes)
