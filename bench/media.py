"""Media throughput through the TLS simulator: our client against Baileys, in the same run.

    .venv/bin/python bench/media.py [--size MB] [--rounds R]

One simulator subprocess with TLS (both clients only speak https to media hosts); our client and
a Baileys 7 peer (tests/js/peer_media.mjs) are each linked as their own account. Each side
uploads a random file of ``--size`` MB as a document (encrypt + POST) and downloads it back
(GET + MAC check + decrypt), file to file:

- ours: ``client.media.upload(path)`` (encrypts into a temporary file, streams it up), then
  ``client.media.download_to_file`` (decrypts as it arrives, all four checks);
- Baileys: ``prepareWAMessageMedia`` (its ``encryptedStream`` to a temporary file, then
  ``fetch``), then ``downloadContentFromMessage`` drained (it checks no hash), timed inside node.

MB/s (10^6 bytes) of upload, download, and the two together, median of R rounds; ratio ours /
Baileys (above 1: we are faster). Our peak Python memory (``tracemalloc``) over one extra upload
+ download shows that the file is never held in memory. The simulator (Python, one process)
receives and serves every byte over TLS, so it bounds both sides' figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mautrix_whatsapp.whatsapp.client import Client  # noqa: E402
from mautrix_whatsapp.whatsapp.media import MediaRef, MediaType  # noqa: E402
from tests.baileys_peer import BaileysPeer  # noqa: E402
from tests.simulator_fixture import run_simulator  # noqa: E402
from tests.whatsapp.test_client_helpers import admin, link_by_qr, make_client  # noqa: E402

OURS, BAILEYS = "15550301001", "15550301002"
PHASES = ("upload", "download", "upload+download")


async def ours_round(client: Client, path: Path, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    up = await client.media.upload(path, MediaType.DOCUMENT)
    uploaded = time.perf_counter()
    ref = MediaRef(up.media_type, up.media_key, up.file_enc_sha256, up.file_sha256, up.direct_path)
    size = await client.media.download_to_file(ref, out)
    done = time.perf_counter()
    if size != path.stat().st_size:
        raise AssertionError(f"downloaded {size} bytes of {path.stat().st_size}")
    return uploaded - start, done - uploaded


async def run(
    args: argparse.Namespace, directory: Path
) -> tuple[dict[str, dict[str, list[float]]], int]:
    size = int(args.size * 1_000_000)
    path = directory / "file.bin"
    with path.open("wb") as file:
        for _ in range(0, size, 1 << 20):
            file.write(os.urandom(min(1 << 20, size - file.tell())))
    out = directory / "out.bin"
    seconds: dict[str, dict[str, list[float]]] = {
        side: {phase: [] for phase in PHASES} for side in ("ours", "Baileys")
    }
    with run_simulator(directory / "simulator", tls=True, log_level="WARNING") as info:
        await admin(info, "POST", "/accounts", {"phone": OURS, "push_name": "Us", "default": True})
        client, _, log = make_client(info, ca_file=info.ca_file)
        await link_by_qr(info, client, log)
        try:
            async with BaileysPeer.start(
                info, push_name="Baileys", auth_dir=directory / "baileys", phone=BAILEYS
            ) as peer:
                await ours_round(client, path, out)  # warm-up: media_conn, TLS, JIT
                await peer.request("bench_media", path=str(path), timeout=300)
                for _ in range(args.rounds):
                    up, down = await ours_round(client, path, out)
                    theirs = await peer.request("bench_media", path=str(path), timeout=300)
                    for side, (u, d) in (
                        ("ours", (up, down)),
                        ("Baileys", (theirs["upload_seconds"], theirs["download_seconds"])),
                    ):
                        seconds[side]["upload"].append(u)
                        seconds[side]["download"].append(d)
                        seconds[side]["upload+download"].append(u + d)
                tracemalloc.start()
                await ours_round(client, path, out)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
        finally:
            await client.disconnect()
    return seconds, peak


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=float, default=20, help="file size in MB (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=3, help="the median round counts")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        seconds, peak = asyncio.run(run(args, Path(tmp)))
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"a {args.size:g} MB document, file to file, median of {args.rounds} rounds; MB/s")
    print(f"python {platform.python_version()}, node {node}; load average before: {load[0]:.2f}")
    print("through the TLS simulator (Python, shared), which bounds both sides")
    print(f"{'phase':<16} {'ours':>8} {'Baileys':>8} {'ratio':>7}")
    for phase in PHASES:
        mine = args.size / statistics.median(seconds["ours"][phase])
        theirs = args.size / statistics.median(seconds["Baileys"][phase])
        print(f"{phase:<16} {mine:>8.1f} {theirs:>8.1f} {mine / theirs:>6.2f}x")
    print(f"our peak Python memory over one upload + download: {peak / 1e6:.2f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
