#!/usr/bin/env bash
# Set up .venv and run the whole default test suite (the project's tests and generated/'s).
# Extra arguments go to pytest, e.g. scripts/test.sh -m slow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/python -m pytest -n 2 "$@"
