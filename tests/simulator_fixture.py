"""Run the WhatsApp simulator as a real subprocess for a test.

Import the fixtures into a test module (``from tests.simulator_fixture import simulator``), or use
:func:`run_simulator` directly for other scopes or options. Readiness is the info file appearing;
teardown stops the process and fails the test if the simulator had died on its own or had
recorded internal errors (its own bugs, which a client sees only as a 500 reply) or protocol
errors (a client's faults; tests that send garbage on purpose carry
``@pytest.mark.simulator_protocol_errors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mautrix_whatsapp.whatsapp.binary import Node, marshal, unmarshal
from mautrix_whatsapp.whatsapp.crypto import KeyPair, xeddsa
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload
from mautrix_whatsapp.whatsapp.socket.framesocket import FrameSocket, connection_header
from mautrix_whatsapp.whatsapp.socket.handshake import do_handshake
from mautrix_whatsapp.whatsapp.socket.noise_socket import NoiseSocket
from tests.processes import log_tail, stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
LOG_TAIL = 8000
RECEIVE_TIMEOUT = 10.0


class SimulatorStartError(RuntimeError):
    """The simulator exited or stayed silent instead of writing its info file."""


@dataclass(frozen=True)
class SimulatorInfo:
    """Where a running simulator listens and what a client must trust."""

    websocket_url: str
    admin_url: str
    media_url: str
    root_public_key: bytes
    ca_file: Path | None
    port: int
    pid: int
    log_file: Path
    raw: dict[str, Any]

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting only the simulator's CA (``None`` without TLS)."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def log_tail(self, size: int = LOG_TAIL) -> str:
        return log_tail(self.log_file, size)


PROTOCOL_ERRORS_MARK = "simulator_protocol_errors"
"""``@pytest.mark.simulator_protocol_errors(*substrings)``: the test makes a client misbehave on
purpose, so the simulator's teardown accepts ``protocol_errors`` containing one of the substrings
(any, without arguments)."""
ANY_PROTOCOL_ERROR: tuple[str, ...] = ("",)
"""``expected_protocol_errors`` that accepts every entry (each contains the empty string)."""


def _recorded_errors(info: SimulatorInfo) -> dict[str, list[str]]:
    """``internal_errors`` (the simulator's bugs, hidden behind a 500) and ``protocol_errors``
    (a client's faults) from ``/admin/status``.

    Synchronous on purpose: teardown may run with no event loop, or inside a running one."""
    url = info.admin_url + "/status"
    with urllib.request.urlopen(url, timeout=STOP_TIMEOUT, context=info.ssl_context()) as reply:
        status = json.load(reply)
    return {key: list(status[key]) for key in ("internal_errors", "protocol_errors")}


def _unexpected(errors: list[str], expected: Sequence[str]) -> list[str]:
    return [error for error in errors if not any(part in error for part in expected)]


@contextlib.contextmanager
def run_simulator(
    directory: Path,
    *,
    tls: bool = False,
    extra_args: Sequence[str] = (),
    log_level: str = "DEBUG",
    expected_internal_errors: Sequence[str] = (),
    expected_protocol_errors: Sequence[str] = (),
) -> Iterator[SimulatorInfo]:
    """Start ``python -m tests.simulator`` on a free loopback port; stop it on exit.

    On exit, any internal or protocol error the simulator recorded fails the test, except those
    containing one of ``expected_internal_errors`` (for tests that provoke a simulator bug on
    purpose) or ``expected_protocol_errors`` (for tests that send it garbage on purpose;
    :data:`ANY_PROTOCOL_ERROR` accepts all)."""
    directory.mkdir(parents=True, exist_ok=True)
    info_file = directory / "simulator-info.json"
    log_file = directory / "simulator.log"
    args = [
        sys.executable,
        "-m",
        "tests.simulator",
        "--listen",
        "127.0.0.1:0",
        "--info-file",
        str(info_file),
        "--log-level",
        log_level,
        *extra_args,
    ]
    if tls:
        args += ["--tls", "--tls-dir", str(directory / "tls")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not info_file.exists():
            if process.poll() is not None:
                raise SimulatorStartError(
                    f"simulator exited with {process.returncode}:\n{log_tail(log_file, LOG_TAIL)}"
                )
            if time.monotonic() > deadline:
                raise SimulatorStartError(
                    f"no info file after {START_TIMEOUT}s:\n{log_tail(log_file, LOG_TAIL)}"
                )
            time.sleep(0.02)
        raw = json.loads(info_file.read_text())
        info = SimulatorInfo(
            websocket_url=raw["websocket_url"],
            admin_url=raw["admin_url"],
            media_url=raw["media_url"],
            root_public_key=bytes.fromhex(raw["root_public_key"]),
            ca_file=Path(raw["ca_file"]) if "ca_file" in raw else None,
            port=raw["port"],
            pid=raw["pid"],
            log_file=log_file,
            raw=raw,
        )
        yield info
        if process.poll() is not None:
            raise AssertionError(
                f"the simulator died during the test (exit {process.returncode}):\n"
                + log_tail(log_file, LOG_TAIL)
            )
        recorded = _recorded_errors(info)
        internal = _unexpected(recorded["internal_errors"], expected_internal_errors)
        protocol = _unexpected(recorded["protocol_errors"], expected_protocol_errors)
        problems = []
        if internal:
            problems.append(
                f"{len(internal)} internal error(s) (simulator bugs a client saw as error 500;"
                " tracebacks in its log):\n" + "\n".join(f"- {error}" for error in internal)
            )
        if protocol:
            problems.append(
                f"{len(protocol)} protocol error(s) (a client broke the protocol; a test that"
                f" does so on purpose says so with @pytest.mark.{PROTOCOL_ERRORS_MARK}):\n"
                + "\n".join(f"- {error}" for error in protocol)
            )
        if problems:
            raise AssertionError("the simulator recorded " + "\nand ".join(problems))
    finally:
        stop_process(process, STOP_TIMEOUT)
        # Shown by pytest only when the test fails.
        print(f"--- simulator log ({log_file}) ---\n{log_tail(log_file, LOG_TAIL)}")


def expected_protocol_errors(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """What the test's ``@pytest.mark.simulator_protocol_errors(*substrings)`` allows."""
    marker = request.node.get_closest_marker(PROTOCOL_ERRORS_MARK)
    if marker is None:
        return ()
    return tuple(str(arg) for arg in marker.args) or ANY_PROTOCOL_ERROR


@pytest.fixture
def simulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimulatorInfo]:
    """A fresh simulator speaking plain ``ws``/``http`` on a free loopback port."""
    expected = expected_protocol_errors(request)
    with run_simulator(tmp_path / "simulator", expected_protocol_errors=expected) as info:
        yield info


@pytest.fixture
def simulator_tls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimulatorInfo]:
    """A fresh simulator speaking ``wss``/``https``; trust ``info.ca_file`` to connect."""
    expected = expected_protocol_errors(request)
    with run_simulator(
        tmp_path / "simulator-tls", tls=True, expected_protocol_errors=expected
    ) as info:
        yield info


