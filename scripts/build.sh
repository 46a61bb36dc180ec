#!/usr/bin/env bash
# Quickstart: set up .venv, then regenerate generated/ from the [tool.diffgen] targets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh examples
.venv/bin/diffgen build
.venv/bin/diffgen check
