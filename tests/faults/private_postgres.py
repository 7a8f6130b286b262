"""A private PostgreSQL server for one test: its own data directory and port, trust auth.

The machine's shared server (127.0.0.1:5432) is never touched: this one can be restarted
under load. Built from the installed binaries (``/usr/lib/postgresql/<version>/bin``); their
absence fails the test. As root, the server runs as the ``postgres`` user (``initdb`` refuses
root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port, log_tail

START_TIMEOUT = 60.0
LOG_TAIL = 4000


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql", pytrace=False)
    return Path(found[-1]).parent


def _run_as() -> str | None:
    """The user to run the server as: ``postgres`` when we are root, else ourselves."""
    return "postgres" if os.geteuid() == 0 else None


@dataclass
class PrivatePostgres:
    bin_dir: Path
    data_dir: Path
    port: int
    log_path: Path
    user: str | None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
            user=self.user,
            capture_output=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"pg_ctl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}\n"
                f"{log_tail(self.log_path, LOG_TAIL)}"
            )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("start", "-w", "-l", str(self.log_path), "-o", options)

    def stop(self) -> None:
        """A fast shutdown: sessions are cut, as in a real restart under load."""
        self._pg_ctl("stop", "-w", "-m", "fast")

    def restart(self) -> float:
        """Stop and start again; returns how long the server was down."""
        start = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - start


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb in a fresh directory of its own under the system's temp dir (the server user
    must reach it: pytest's are private to us), start on a free port, yield, stop, remove."""
    bin_dir = _bin_dir()
    user = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="faults-postgres-"))
    try:
        if user is not None:
            shutil.chown(directory, user)
        data_dir = directory / "data"
        result = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust"],
            user=user,
            capture_output=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"initdb failed: {result.stderr.decode(errors='replace')}", pytrace=False)
        server = PrivatePostgres(
            bin_dir=bin_dir,
            data_dir=data_dir,
            port=free_port(),
            log_path=directory / "postgres.log",
            user=user,
        )
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(AssertionError):
                server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
