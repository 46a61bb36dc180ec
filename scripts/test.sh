#!/usr/bin/env bash
# Set up .venv (only when it is missing or pyproject.toml/constraints.txt changed), run the lint,
# format and type checks (scripts/lint.sh), then the default test suite (the project's tests and
# generated/'s); fails if either failed. Extra arguments go to pytest, e.g. scripts/test.sh -m
# slow; SKIP_LINT=1 skips the checks (a tier alone: .venv/bin/pytest -m unit, see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
lint=0
if [ "${SKIP_LINT:-0}" != 1 ]; then
  bash scripts/lint.sh || lint=$?
fi
tests=0
.venv/bin/python -m pytest -n 2 "$@" || tests=$?
if [ "$lint" != 0 ]; then
  echo "test: scripts/lint.sh failed (ruff, black or mypy: see above)" >&2
fi
exit $((tests != 0 ? tests : lint))
