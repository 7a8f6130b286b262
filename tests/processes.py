"""Small helpers for tests that run real subprocesses (simulator, Synapse, the bridge, node).

One place for what such harnesses need: a free loopback port, a stop that cannot hang teardown,
the end of a log file for a failure message, and a one-shot JSON exchange with a node harness.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any


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


def run_node_json(harness_dir: Path, script: str, request: Any, timeout: float) -> Any:
    """Run a one-shot ``.mjs`` harness: ``request`` as JSON on stdin, its JSON reply from stdout.

    A non-zero exit fails the test with the harness's stderr."""
    result = subprocess.run(
        ["node", script],
        cwd=harness_dir,
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return json.loads(result.stdout)