@dataclass(frozen=True, repr=False)
class RegistrationKeys:
    """The keys a new companion registers with; enough for a registration payload and a QR."""

    noise: KeyPair
    identity: KeyPair
    signed_prekey: KeyPair
    signed_prekey_id: int
    registration_id: int

    @classmethod
    def generate(cls) -> RegistrationKeys:
        return cls(
            noise=KeyPair.generate(),
            identity=KeyPair.generate(),
            signed_prekey=KeyPair.generate(),
            signed_prekey_id=1,
            registration_id=int.from_bytes(os.urandom(2), "big") % 16380 + 1,
        )

    def registration_payload(self) -> bytes:
        """A minimal registration ``ClientPayload``: no username, DevicePairingRegistrationData."""
        spk_signature = xeddsa.sign(self.identity.private, b"\x05" + self.signed_prekey.public)
        payload = ClientPayload(passive=False, pull=False)
        payload.devicePairingData.CopyFrom(
            ClientPayload.DevicePairingRegistrationData(
                eRegid=self.registration_id.to_bytes(4, "big"),
                eKeytype=b"\x05",
                eIdent=self.identity.public,
                eSkeyID=self.signed_prekey_id.to_bytes(3, "big"),
                eSkeyVal=self.signed_prekey.public,
                eSkeySig=spk_signature,
                buildHash=os.urandom(16),
                deviceProps=b"",
            )
        )
        return payload.SerializeToString()


class AdminStatusError(AssertionError):
    """The admin API answered with a status the caller did not expect."""


async def admin(
    info: SimulatorInfo,
    method: str,
    path: str,
    body: str | bytes | None = None,
    *,
    expect: Collection[int] | None = None,
) -> tuple[int, Any]:
    """Call the admin API (``path`` below ``/admin``); return the status and the JSON body.

    Any status but a 2xx raises :class:`AdminStatusError`, so a failed admin call never passes
    for a done one; a test of error answers lists the statuses it expects in ``expect``.
    """
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, info.admin_url + path, data=body, ssl=info.ssl_context() or False
        ) as response,
    ):
        status = response.status
        text = await response.text()
    ok = status in expect if expect is not None else 200 <= status < 300
    if not ok:
        wanted = sorted(expect) if expect is not None else "2xx"
        raise AdminStatusError(f"{method} {path}: status {status} (expected {wanted}): {text}")
    return status, json.loads(text) if text else None


class SimulatorClient:
    """A bare protocol client for simulator tests: our socket layer and codec, no Client logic."""

    def __init__(self, noise: NoiseSocket) -> None:
        self.noise = noise

    @classmethod
    async def connect(
        cls,
        info: SimulatorInfo,
        noise_key: KeyPair,
        payload: bytes,
        *,
        routing_info: bytes | None = None,
    ) -> SimulatorClient:
        frame_socket = FrameSocket(
            info.websocket_url, header=connection_header(routing_info), ca_file=info.ca_file
        )
        await frame_socket.connect()
        noise = await do_handshake(frame_socket, noise_key, payload, info.root_public_key)
        return cls(noise)

    async def send(self, node: Node) -> None:
        await self.noise.send_frame(marshal(node))

    async def receive(self, timeout: float = RECEIVE_TIMEOUT) -> Node:
        return unmarshal(await self.noise.receive_frame(timeout))

    async def request(self, node: Node, timeout: float = RECEIVE_TIMEOUT) -> Node:
        """Send an IQ and return the server's response with the same id, skipping other nodes."""
        await self.send(node)
        async with asyncio.timeout(timeout):
            while True:
                response = await self.receive()
                if response.tag == "iq" and response.attrs.get("id") == node.attrs["id"]:
                    return response

    async def close(self) -> None:
        await self.noise.close()
