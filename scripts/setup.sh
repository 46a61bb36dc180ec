#!/usr/bin/env bash
# Create (or reuse) .venv and install diffgen with the given extras, pinned by constraints.txt.
# Usage: scripts/setup.sh [EXTRAS]   (default: test)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${extras}]"
