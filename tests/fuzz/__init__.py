"""Hostile-input fuzzing: generators, in-process worlds around the real handlers, targets.

The generators take a ``random.Random`` so the same target runs under hypothesis in the test
suite (which draws the seed, and minimizes it) and at volume in ``scripts/fuzz.py``.
"""
