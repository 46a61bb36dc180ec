#!/usr/bin/env bash
# Quickstart: set up .venv with what the examples' targets need (jax, torch, jaxtyping), then
# regenerate the stale files of generated/ from the [tool.diffgen] targets and check them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh examples
.venv/bin/diffgen build
.venv/bin/diffgen check
