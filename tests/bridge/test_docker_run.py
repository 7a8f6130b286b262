"""docker/run.sh without Docker: config, then registration, then the bridge, in a temp folder.

There is no Docker engine here, so the container's entry point runs directly with ``DATA_DIR``
and ``PYTHON`` pointing at a temp folder and this venv. Started as root (as in the container) it
chowns the folder to 1337 and drops to UID/GID 1337; started as another user it runs as that
user. The last step runs the real bridge against the session's Synapse, whose appservice
registration carries the tokens and port the test writes into the bridge's config.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.e2e.synapse import SynapseInfo, synapse
from tests.processes import log_tail, stop_process

__all__ = ["synapse"]

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SH = REPO_ROOT / "docker" / "run.sh"
STEP_TIMEOUT = 60.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LOG_TAIL = 6000
DEFAULT_UID = 1337
IS_ROOT = os.geteuid() == 0


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """An empty data folder that UID 1337 can reach (pytest's own tmp dirs are 0700 root)."""
    parent = Path(tempfile.mkdtemp(prefix="wa-docker-"))
    try:
        parent.chmod(0o755)
        data = parent / "data"
        data.mkdir()
        yield data
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"UID", "GID"}}
    env.update(DATA_DIR=str(data), PYTHON=sys.executable, PYTHONUNBUFFERED="1", **extra)
    return env


def _run_step(data: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RUN_SH)],
        env=_env(data, **extra),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )


def _yaml() -> YAML:
    yaml = YAML()
    yaml.indent(mapping=4, sequence=4, offset=2)
    return yaml


def _edit_config(path: Path, values: dict[str, Any]) -> None:
    """Set dotted keys in config.yaml, keeping its comments (as an admin's editor would)."""
    yaml = _yaml()
    config = yaml.load(path.read_text())
    for dotted, value in values.items():
        *parents, last = dotted.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
    with path.open("w") as file:
        yaml.dump(config, file)


def _load(path: Path) -> Any:
    return _yaml().load(path.read_text())


def _usable_config(synapse: SynapseInfo) -> dict[str, Any]:
    """What an admin edits before generating the registration (tokens come from ``-g``)."""
    values = {
        key: value
        for key, value in synapse.bridge_config_values().items()
        if not key.endswith("_token")
    }
    values["bridge.permissions"] = {"*": "relay", synapse.server_name: "user"}
    return values


