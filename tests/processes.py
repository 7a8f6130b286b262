"""Small helpers for tests that run real subprocesses (simulator, Synapse, the bridge).

One place for the three things every such harness needs: a free loopback port, a stop that
cannot hang teardown, and the end of a log file for a failure message.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """A loopback port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM and wait up to ``timeout``; SIGKILL if it is still there. Returns the exit code.

    A process that already exited is left alone (its code is returned)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode


def log_tail(path: Path, size: int) -> str:
    """The last ``size`` bytes of a log file as text (empty if the file is not there yet)."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()[-size:].decode("utf-8", "replace")
    return ""
