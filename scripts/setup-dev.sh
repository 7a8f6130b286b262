#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine: a virtualenv with the project and its
# test extra (Synapse included), and the npm packages of the third-party interop peers.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
