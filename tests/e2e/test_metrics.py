"""The metrics and health server of the real bot process: /healthz answers, /readyz is ready
once the bot answers, and a scrape after a few requests counts exactly what happened."""

from __future__ import annotations

import asyncio
import json
import socket
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import World, running_world

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DEFER, MESSAGE = 5, 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    address = f"127.0.0.1:{_free_port()}"
    folder = tmp_path_factory.mktemp("bot")
    async with running_world(request.param, folder, fast_model_dir, metrics={"address": address}) as world:
        yield world


@pytest.fixture
def base(world: World) -> str:
    """The bot's metrics server, as its config file names it."""
    return "http://" + tomllib.loads(world.bot.config.read_text())["metrics"]["address"]


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = await _get(f"{base}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_healthz_answers_and_readyz_is_ready_once_the_bot_answers(base: str) -> None:
    assert await _get(f"{base}/healthz") == (200, "ok\n")
    # The tiny model loads in the background, and on_ready follows the local Discord's READY.
    async with asyncio.timeout(60):
        while (answer := await _get(f"{base}/readyz"))[0] != 200:
            assert answer[0] == 503, answer
            await asyncio.sleep(0.2)
    assert json.loads(answer[1]) == {"ready": True, "checks": {"model": "ok", "gateway": "ok", "database": "ok"}}


def _image_done(ix) -> bool:  # type: ignore[no-untyped-def]
    return ix.original is not None and any(a.filename.endswith(".png") for a in ix.original.attachments)


async def test_a_scrape_counts_what_happened(world: World, base: str) -> None:
    before = await _scrape(base)
    assert _value(before, "animagine_queue_jobs", tier="normal") == 0  # present while empty
    assert _value(before, "animagine_jobs_total", outcome="done") == 0

    asked = [
        await world.server.invoke(world.alice, world.general, "imagine", {"prompt": prompt, "steps": 1, "seed": 1})
        for prompt in ("1girl, smile", "1boy, sky")
    ]
    refused = await world.server.invoke(
        world.alice, world.nsfw, "imagine", {"prompt": "1girl, loli", "rating": "explicit"}
    )
    assert (await refused.wait_response(timeout=3)).type == MESSAGE
    completed = await world.server.autocomplete(
        world.alice, world.general, "imagine", {"prompt": "1girl, long_ha"}, focused="prompt"
    )
    await completed.wait_for(lambda i: i.choices is not None, timeout=3)
    for ix in asked:
        await ix.wait_for(_image_done, timeout=120)

    # A job is counted once delivered and recorded, a moment after its image is posted.
    async with asyncio.timeout(10):
        while _value(samples := await _scrape(base), "animagine_jobs_total", outcome="done") != 2:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert _value(samples, "animagine_images_total") == 2
    assert _value(samples, "animagine_jobs_total", outcome="failed") == 0
    assert _value(samples, "animagine_refusals_total", reason="content") == 1
    assert (_value(samples, "animagine_autocomplete_seconds_count") or 0) >= 1
    assert _value(samples, "animagine_wait_seconds_count") == 2
    assert _value(samples, "animagine_generation_seconds_count") == 2
    assert (_value(samples, "animagine_batch_images_count") or 0) >= 1  # one batch or two
    assert _value(samples, "animagine_batch_images_sum") == 2
    assert _value(samples, "animagine_queue_jobs", tier="normal") == 0
    assert _value(samples, "animagine_running_jobs") == 0
    assert _value(samples, "animagine_workers_online") == 1  # this process's own GPU (the CPU here)
    assert (_value(samples, "animagine_model_load_seconds") or 0) > 0
    assert _value(samples, "animagine_gpu_memory_used_bytes", device="0") is None  # no CUDA here
