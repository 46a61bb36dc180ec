#!/usr/bin/env bash
# Create (or reuse) .venv and install diffgen with the given extras, pinned by constraints.txt.
# Usage: scripts/setup.sh [EXTRAS]   (default: test)
# Skips the install when .venv already has these extras (or a larger set: dev > test >
# examples) from the same pyproject.toml and constraints.txt (recorded in .venv/diffgen-setup).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
record=.venv/diffgen-setup
inputs="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"

covers() {  # does the installed extra $1 include the requested extra $2?
  case "$1:$2" in
    "$2:$2" | dev:test | dev:examples | dev:jax | dev:torch | test:examples | test:jax | \
      test:torch | examples:jax | examples:torch) return 0 ;;
    *) return 1 ;;
  esac
}

if [ -x .venv/bin/python ] && [ -f "$record" ]; then
  read -r recorded_inputs recorded_extras < "$record" || true
  if [ "${recorded_inputs:-}" = "$inputs" ] && covers "${recorded_extras:-}" "$extras"; then
    echo "setup: .venv is up to date (extras ${recorded_extras}); nothing to install"
    exit 0
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
rm -f "$record"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${extras}]"
echo "$inputs $extras" > "$record"
