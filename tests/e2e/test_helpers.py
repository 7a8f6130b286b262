"""The e2e helpers themselves, where they can be wrong without any bridge running."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from mautrix_whatsapp.qr import qr_png
from tests.e2e.helpers import read_qr_png

# A random login QR (seeded) whose image zxing also reads as a Codabar when asked for all formats.
CODABAR_TOO = (
    "https://wa.me/settings/linked_devices#2@33uXqAWX1H3psKIeFrAnQg2Rkv9Gw2AuB9rt+ShIyQcE1oZCL69KQs"
    "/6CytW9/ZJMV73MYC9UlI4mFzO,vKDp/d34Ng6ftBumUzenQnK+6siYq4wWpMzx7PmPcBs=,"
    "oyWjqxoVBnb0xlnxvGWtxDkMbfZlvo0V4GXHxuEokgw=,OM3/n5sijgHPohmI/qDNLa4zXcJcDcNf41XJxIfUBzY=,9"
)


def test_a_qr_that_also_looks_like_a_codabar_reads_as_its_text() -> None:
    png = qr_png(CODABAR_TOO)
    every_format = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert sorted(r.format.name for r in every_format) == ["Codabar", "QRCode"]  # the trap
    assert read_qr_png(png) == CODABAR_TOO
