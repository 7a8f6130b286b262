"""Fault tests: two-way traffic through the bridge while something breaks (issue 13)."""
