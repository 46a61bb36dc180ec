#!/usr/bin/env bash
# Set up .venv (only when it is missing or pyproject.toml/constraints.txt changed), then run the
# lint, format and type checks (scripts/lint.sh, beside pytest: its report follows pytest's) and
# the default test suite (the project's tests and generated/'s); fails if either fails.
# Extra arguments go to pytest, e.g. scripts/test.sh -m slow; SKIP_LINT=1 leaves out the checks.
# One tier alone, in seconds: .venv/bin/pytest -m unit (README, Contributing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
lint=0
if [ "${SKIP_LINT:-0}" != 1 ]; then
  report="$(mktemp)"
  trap 'rm -f "$report"' EXIT
  bash scripts/lint.sh > "$report" 2>&1 &
  checks=$!
fi
tests=0
.venv/bin/python -m pytest -n 2 "$@" || tests=$?
if [ "${SKIP_LINT:-0}" != 1 ]; then
  wait "$checks" || lint=$?
  echo "---- scripts/lint.sh (ruff, black --check, mypy)"
  cat "$report"
  [ "$lint" = 0 ] || echo "test: scripts/lint.sh failed (see above)" >&2
fi
exit $((tests != 0 ? tests : lint))
