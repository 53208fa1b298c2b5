"""Runner and worker on a tiny real pipeline: images, progress, cancellation, failures."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import ModelConfig
from core.errors import (
    GenerationFailed,
    InvalidOption,
    JobCancelled,
    JobRequeued,
    ModelLoadError,
    NotAccepting,
    QueueFull,
)
from db.engine import create_sessionmaker
from db.jobs import JobStore
from generation.loader import MAX_PROMPT_CHUNKS, LoadedModel, load_pipeline
from generation.metadata import parse_infotext, read_png_parameters
from generation.runner import RunControl, run_request
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

PLACE = Place(user_id=1, user_name="a", guild_id=2, guild_name="g", channel_id=3, channel_nsfw=False)


def _request(
    aspect: str = "832x1216",
    steps: int = 3,
    seed: int = 7,
    prompt: str = "1girl, smile",
    limits: PromptLimits | None = None,
):
    return build_request(
        ImagineOptions(prompt=prompt, aspect=aspect, steps=steps, seed=seed),
        limits=limits or PromptLimits(),
        user_id=PLACE.user_id,
        guild_id=PLACE.guild_id,
        channel_id=PLACE.channel_id,
        rules=ORDINARY,
    )


@pytest.fixture(scope="module")
def fast_model(fast_model_dir: Path) -> LoadedModel:
    return load_pipeline(ModelConfig(source=str(fast_model_dir), device="cpu", hash="0123456789"))


def test_run_request_makes_a_full_size_png_with_parameters(fast_model: LoadedModel) -> None:
    steps: list[tuple[int, int]] = []
    request = _request()
    result = run_request(fast_model, request, RunControl(on_step=lambda s, t: steps.append((s, t))))
    with Image.open(io.BytesIO(result.png)) as image:
        assert image.size == (832, 1216)
    prompt, negative, fields = parse_infotext(read_png_parameters(result.png) or "")
    assert prompt == request.prompt
    assert negative == request.negative
    assert fields["Seed"] == "7" and fields["Steps"] == "3" and fields["Sampler"] == "Euler a"
    assert fields["Size"] == "832x1216" and fields["Model hash"] == "0123456789"
    assert steps == [(1, 3), (2, 3), (3, 3)]


def test_same_seed_same_image(fast_model: LoadedModel) -> None:
    a = run_request(fast_model, _request(aspect="1024x1024", seed=11, steps=2))
    b = run_request(fast_model, _request(aspect="1024x1024", seed=11, steps=2))
    c = run_request(fast_model, _request(aspect="1024x1024", seed=12, steps=2))
    assert a.png == b.png
    assert a.png != c.png


def test_cancel_flag_stops_at_the_next_step(fast_model: LoadedModel) -> None:
    flag = threading.Event()
    seen: list[int] = []

    def on_step(step: int, total: int) -> None:
        seen.append(step)
        if step == 1:
            flag.set()

    with pytest.raises(JobCancelled):
        run_request(fast_model, _request(steps=10), RunControl(on_step=on_step, is_cancelled=flag.is_set))
    assert seen == [1]


@pytest.fixture
async def store(engine: AsyncEngine) -> JobStore:
    return JobStore(create_sessionmaker(engine))


@contextlib.asynccontextmanager
async def running_service(
    load: Callable[[], LoadedModel], store: JobStore, *, job_timeout_s: float = 60
) -> AsyncIterator[GenerationService]:
    scheduler = FairScheduler(max_size=10)
    service = GenerationService(store, scheduler, GenerationWorker(load, job_timeout_s=job_timeout_s))
    service.start()
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
async def service(fast_model: LoadedModel, store: JobStore) -> AsyncIterator[GenerationService]:
    async with running_service(lambda: fast_model, store) as service:
        yield service


async def test_worker_runs_jobs_in_order_and_records_them(service: GenerationService, store: JobStore) -> None:
    jobs = [await service.submit(_request(aspect="1024x1024", steps=2, seed=i), PLACE) for i in range(3)]
    # The first job may already be running (position 0); the rest wait in submission order.
    positions = [service.position(j) for j in jobs]
    assert positions in ([0, 1, 2], [1, 2, 3]), positions
    results = await asyncio.wait_for(asyncio.gather(*(j.result for j in jobs)), 120)
    assert all(r.width == 1024 for r in results)
    for job in jobs:
        # Done only once delivered: a crash between the image and its delivery re-runs the job.
        record = await store.get(job.id)
        assert record is not None and record.status is JobStatus.RUNNING
        await service.complete(job)
        record = await store.get(job.id)
        assert record is not None and record.status is JobStatus.DONE and record.seconds is not None
    assert jobs[0].progress is not None and jobs[0].progress.step == 2


async def test_model_load_failure_fails_jobs_with_the_reason(store: JobStore) -> None:
    def broken() -> LoadedModel:
        raise ModelLoadError("no weights here")

    async with running_service(broken, store) as service:
        job = await service.submit(_request(), PLACE)
        with pytest.raises(GenerationFailed, match="no weights here"):
            await asyncio.wait_for(job.result, 30)
        record = await store.get(job.id)
        assert record is not None and record.status is JobStatus.FAILED


# The tiny tokenizer spells unknown words letter by letter (7-9 tokens each): well over
# MAX_PROMPT_CHUNKS chunks of 75 tokens, yet under the character limit set below.
TOO_MANY_TOKENS = ", ".join(f"xyzzy{i}" for i in range(400))
ROOMY = PromptLimits(max_prompt_chars=10_000)


async def test_token_check_refuses_before_queueing_with_the_run_time_message(
    fast_model: LoadedModel, store: JobStore
) -> None:
    worker = GenerationWorker(lambda: fast_model, job_timeout_s=60)
    service = GenerationService(store, FairScheduler(max_size=10), worker)
    service.start()
    try:
        await worker.ready()
        checked = PromptLimits(max_prompt_chars=10_000, tokens=worker)
        with pytest.raises(InvalidOption) as refused:
            _request(prompt=TOO_MANY_TOKENS, limits=checked)
        assert refused.value.option == "prompt"
        limit = f"the limit is {MAX_PROMPT_CHUNKS} ({MAX_PROMPT_CHUNKS * 75} tokens)"
        assert limit in refused.value.message
        # Queued without the pre-check, the same prompt is refused when it runs, in the same words.
        job = await service.submit(_request(prompt=TOO_MANY_TOKENS, limits=ROOMY), PLACE)
        with pytest.raises(GenerationFailed) as failed:
            await asyncio.wait_for(job.result, 60)
        assert failed.value.message == refused.value.message
        # An ordinary prompt is accepted and comes out exactly as without the check.
        assert _request(limits=checked) == _request()
    finally:
        await service.close()


async def test_token_check_is_a_no_op_until_the_model_is_loaded(fast_model: LoadedModel, store: JobStore) -> None:
    release = threading.Event()

    def slow_load() -> LoadedModel:
        release.wait(30)
        return fast_model

    worker = GenerationWorker(slow_load, job_timeout_s=60)
    worker.check_tokens(TOO_MANY_TOKENS, "")  # not started: nothing to count with yet
    service = GenerationService(store, FairScheduler(max_size=10), worker)
    service.start()
    try:
        worker.check_tokens(TOO_MANY_TOKENS, "")  # loading
        request = _request(prompt=TOO_MANY_TOKENS, limits=PromptLimits(max_prompt_chars=10_000, tokens=worker))
        assert request.user_prompt == TOO_MANY_TOKENS  # accepted; the run-time check still applies
    finally:
        release.set()
        await service.close()


async def test_token_check_is_a_no_op_when_the_model_failed_to_load(store: JobStore) -> None:
    def broken() -> LoadedModel:
        raise ModelLoadError("no weights here")

    worker = GenerationWorker(broken, job_timeout_s=60)
    service = GenerationService(store, FairScheduler(max_size=10), worker)
    service.start()
    try:
        await worker.ready()
        worker.check_tokens(TOO_MANY_TOKENS, "")  # every job is refused with the load error instead
    finally:
        await service.close()


async def test_pipeline_error_does_not_stop_the_worker(fast_model: LoadedModel, store: JobStore) -> None:
    async with running_service(lambda: fast_model, store) as service:
        bad = await service.submit(_request(aspect="1024x1024"), PLACE)
        # Corrupt the request so that the pipeline raises (odd size), as a GPU error would.
        object.__setattr__(bad.request, "width", 1001)
        good = await service.submit(_request(aspect="1024x1024", steps=1), PLACE)
        with pytest.raises(GenerationFailed):
            await asyncio.wait_for(bad.result, 60)
        assert (await asyncio.wait_for(good.result, 60)).width == 1024
        record = await store.get(bad.id)
        assert record is not None and record.status is JobStatus.FAILED and record.error


async def test_job_timeout_stops_the_job(fast_model: LoadedModel, store: JobStore) -> None:
    async with running_service(lambda: fast_model, store, job_timeout_s=0.5) as service:
        job = await service.submit(_request(aspect="1024x1024", steps=50), PLACE)
        with pytest.raises(GenerationFailed, match="longer than 0.5 s"):
            await asyncio.wait_for(job.result, 60)


async def test_full_queue_is_refused(store: JobStore, fast_model: LoadedModel) -> None:
    scheduler = FairScheduler(max_size=1)
    worker = GenerationWorker(lambda: fast_model, job_timeout_s=60)  # never started
    service = GenerationService(store, scheduler, worker)
    await service.submit(_request(), PLACE)

    with pytest.raises(QueueFull, match="queue is full"):
        service.ensure_room()


async def test_close_puts_the_running_and_waiting_jobs_back_in_the_queue(
    fast_model: LoadedModel, store: JobStore
) -> None:
    async with running_service(lambda: fast_model, store) as service:
        running = await service.submit(_request(aspect="1024x1024", steps=50), PLACE)
        waiting = await service.submit(_request(), PLACE)
        await asyncio.wait_for(running.changed.wait(), 30)
        assert running.started
    for job in (running, waiting):
        with pytest.raises(JobRequeued):
            job.result.result()
        record = await store.get(job.id)
        assert record is not None and record.status is JobStatus.QUEUED
        assert record.started_at is None and record.error is None
    # The running one stopped at a step instead of finishing its 50.
    assert running.progress is not None and running.progress.step < 50
    with pytest.raises(NotAccepting, match="restarting"):
        service.ensure_room()