def _owner(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_uid, stat.st_gid


def _proc_ids(pid: int) -> tuple[int, int]:
    """The real UID and GID of a running process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def _expected_ids() -> tuple[int, int]:
    return (DEFAULT_UID, DEFAULT_UID) if IS_ROOT else (os.getuid(), os.getgid())


@contextlib.contextmanager
def _running_bridge(data: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(RUN_SH)],
            env=_env(data),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield process
    finally:
        stop_process(process, STOP_TIMEOUT)


def _wait_listening(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the bridge exited with {process.returncode}:\n{log_tail(log_path, LOG_TAIL)}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    pytest.fail(f"the bridge never listened on {port}:\n{log_tail(log_path, LOG_TAIL)}")


async def _wait_log(
    process: subprocess.Popen[bytes], log_path: Path, pattern: str, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    pytest.fail(f"no {pattern!r} in the bridge log:\n{log_tail(log_path, LOG_TAIL)}")


@pytest.mark.synapse
async def test_config_then_registration_then_bridge(synapse: SynapseInfo, data_dir: Path) -> None:
    config = data_dir / "config.yaml"
    registration = data_dir / "registration.yaml"
    uid, gid = _expected_ids()

    # 1. An empty folder: the default config is written and the admin told what to do.
    first = _run_step(data_dir)
    assert first.returncode == 0, first.stderr
    assert "Didn't find a config file." in first.stdout
    assert f"Copied default config file to {config}" in first.stdout
    assert "Start the container again after that to generate the registration file." in (
        first.stdout
    )
    assert config.is_file() and not registration.exists()
    assert _load(config)["appservice"]["port"] == 29318
    assert _owner(config) == (uid, gid)

    # 2a. Placeholders left in: no registration, and the bridge names the key to edit.
    refused = _run_step(data_dir)
    assert refused.returncode != 0
    assert "homeserver.address" in refused.stdout + refused.stderr
    assert not registration.exists()

    # 2b. Edited: the registration is generated and the admin told to register it.
    _edit_config(config, _usable_config(synapse))
    second = _run_step(data_dir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Didn't find a registration file." in second.stdout
    assert "app_service_config_files" in second.stdout
    generated = _load(registration)
    assert generated["id"] == "whatsapp"
    user_regexes = [entry["regex"] for entry in generated["namespaces"]["users"]]
    assert any(re.fullmatch(regex, "@whatsappbot:localhost") for regex in user_regexes)
    assert any(re.fullmatch(regex, "@whatsapp_15551234567:localhost") for regex in user_regexes)
    assert generated["url"] == synapse.bridge_url
    saved = _load(config)["appservice"]
    assert saved["as_token"] == generated["as_token"]
    assert saved["hs_token"] == generated["hs_token"]
    assert _owner(registration) == (uid, gid)

    # The session Synapse loaded its own registration (fixed tokens); the bridge adopts them,
    # as an admin would install the generated file and restart the homeserver.
    _edit_config(config, synapse.bridge_config_values())
    if IS_ROOT:
        os.chown(config, 0, 0)  # root's editor; the next start hands the folder back

    # 3. Both files there: the bridge starts as UID:GID and the homeserver reaches it.
    log_path = data_dir.parent / "bridge.log"
    with _running_bridge(data_dir, log_path) as process:
        _wait_listening(process, synapse.bridge_port, log_path)
        assert _proc_ids(process.pid) == (uid, gid)
        await _wait_log(process, log_path, r"now running forever", START_TIMEOUT)
        status, body = await synapse.ping_appservice("docker-run-test")
        assert status == 200, body
        await _wait_log(process, log_path, r"docker-run-test", 5)
        for path in data_dir.rglob("*"):
            assert _owner(path) == (uid, gid), path
        # The default SQLite path is relative: run.sh runs the bridge inside the data folder.
        assert (data_dir / "mautrix-whatsapp.db").is_file()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(STOP_TIMEOUT)
    assert returncode == 0, log_tail(log_path, LOG_TAIL)


def test_bad_uid_is_refused(data_dir: Path) -> None:
    result = _run_step(data_dir, UID="nobody")
    assert result.returncode == 1
    assert "UID must be a number" in result.stderr
    assert not (data_dir / "config.yaml").exists()


def test_missing_data_dir_is_refused(data_dir: Path) -> None:
    result = _run_step(data_dir / "absent")
    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_dockerfile_copies_only_existing_paths() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    copies = re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.MULTILINE)
    assert copies, "the Dockerfile copies nothing"
    for line in copies:
        *sources, _dest = line.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    assert re.search(r"^VOLUME /data$", dockerfile, flags=re.MULTILINE)
    assert re.search(r"^EXPOSE 29318$", dockerfile, flags=re.MULTILINE)
    assert "UID=1337" in dockerfile and "GID=1337" in dockerfile
    assert os.access(RUN_SH, os.X_OK)


def test_compose_file_wires_bridge_synapse_and_postgres() -> None:
    compose = _load(REPO_ROOT / "docker" / "docker-compose.yml")
    services = compose["services"]
    assert set(services) >= {"whatsapp", "synapse", "postgres"}
    bridge = services["whatsapp"]
    context = (REPO_ROOT / "docker" / bridge["build"]["context"]).resolve()
    assert (context / bridge["build"].get("dockerfile", "Dockerfile")).is_file()
    assert any(str(v).endswith(":/data") for v in bridge["volumes"])
    assert services["synapse"]["image"].startswith("matrixdotorg/synapse")
    networks = set(compose["networks"])
    for name in ("whatsapp", "synapse", "postgres"):
        assert set(services[name]["networks"]) <= networks


def test_compose_and_image_check_health_with_the_probes() -> None:
    compose = _load(REPO_ROOT / "docker" / "docker-compose.yml")
    check = compose["services"]["whatsapp"]["healthcheck"]
    assert check["test"][:4] == ["CMD", "python3", "-m", "mautrix_whatsapp.healthcheck"]
    assert "/data/config.yaml" in check["test"]
    assert check["start_period"] and check["retries"] >= 1
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    healthcheck = r"^HEALTHCHECK .*\\\n\s+CMD .*mautrix_whatsapp\.healthcheck"
    assert re.search(healthcheck, dockerfile, re.MULTILINE)
