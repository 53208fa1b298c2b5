"""Start the real bot (`python bot.py --config ...`) against the local Discord server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]


def write_config(
    path: Path, server: FakeDiscord, *, model: Path, database_url: str, **sections: dict[str, Any]
) -> Path:
    """A config file as an admin would write it, pointed at the local server."""
    generation = {"progress_interval_s": 0.2, **sections.pop("generation", {})}
    discord = sections.pop("discord", {})
    logging = {"level": "INFO", **sections.pop("logging", {})}
    # The output check is on by default; a test that wants it names its tagger.
    sections["moderation"] = {"classifier": "none", **sections.get("moderation", {})}
    # No metrics server unless a test asks for one (metrics={"address": ...}): bots started side
    # by side would all want the default port.
    sections.setdefault("metrics", {"address": ""})
    lines = [
        "[discord]",
        f'token = "{server.token}"',
        f'api_base_url = "{server.api_base_url}"',
        f'gateway_url = "{server.gateway_url}"',
        "guild_ready_timeout = 0.2",
        *(f"{k} = {v!r}" for k, v in discord.items()),
        "[model]",
        f'source = "{model}"',
        'device = "cpu"',
        "[database]",
        f'url = "{database_url}"',
        "[generation]",
        *(f"{k} = {v!r}" for k, v in generation.items()),
        "[logging]",
        *(f"{k} = {v!r}" for k, v in logging.items()),
    ]
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {v!r}" for k, v in values.items())
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class BotProcess:
    config: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()  # ("worker",) for a GPU worker process
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", **self.env}
        env.pop("DISCORD_TOKEN", None)
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bot.py"),
            *self.command,
            "--config",
            str(self.config),
            cwd=str(self.config.parent),
            env=env,
            stdout=handle,
            stderr=handle,
        )
        handle.close()

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
