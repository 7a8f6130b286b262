"""The benchmarks still run: each with a tiny count, its table checked for shape, never timed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baileys_peer import require_node

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.node
@pytest.mark.timeout(240)
def test_messaging_bench_prints_every_case() -> None:
    require_node()
    result = subprocess.run(
        [sys.executable, "bench/messaging.py", "--count", "3", "--warmup", "2", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for case in ("1:1 send", "1:1 send, pipelined", "group send", "1:1 receive", "group receive"):
        row = re.search(
            rf"^{re.escape(case)}\s+([\d,]+)\s+([\d,]+)\s+[\d.]+x$", result.stdout, re.M
        )
        assert row is not None, f"no row for {case!r} in:\n{result.stdout}"


@pytest.mark.node
@pytest.mark.timeout(240)
def test_media_bench_prints_every_phase() -> None:
    require_node()
    result = subprocess.run(
        [sys.executable, "bench/media.py", "--size", "0.3", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for phase in ("upload", "download", "upload+download"):
        row = re.search(rf"^{re.escape(phase)}\s+[\d.]+\s+[\d.]+\s+[\d.]+x$", result.stdout, re.M)
        assert row is not None, f"no row for {phase!r} in:\n{result.stdout}"
    assert re.search(r"^our peak Python memory .*: [\d.]+ MB$", result.stdout, re.M)


@pytest.mark.node
@pytest.mark.timeout(240)
def test_bridge_throughput_bench_prints_both_directions() -> None:
    require_node()
    result = subprocess.run(
        [sys.executable, "bench/bridge_throughput.py", "--count", "5", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for direction in ("WhatsApp -> Matrix", "Matrix -> WhatsApp"):
        row = re.search(
            rf"^{re.escape(direction)}\s+[\d.]+\s+[\d.]+\s+[\d.]+$", result.stdout, re.M
        )
        assert row is not None, f"no row for {direction!r} in:\n{result.stdout}"


# ---- initial sync ----


@pytest.mark.timeout(300)
def test_initial_sync_bench_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "bench/initial_sync.py", "--chats", "2", "--messages", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for measure in ("seconds", "messages/second"):
        row = re.search(rf"^{re.escape(measure)}\s+[\d.]+\s+[\d.]+\s+[\d.]+$", result.stdout, re.M)
        assert row is not None, f"no row for {measure!r} in:\n{result.stdout}"
    assert re.search(r"^ratio \(bridge / peer time\): [\d.]+x", result.stdout, re.M)
    assert "less dispatch_wait 1 s" in result.stdout


# ---- scale ----


@pytest.mark.synapse
@pytest.mark.postgres
@pytest.mark.timeout(420)
def test_scale_bench_prints_a_row_per_database() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/scale.py",
            "--users",
            "2",
            "--db",
            "sqlite",
            "postgres",
            "--portals",
            "3",
            "--messages",
            "2",
            "--idle-seconds",
            "1",
            "--load-messages",
            "4",
            "--latency-users",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.search(r"^db\s+users\s+RSS MiB\s+KiB/user\s+idle CPU %", result.stdout, re.M)
    for database in ("sqlite", "postgres"):
        row = re.search(
            rf"^{database}\s+2\s+([\d.]+)\s+-\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+[\d.]+$",
            result.stdout,
            re.M,
        )
        assert row is not None, f"no row for {database} in:\n{result.stdout}"
        assert float(row.group(1)) > 10, "a bridge process takes more than 10 MiB"
