"""A GPU worker process (`python bot.py worker`) serves /healthz, /readyz and /metrics on its own
config's [metrics] address: ready once its model is loaded and it is connected to NATS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import WorkersConfig
from tests.cluster.support import bot, free_port, worker_process, write_worker_config


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _answer(url: str, status: int, timeout: float) -> str:  # noqa: ASYNC109
    """The body of ``url`` once it answers with ``status``."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                got, body = await _get(url)
                if got == status:
                    return body
            except aiohttp.ClientConnectionError:  # not listening yet
                pass
            await asyncio.sleep(0.2)


async def test_a_worker_is_ready_once_its_model_is_loaded_and_serves_its_metrics(
    engine: AsyncEngine, workers: WorkersConfig, fast_model_dir: Path, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    config = write_worker_config(tmp_path, "w1", fast_model_dir, workers)
    config.write_text(config.read_text().replace('address = ""', f'address = "{base.removeprefix("http://")}"'))
    process = worker_process(config, tmp_path / "w1.log")
    await process.start()
    try:
        assert await _answer(f"{base}/healthz", 200, timeout=60) == "ok\n"
        # Connected, but the model loads only once the bot has created the work stream.
        waiting = json.loads(await _answer(f"{base}/readyz", 503, timeout=10))
        assert waiting["checks"]["model"] == "the model is still loading"
        async with bot(engine, workers):
            ready = json.loads(await _answer(f"{base}/readyz", 200, timeout=120))
            assert ready == {"ready": True, "checks": {"model": "ok", "nats": "ok"}}
            status, text = await _get(f"{base}/metrics")
        assert status == 200
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples["animagine_model_load_seconds"] > 0
        assert samples["animagine_worker_images_total"] == 0
        assert "animagine_jobs_total" not in samples  # the bot counts the jobs
    except BaseException:
        print(process.output()[-3000:])
        raise
    finally:
        await process.stop()
