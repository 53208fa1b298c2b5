#!/usr/bin/env bash
# Create .venv and install the bot (and, with --test, the test tools). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned: 2.13.0 satisfies the project's range, so the project install below
# adds nothing. Set TORCH_SPEC to choose another build (e.g. a CUDA one on a GPU host).
.venv/bin/python -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"
# Everything else at the versions of constraints.txt, the same on every machine (and in CI and
# the Docker image); scripts/lock.sh refreshes it.
if [ "${1:-}" = "--test" ]; then
    .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
else
    .venv/bin/python -m pip install --quiet -c constraints.txt -e .
fi
