"""A Synapse of the test module's own, which a test may stop and start again.

Built with :func:`tests.e2e.synapse.run_synapse` (same config, registration and tokens); the
session's shared Synapse is never stopped. Started again, it runs the same command on the same
data directory and port, so the bridge and the users find it where it was.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.synapse import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    SynapseInfo,
    SynapseStartError,
    _wait_ready,
    run_synapse,
)
from tests.processes import stop_process


@dataclass
class RestartableSynapse:
    info: SynapseInfo
    process: subprocess.Popen[bytes] | None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, STOP_TIMEOUT)

    def start(self) -> None:
        """Start again on the same data directory; returns once it answers."""
        data_dir = self.info.data_dir
        with (data_dir / "stdout.log").open("ab") as stdout:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "synapse.app.homeserver",
                    "--config-path",
                    str(data_dir / "homeserver.yaml"),
                ],
                cwd=data_dir,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_ready(self.process, self.info.base_url, START_TIMEOUT)
        except SynapseStartError as e:
            raise AssertionError(f"Synapse did not come back: {e}\n{self.info.log_tail()}") from e


@contextlib.contextmanager
def restartable_synapse(data_dir: Path) -> Iterator[RestartableSynapse]:
    with run_synapse(data_dir) as info:
        synapse = RestartableSynapse(info=info, process=info.process)
        try:
            yield synapse
        finally:
            if synapse.process is not info.process:  # run_synapse stops the first one
                synapse.stop()
