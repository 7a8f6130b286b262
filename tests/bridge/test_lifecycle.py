"""The bridge process's life: a stop during startup is clean.

A SIGTERM while the bridge still waits for its homeserver must end it without leftovers (once,
a startup coroutine made up front was never awaited and Python warned about it at exit).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from tests.processes import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "mautrix_whatsapp" / "example-config.yaml"


def _write_config(directory: Path) -> Path:
    yaml = YAML()
    yaml.indent(4)
    data = yaml.load(EXAMPLE.read_text())
    # Nothing listens on this port: the bridge keeps retrying to reach its homeserver.
    data["homeserver"]["address"] = f"http://127.0.0.1:{free_port()}"
    data["homeserver"]["domain"] = "example.net"
    data["appservice"]["port"] = free_port()
    data["appservice"]["database"] = f"sqlite:{directory / 'bridge.db'}"
    data["appservice"]["as_token"] = "as-token-lifecycle-test"
    data["appservice"]["hs_token"] = "hs-token-lifecycle-test"
    path = directory / "config.yaml"
    with path.open("w") as f:
        yaml.dump(data, f)
    return path


def test_stop_while_waiting_for_the_homeserver_is_clean(tmp_path: Path) -> None:
    config = _write_config(tmp_path)
    log_path = tmp_path / "bridge.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mautrix_whatsapp", "-c", str(config), "-n"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while "Connection to homeserver failed" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, log_path.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    output = log_path.read_text(errors="replace")
    assert returncode == 0, output[-4000:]
    assert "never awaited" not in output, output[-4000:]
    assert "Everything stopped" in output
