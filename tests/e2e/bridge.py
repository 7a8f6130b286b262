"""The bridge as a real process (``python -m mautrix_whatsapp -c …``) against the test Synapse.

:func:`run_bridge` writes a config from the packaged example (pointed at the session's Synapse,
with its appservice tokens and port, and optionally at a simulator), starts the process, waits
for ``/_matrix/mau/ready`` and stops it on exit. The process can be restarted in place
(same database), which is how tests check that a login survives a restart.

Only one bridge can run at a time per Synapse (one appservice registration, one port).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from ruamel.yaml import YAML

from tests.e2e.secrets_scan import SECRETS
from tests.e2e.synapse import SynapseInfo
from tests.processes import log_tail, stop_process
from tests.simulator_fixture import SimulatorInfo

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO_ROOT / "mautrix_whatsapp" / "example-config.yaml"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LOG_TAIL = 12000


class BridgeStartError(RuntimeError):
    """The bridge exited or never became ready."""


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value


def write_bridge_config(
    path: Path,
    synapse: SynapseInfo,
    *,
    database: str,
    permissions: dict[str, str],
    simulator: SimulatorInfo | None = None,
    overrides: dict[str, Any] | None = None,
) -> None:
    """A config.yaml for the test world, edited from the example like an admin would."""
    yaml = YAML()
    yaml.indent(4)
    data = yaml.load(EXAMPLE_CONFIG.read_text())
    settings: dict[str, Any] = {
        "homeserver.address": synapse.base_url,
        "homeserver.domain": synapse.server_name,
        "appservice.address": synapse.bridge_url,
        "appservice.hostname": "127.0.0.1",
        "appservice.port": synapse.bridge_port,
        "appservice.as_token": synapse.as_token,
        "appservice.hs_token": synapse.hs_token,
        "appservice.database": database,
        "bridge.permissions": permissions,
        # DEBUG (off by default): tests read debug records, and check no secret is logged above.
        "logging.root.level": "DEBUG",
        "logging.loggers.mau.level": "DEBUG",
    }
    if simulator is not None:
        settings["whatsapp.websocket_url"] = simulator.websocket_url
        settings["whatsapp.root_public_key"] = simulator.root_public_key.hex()
        settings["whatsapp.tls_ca_file"] = str(simulator.ca_file) if simulator.ca_file else None
    settings.update(overrides or {})
    for key, value in settings.items():
        _set(data, key, value)
    with path.open("w") as f:
        yaml.dump(data, f)


@dataclass
class BridgeProcess:
    """A running bridge; ``restart()`` keeps its directory, config and database."""

    directory: Path
    config_path: Path
    synapse: SynapseInfo
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    starts: int = 0

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the bridge is already running")
        self.starts += 1
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT)}
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mautrix_whatsapp", "-c", str(self.config_path)],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        url = f"{self.synapse.bridge_url}/_matrix/mau/ready"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BridgeStartError(
                    f"the bridge exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.1)
        raise BridgeStartError(
            f"the bridge was not ready within {START_TIMEOUT}s:\n{self.log_tail()}"
        )

    def stop(self) -> int | None:
        """SIGTERM and wait (the bridge closes its connections); returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        return stop_process(process, STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, size: int = LOG_TAIL) -> str:
        return log_tail(self.log_path, size)

    # ---- crash safety ----

    def kill(self) -> int | None:
        """SIGKILL, no chance to clean up (a crash); returns the exit code. ``start()``
        brings it back on the same database."""
        process, self.process = self.process, None
        if process is None:
            return None
        process.kill()
        code = process.wait(STOP_TIMEOUT)
        with self.log_path.open("ab") as log:
            log.write(b"\n===== killed (SIGKILL) =====\n")
        return code

    async def bridge_states(self, user_id: str) -> dict[str, Any]:
        """The bridge's own state report for a user (``com.beeper.bridge_state``).

        Fails unless the bridge answered 200: an error body has no ``remoteState`` either, and
        must not pass for "no remote state"."""
        url = f"{self.synapse.bridge_url}/_matrix/app/com.beeper.bridge_state"
        headers = {"Authorization": f"Bearer {self.synapse.hs_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, params={"user_id": user_id}, headers=headers) as resp,
        ):
            text = await resp.text()
            if resp.status != 200:
                raise AssertionError(f"bridge_state for {user_id}: status {resp.status}: {text}")
            data: dict[str, Any] = json.loads(text)
            return data


@contextlib.contextmanager
def run_bridge(
    directory: Path,
    synapse: SynapseInfo,
    *,
    permissions: dict[str, str] | None = None,
    simulator: SimulatorInfo | None = None,
    database: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Iterator[BridgeProcess]:
    """Write the config, start the bridge, yield it; stop it (and show its log) at the end."""
    directory.mkdir(parents=True, exist_ok=True)
    SECRETS.add_bridge(directory)  # ---- secrets scanner ----: its log is scanned at the end
    config_path = directory / "config.yaml"
    write_bridge_config(
        config_path,
        synapse,
        database=database or f"sqlite:{directory / 'bridge.db'}",
        permissions=permissions or {"*": "relay", synapse.server_name: "user"},
        simulator=simulator,
        overrides=overrides,
    )
    bridge = BridgeProcess(
        directory=directory,
        config_path=config_path,
        synapse=synapse,
        log_path=directory / "bridge.log",
    )
    try:
        bridge.start()
        yield bridge
        if not bridge.is_running():
            raise AssertionError(f"the bridge died during the test:\n{bridge.log_tail()}")
    finally:
        code = bridge.stop()
        print(f"--- bridge log ({bridge.log_path}), exit {code} ---\n{bridge.log_tail()}")
