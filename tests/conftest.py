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
