#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine: a virtualenv with the project and its
# test and e2be extras (Synapse; mautrix's crypto), and the npm packages of the interop peers.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test,e2be]'
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
