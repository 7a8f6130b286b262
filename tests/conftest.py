"""Shared test fixtures. Real parts (node, PostgreSQL, Synapse) fail loudly when missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "js"


@pytest.fixture(scope="session")
def node_harness_dir() -> Path:
    """The folder of the .mjs harnesses, with Baileys and libsignal-node installed."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the interop tests need it (see README)")
    if not (JS_DIR / "node_modules" / "@whiskeysockets" / "baileys").is_dir():
        pytest.fail("tests/js/node_modules is missing: run scripts/setup-dev.sh")
    return JS_DIR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault runs' message counts, whichever process (an xdist worker) ran them: a test's
    teardown report carries every line its setup, call and teardown added."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, value in getattr(report, "user_properties", [])
        if name == "faults"
    ]
    if lines:
        terminalreporter.section("fault runs")
        for line in lines:
            terminalreporter.write_line(line)
