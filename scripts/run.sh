#!/usr/bin/env bash
# Set up and start the bot. First run: copies config.example.toml to config.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -f config.toml ]; then
    cp config.example.toml config.toml
    echo "created config.toml from config.example.toml; set [discord] token there or export DISCORD_TOKEN" >&2
fi
exec .venv/bin/python bot.py --config config.toml "$@"
