#!/usr/bin/env python3
"""The fuzz job: ≥ 100,000 hostile inputs through the Matrix handlers, the provisioning API and
the WhatsApp decoders (tests/fuzz/), on two worker processes; prints inputs tried and failures
per target and exits non-zero on any failure. ``--seed`` replays a run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.all_targets import TARGETS
from tests.fuzz.runner import Result, run_seeds

# Inputs per unit of a target's share: the shares sum to 14, so 9,500 gives 133,000.
PER_SHARE = 9_500


def _run(name: str, first_seed: int, count: int) -> Result:
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger().setLevel(logging.WARNING)
    target = next(t for t in TARGETS if t.name == name)
    return asyncio.run(run_seeds(target, range(first_seed, first_seed + count)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=int(time.time()) * 1_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the input counts")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    print(f"fuzz: seed {args.seed}", flush=True)
    jobs = [(t.name, args.seed, max(1, int(t.share * PER_SHARE * args.scale))) for t in TARGETS]
    jobs.sort(key=lambda job: -job[2])  # the longest first, so the workers end together
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_run, *zip(*jobs, strict=True)))
    tried = failed = 0
    for result in results:
        tried += result.tried
        failed += len(result.failures)
        print(f"  {result.target:<24} {result.tried:>7} inputs  {len(result.failures)} failures")
        for failure in result.failures:
            print(f"    seed {failure.seed}: {failure.input[:800]}\n{failure.error[-2000:]}")
    elapsed = time.monotonic() - started
    print(
        f"fuzz: {tried} inputs in {elapsed:.0f} s ({tried / elapsed:.0f}/s), "
        f"{failed} failures (0 unhandled required)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
