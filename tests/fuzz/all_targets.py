"""Every fuzz target, for the test suite and ``scripts/fuzz.py``."""

from __future__ import annotations

from . import matrix_targets, provisioning_target, wa_targets

TARGETS = [*matrix_targets.TARGETS, *provisioning_target.TARGETS, *wa_targets.TARGETS]
