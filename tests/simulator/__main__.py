"""``python -m tests.simulator --listen 127.0.0.1:PORT [--tls] [--info-file PATH]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from .server import PLUGINS, Simulator


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def write_info_file(path: Path, info: dict[str, Any]) -> None:
    """Write atomically, so a reader polling for the file never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


async def run(args: argparse.Namespace) -> None:
    host, port = args.listen
    simulator = Simulator(plugins=[*PLUGINS, *args.plugin])
    own_tls_dir = args.tls and args.tls_dir is None
    tls_dir: Path | None = None
    if args.tls:
        tls_dir = args.tls_dir or Path(tempfile.mkdtemp(prefix="wa-simulator-tls-"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        info = await simulator.start(host, port, tls_dir)
        info["pid"] = os.getpid()
        if args.info_file:
            write_info_file(args.info_file, info)
        await stop.wait()
    finally:
        await simulator.stop()
        if args.info_file:
            with contextlib.suppress(FileNotFoundError):
                args.info_file.unlink()
        if own_tls_dir and tls_dir is not None:
            shutil.rmtree(tls_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__)
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", 0),
        help="HOST:PORT to listen on; port 0 picks a free one (default)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve wss/https with a generated certificate (CA in the info file)",
    )
    parser.add_argument("--tls-dir", type=Path, help="where to write the certificates")
    parser.add_argument(
        "--info-file", type=Path, help="write the URLs and root key here as JSON once listening"
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="extra feature module with install(state) (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
