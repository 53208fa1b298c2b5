"""GenerationService and worker with a scripted runner: cancelling, quota refunds, OOM retry,
shutdown and resuming after a restart. The pipeline itself is covered in test_worker.py."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import cast

import pytest
import torch
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import QuotaConfig
from core.errors import GenerationFailed, JobCancelled, JobRequeued, NotYourJob, QuotaRefused
from db.engine import create_sessionmaker
from db.jobs import JobStore
from db.models import Job
from db.quotas import QuotaStore
from generation.loader import LoadedModel
from generation.runner import RunControl
from generation.worker import GenerationWorker
from jobs.model import ActiveJob, GenerationResult, JobStatus, Place, RenderedImage, StopReason
from jobs.scheduler import FairScheduler
from jobs.service import CancelOutcome, GenerationService
from moderation.classifier import OutputClassifier
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import (
    GenerationRequest,
    build_request,
)
from quota.policy import QuotaAsk
from tests.support.rules import ORDINARY

GUILD = 2


def place(user_id: int) -> Place:
    return Place(
        user_id=user_id, user_name=f"u{user_id}", guild_id=GUILD, guild_name="g", channel_id=3, channel_nsfw=False
    )


def request(user_id: int = 1, seed: int = 7, steps: int = 4) -> GenerationRequest:
    return build_request(
        ImagineOptions(prompt="1girl, smile", steps=steps, seed=seed),
        limits=PromptLimits(),
        user_id=user_id,
        guild_id=GUILD,
        channel_id=3,
        rules=ORDINARY,
    )


@dataclass
class ScriptedRunner:
    """Stands in for generation.runner.run: steps until released, honours the cancel flag, and can raise
    out-of-memory a given number of times first."""

    ooms: int = 0
    hold: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    calls: list[int] = field(default_factory=list)

    def __call__(
        self,
        model: LoadedModel,
        requests: Sequence[GenerationRequest],
        control: RunControl,
        *,
        classifier: OutputClassifier | None,
        sources: Mapping[str, bytes] | None = None,
    ) -> list[GenerationResult]:
        (request,) = requests  # the rig runs one job at a time
        is_cancelled = control.is_cancelled or (lambda: False)
        on_step = control.on_step or (lambda _step, _total: None)
        self.calls.append(request.seed)
        self.started.set()
        if self.ooms:
            self.ooms -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        for step in range(1, request.steps + 1):
            while not self.hold.wait(0.01):
                if is_cancelled():
                    raise JobCancelled()
            if is_cancelled():
                raise JobCancelled()
            on_step(step, request.steps)
        image = RenderedImage(png=b"png", width=request.width, height=request.height, seed=request.seed, infotext="")
        return [GenerationResult(images=(image,), seconds=0.5)]


@dataclass
class Rig:
    service: GenerationService
    store: JobStore
    quotas: QuotaStore
    runner: ScriptedRunner
    worker: GenerationWorker


@contextlib.asynccontextmanager
async def rig(engine: AsyncEngine, runner: ScriptedRunner, *, daily: int = 10) -> AsyncIterator[Rig]:
    sessions = create_sessionmaker(engine)
    quotas = QuotaStore(sessions, QuotaConfig(daily_images=daily, max_active=0, cooldown_s=0))
    store = JobStore(sessions, quotas)
    scheduler = FairScheduler(max_size=50)
    model = cast(LoadedModel, SimpleNamespace(device="cpu", dtype="float32", speedups=(), warmup=False))
    worker = GenerationWorker(lambda: model, job_timeout_s=30, runner=runner)
    service = GenerationService(store, scheduler, worker, shutdown_grace_s=5)
    service.start()
    try:
        yield Rig(service, store, quotas, runner, worker)
    finally:
        runner.hold.set()
        await service.close()


async def submit(r: Rig, user_id: int = 1, seed: int = 7, steps: int = 4) -> ActiveJob:
    return await r.service.submit(
        request(user_id, seed, steps), place(user_id), quota=QuotaAsk(user_id=user_id, guild_id=GUILD)
    )


async def used(r: Rig, user_id: int = 1) -> int:
    return (await r.quotas.status(QuotaAsk(user_id=user_id, guild_id=GUILD))).used_today


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 (state changed by the worker's thread and tasks)
            await asyncio.sleep(0.01)


async def test_cancel_a_queued_job_removes_it_and_refunds(engine: AsyncEngine) -> None:
    async with rig(engine, ScriptedRunner()) as r:
        running = await submit(r, seed=1)
        queued = await submit(r, seed=2)
        await until(lambda: running.started)
        assert await used(r) == 2
        assert await r.service.cancel(queued.id) is CancelOutcome.REMOVED
        with pytest.raises(JobCancelled):
            await queued.result
        assert r.service.position(queued) is None
        record = await r.store.get(queued.id)
        assert record is not None and record.status is JobStatus.CANCELLED
        assert await used(r) == 1
        r.runner.hold.set()
        await asyncio.wait_for(running.result, 10)
        assert r.runner.calls == [1]  # the cancelled job never reached the GPU


async def test_cancel_a_running_job_stops_it_at_the_next_step_and_refunds(engine: AsyncEngine) -> None:
    async with rig(engine, ScriptedRunner()) as r:
        job = await submit(r, steps=50)
        await until(lambda: job.started)
        assert await r.service.cancel(job.id) is CancelOutcome.STOPPING
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(job.result, 10)
        record = await r.store.get(job.id)
        assert record is not None and record.status is JobStatus.CANCELLED
        assert await used(r) == 0
        assert await r.service.cancel(job.id) is CancelOutcome.NOT_FOUND
        # The worker goes on with the next job.
        r.runner.hold.set()
        after = await submit(r, seed=9, steps=1)
        assert (await asyncio.wait_for(after.result, 10)).png == b"png"


async def test_only_the_requester_or_a_moderator_of_that_server_may_cancel(engine: AsyncEngine) -> None:
    async with rig(engine, ScriptedRunner()) as r:
        job = await submit(r, user_id=1)
        with pytest.raises(NotYourJob):
            await r.service.cancel_as(job.id, 99)
        with pytest.raises(NotYourJob):
            await r.service.cancel_as(job.id, 99, moderator_in=GUILD + 1)
        assert await r.service.cancel_as(job.id, 99, moderator_in=GUILD) is not CancelOutcome.NOT_FOUND
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(job.result, 10)


async def test_out_of_memory_is_retried_once(engine: AsyncEngine) -> None:
    runner = ScriptedRunner(ooms=1)
    runner.hold.set()
    async with rig(engine, runner) as r:
        job = await submit(r, steps=1)
        assert (await asyncio.wait_for(job.result, 10)).png == b"png"
        assert runner.calls == [7, 7]


async def test_out_of_memory_twice_fails_the_job_refunds_and_the_worker_goes_on(engine: AsyncEngine) -> None:
    runner = ScriptedRunner(ooms=2)
    runner.hold.set()
    async with rig(engine, runner) as r:
        job = await submit(r, steps=1)
        with pytest.raises(GenerationFailed, match="ran out of memory"):
            await asyncio.wait_for(job.result, 10)
        record = await r.store.get(job.id)
        assert record is not None and record.status is JobStatus.FAILED and "out of memory" in (record.error or "")
        assert await used(r) == 0
        after = await submit(r, seed=8, steps=1)
        assert (await asyncio.wait_for(after.result, 10)).png == b"png"


async def test_a_refused_request_leaves_no_job_and_no_charge(engine: AsyncEngine) -> None:
    async with rig(engine, ScriptedRunner(), daily=1) as r:
        first = await submit(r, seed=1)
        with pytest.raises(QuotaRefused, match="used all 1"):
            await submit(r, seed=2)
        assert [j.id for j in r.service.active_jobs(1)] == [first.id]
        assert await used(r) == 1


async def test_done_only_after_delivery_and_the_wait_estimate_uses_recent_jobs(engine: AsyncEngine) -> None:
    runner = ScriptedRunner()
    runner.hold.set()
    async with rig(engine, runner) as r:
        job = await submit(r, steps=1)
        await asyncio.wait_for(job.result, 10)
        record = await r.store.get(job.id)
        assert record is not None and record.status is JobStatus.RUNNING
        await r.service.complete(job)
        record = await r.store.get(job.id)
        assert record is not None and record.status is JobStatus.DONE
        runner.hold.clear()
        running = await submit(r, seed=2)
        waiting = await submit(r, seed=3)
        await until(lambda: running.started)
        wait = r.service.estimated_wait(waiting)
        assert wait is not None and 0 <= wait <= 0.5  # one recent job of 0.5 s, partly done


async def test_withheld_images_are_refunded(engine: AsyncEngine) -> None:
    runner = ScriptedRunner()
    runner.hold.set()
    async with rig(engine, runner) as r:
        job = await submit(r, steps=1)
        await asyncio.wait_for(job.result, 10)
        await r.service.complete(job, withheld="withheld by the output check")
        record = await r.store.get(job.id)
        assert record is not None and record.status is JobStatus.FAILED
        assert await used(r) == 0


async def test_shutdown_requeues_and_a_restart_resumes_in_the_same_order(engine: AsyncEngine) -> None:
    runner = ScriptedRunner()
    async with rig(engine, runner) as r:
        # Alice asks for three, then Bob for one: Bob's runs second (round-robin).
        a1 = await submit(r, user_id=1, seed=11, steps=50)
        await until(lambda: a1.started)
        a2, a3 = await submit(r, user_id=1, seed=12), await submit(r, user_id=1, seed=13)
        b1 = await submit(r, user_id=2, seed=21)
        order_before = sorted((a2, a3, b1), key=lambda j: r.service.position(j) or 0)
        assert [j.request.seed for j in order_before] == [21, 12, 13]
        await r.service.close()
        for job in (a1, a2, a3, b1):
            with pytest.raises(JobRequeued):
                job.result.result()
            record = await r.store.get(job.id)
            assert record is not None and record.status is JobStatus.QUEUED
        quota_before = await used(r, 1), await used(r, 2)

    # A new process: same database, fresh scheduler and worker.
    runner2 = ScriptedRunner()
    runner2.hold.set()
    async with rig(engine, runner2) as r2:
        restored = await r2.service.restore()
        assert [x.job.request.seed for x in restored] == [11, 21, 12, 13]  # the interrupted one first
        results = await asyncio.wait_for(asyncio.gather(*(x.job.result for x in restored)), 20)
        assert len(results) == 4
        assert runner2.calls == [11, 21, 12, 13]
        for x in restored:
            await r2.service.complete(x.job)
        assert (await used(r2, 1), await used(r2, 2)) == quota_before  # charged once, not again
        assert await r2.store.unfinished() == []


async def test_a_job_left_running_by_a_crash_is_run_again(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    store = JobStore(sessions)
    job_id = await store.create(request(seed=5), place(1))
    await store.mark_running(job_id)  # and then the process died
    runner = ScriptedRunner()
    runner.hold.set()
    async with rig(engine, runner) as r:
        restored = await r.service.restore()
        assert [x.job.id for x in restored] == [job_id]
        await asyncio.wait_for(restored[0].job.result, 10)
        assert runner.calls == [5]


async def test_a_cancel_during_shutdown_wins_and_is_refunded(engine: AsyncEngine) -> None:
    runner = ScriptedRunner()
    async with rig(engine, runner) as r:
        job = await submit(r, steps=50)
        await until(lambda: job.started)
        job.stop(StopReason.SHUTDOWN)  # the bot began to stop...
        assert await r.service.cancel(job.id) is CancelOutcome.STOPPING  # ...and the member cancels
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(job.result, 10)
        record = await r.store.get(job.id)
        assert record is not None and record.status is JobStatus.CANCELLED
        assert await used(r) == 0


async def test_the_worker_survives_a_database_outage_while_recording_a_failure(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ScriptedRunner()
    runner.hold.set()
    async with rig(engine, runner) as r:
        calls = 0
        real = r.store.mark_running

        async def flaky(job_id: int) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("database went away")
            await real(job_id)

        async def failing(job_id: int, error: str) -> None:
            raise ConnectionError("still away")

        monkeypatch.setattr(r.store, "mark_running", flaky)
        monkeypatch.setattr(r.store, "mark_failed", failing)
        first = await submit(r, seed=1, steps=1)
        with pytest.raises(GenerationFailed):
            await asyncio.wait_for(first.result, 10)
        monkeypatch.undo()
        second = await submit(r, seed=2, steps=1)
        assert (await asyncio.wait_for(second.result, 10)).png == b"png"


async def test_an_unreadable_stored_job_is_failed_instead_of_stopping_start_up(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    store = JobStore(sessions)
    bad = await store.create(request(seed=1), place(1))
    good = await store.create(request(seed=2), place(1))
    async with sessions.begin() as session:
        await session.execute(update(Job).where(Job.id == bad).values(request='{"not": "a request"}'))
    runner = ScriptedRunner()
    runner.hold.set()
    async with rig(engine, runner) as r:
        restored = await r.service.restore()
        assert [x.job.id for x in restored] == [good]
        async with sessions() as session:
            status = (await session.get(Job, bad)).status  # type: ignore[union-attr]
        assert status is JobStatus.FAILED
        await asyncio.wait_for(restored[0].job.result, 10)
