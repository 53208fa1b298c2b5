#!/usr/bin/env bash
# Set up and run every check: ruff (lint, format), mypy, import-linter, then the test suite
# (SQLite and PostgreSQL).
#   --quick   the everyday loop: the same checks, then the unit tests only (no end-to-end, GPU
#             worker or generation tests, none marked e2e or slow); under two minutes on 2 cores.
# Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=""
if [ "${1:-}" = "--quick" ]; then
    QUICK=1
    shift
fi
bash scripts/setup.sh --test
# The GPU-worker tests talk to a real NATS server with JetStream (started here if none answers).
bash scripts/nats.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
# The domain packages are held to mypy's strict mode.
.venv/bin/mypy --strict prompt jobs quota moderation
# The layers (see README "Architecture"): contracts in pyproject.toml [tool.importlinter].
.venv/bin/lint-imports --no-cache
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -n "$QUICK" ]; then
    exec .venv/bin/python -m pytest -m "not e2e and not slow" tests/core tests/cogs tests/jobs tests/prompt tests/moderation \
        tests/quota tests/db tests/test_architecture.py tests/test_bot.py "$@"
fi
exec .venv/bin/python -m pytest "$@"
