"""Each fuzz target under hypothesis for a small, fixed number of inputs (derandomized); the
fuzz job (``scripts/fuzz.py``) runs the same targets at volume."""

from __future__ import annotations

import pytest

from .all_targets import TARGETS
from .runner import Target, hypothesis_run

EXAMPLES = 60


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_target_handles_hostile_input(target: Target) -> None:
    hypothesis_run(target, EXAMPLES)
