"""Tests of the bridge daemon and its deployment files."""
