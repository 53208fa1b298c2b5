"""The Docker files: one GPU in docker-compose.yml, the GPU workers' setup beside it, and the
same health check (on the metrics server's default address) in the image and both files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.config import Config

ROOT = Path(__file__).resolve().parents[1]
HEALTHZ = f"http://{Config().metrics.address}/healthz"


def _compose(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return document


def _gpus(service: dict[str, Any]) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = service["deploy"]["resources"]["reservations"]["devices"]
    return devices


def _checks_health(service: dict[str, Any]) -> bool:
    test = service["healthcheck"]["test"]
    return test[:3] == ["CMD", "python", "-c"] and HEALTHZ in test[3]


def test_one_gpu_compose_runs_the_bot_with_its_gpu_volume_and_health_check() -> None:
    compose = _compose("docker-compose.yml")
    assert set(compose["services"]) == {"bot"}
    bot = compose["services"]["bot"]
    assert _gpus(bot) == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "bot-data:/app/data" in bot["volumes"] and "bot-data" in compose["volumes"]
    # SQLite by default, relative to the image's /app: inside the volume.
    assert Config().database.url == "sqlite+aiosqlite:///data/bot.db"
    assert _checks_health(bot)


def test_the_workers_compose_has_nats_postgres_the_bot_and_a_worker() -> None:
    services = _compose("docker-compose.workers.yml")["services"]
    assert {"nats", "postgres", "bot", "worker"} <= set(services)
    assert "deploy" not in services["bot"]  # the workers have the GPUs
    assert _gpus(services["worker"])[0]["count"] == 1
    assert _checks_health(services["bot"]) and _checks_health(services["worker"])


def test_the_image_checks_its_health_and_installs_the_pinned_versions() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = next(line for line in dockerfile.splitlines() if line.strip().startswith('CMD ["python", "-c"'))
    assert HEALTHZ in healthcheck
    assert "pip install -c constraints.txt ." in dockerfile
    assert "-c constraints.txt" in (ROOT / "scripts" / "setup.sh").read_text()
