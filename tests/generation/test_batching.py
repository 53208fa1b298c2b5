"""The worker batches the next compatible jobs in line, never reorders the queue, and each
job's image is the one it makes alone."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import ModelConfig
from core.errors import JobCancelled
from db.engine import create_sessionmaker
from db.jobs import JobStore
from generation.loader import LoadedModel, load_pipeline
from generation.runner import run_request
from generation.worker import GenerationWorker
from jobs.model import JobStatus, Place
from jobs.scheduler import FairScheduler
from jobs.service import GenerationService
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import build_request
from tests.support.rules import ORDINARY


def _pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").tobytes()


PLACE = Place(user_id=1, user_name="a", guild_id=2, guild_name="g", channel_id=3, channel_nsfw=False)


@pytest.fixture(scope="module")
def fast_model(fast_model_dir: Path) -> LoadedModel:
    return load_pipeline(ModelConfig(source=str(fast_model_dir), device="cpu"))


def _request(user_id: int, seed: int, steps: int = 2, **options: object):  # type: ignore[no-untyped-def]
    merged: dict[str, object] = {
        "prompt": f"1girl, smile, tag{seed}",
        "aspect": "1024x1024",
        "steps": steps,
        "seed": seed,
        **options,
    }
    return build_request(
        ImagineOptions(**merged),  # type: ignore[arg-type]
        limits=PromptLimits(),
        user_id=user_id,
        guild_id=2,
        channel_id=3,
        rules=ORDINARY,
    )


async def _setup(engine: AsyncEngine, model: LoadedModel, max_batch: int) -> tuple[GenerationService, JobStore]:
    store = JobStore(create_sessionmaker(engine))
    scheduler = FairScheduler(max_size=20)
    worker = GenerationWorker(lambda: model, job_timeout_s=120, max_batch=max_batch)
    return GenerationService(store, scheduler, worker), store


async def test_the_next_compatible_jobs_share_a_call_and_get_their_own_images(
    engine: AsyncEngine, fast_model: LoadedModel
) -> None:
    service, store = await _setup(engine, fast_model, max_batch=4)
    requests = [_request(user, seed=10 + user) for user in (1, 2, 3)]
    jobs = [await service.submit(r, PLACE) for r in requests]
    service.start()
    try:
        results = await asyncio.wait_for(asyncio.gather(*(j.result for j in jobs)), 120)
    finally:
        await service.close()
    assert len({r.seconds for r in results}) == 1  # one pipeline call, timed once for all
    for request, result in zip(requests, results, strict=True):
        alone = run_request(fast_model, request)
        assert result.images[0].infotext == alone.images[0].infotext
        assert result.width == alone.width
        # The same image, batched or alone (within float rounding: batch size changes kernels).
        diff = max(abs(a - b) for a, b in zip(_pixels(result.png), _pixels(alone.png), strict=True))
        assert diff <= 2, f"seed {request.seed}: {diff}/255 apart"
    for job in jobs:
        record = await store.get(job.id)
        assert record is not None and record.status is JobStatus.RUNNING  # done once delivered


async def test_batching_never_jumps_an_incompatible_job_in_between(
    engine: AsyncEngine, fast_model: LoadedModel
) -> None:
    service, _ = await _setup(engine, fast_model, max_batch=4)
    first = await service.submit(_request(1, seed=1), PLACE)
    other = await service.submit(_request(2, seed=2, steps=3), PLACE)  # different steps: not batchable
    third = await service.submit(_request(3, seed=3), PLACE)
    service.start()
    try:
        await asyncio.wait_for(asyncio.gather(first.result, other.result, third.result), 120)
    finally:
        await service.close()
    assert first.started_at is not None and other.started_at is not None and third.started_at is not None
    assert first.started_at < other.started_at < third.started_at  # queue order kept


async def test_cancelling_one_job_of_a_batch_keeps_the_others(engine: AsyncEngine, fast_model: LoadedModel) -> None:
    service, store = await _setup(engine, fast_model, max_batch=4)
    keep = await service.submit(_request(1, seed=1, steps=8), PLACE)
    drop = await service.submit(_request(2, seed=2, steps=8), PLACE)
    service.start()
    try:
        await asyncio.wait_for(drop.changed.wait(), 60)
        assert drop in service.running and keep in service.running
        await service.cancel(drop.id)
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(drop.result, 120)
        assert (await asyncio.wait_for(keep.result, 120)).width == 1024
    finally:
        await service.close()
    record = await store.get(drop.id)
    assert record is not None and record.status is JobStatus.CANCELLED


async def test_max_batch_one_runs_jobs_one_at_a_time(engine: AsyncEngine, fast_model: LoadedModel) -> None:
    service, _ = await _setup(engine, fast_model, max_batch=1)
    jobs = [await service.submit(_request(u, seed=u), PLACE) for u in (1, 2)]
    service.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(j.result for j in jobs)), 120)
    finally:
        await service.close()
    assert jobs[0].started_at != jobs[1].started_at
