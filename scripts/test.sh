#!/usr/bin/env bash
# Set up and run every check: ruff (lint, format), mypy, import-linter, then the test suite
# (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
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
exec .venv/bin/python -m pytest "$@"
