"""QR images for login: a 512 px PNG of the code text."""

from __future__ import annotations

import io

import qrcode
from PIL import Image

QR_SIZE = 512


def qr_png(data: str, size: int = QR_SIZE) -> bytes:
    """Encode ``data`` as a square PNG of ``size`` pixels (nearest-neighbour scaled)."""
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image().get_image().convert("L")
    image = image.resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
