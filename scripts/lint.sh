#!/usr/bin/env bash
# Lint, format and type checks, the hooks of .pre-commit-config.yaml: ruff, black --check, and
# mypy --strict over generator/ and generated/. scripts/test.sh runs it beside pytest.
# Usage: scripts/lint.sh [BIN]   (BIN: the folder holding the tools; default .venv/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.venv/bin}"
status=0
"$bin/ruff" check . || status=1
"$bin/black" --check . || status=1
"$bin/mypy" || status=1
exit "$status"
