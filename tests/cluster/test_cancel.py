"""Cancel in every state, with GPU workers: queued, sent but not started, running, and one job of
a batch; the quota is refunded each time (real NATS server, workers' code in this process)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import WorkersConfig
from core.errors import JobCancelled
from jobs.model import JobStatus
from jobs.service import CancelOutcome
from tests.cluster.support import ScriptedRunner, bot, in_process_worker, wait_until


async def test_a_queued_job_is_simply_not_sent(engine: AsyncEngine, workers: WorkersConfig) -> None:
    async with in_process_worker(workers, "w1") as w1, bot(engine, workers, daily=5) as b:
        w1.runner.hold.set()
        first = await b.submit(1)
        queued = await b.submit(2)
        await wait_until(lambda: len(b.sent) == 1, what="the first batch")
        assert await b.service.cancel(queued.id) is CancelOutcome.REMOVED
        with pytest.raises(JobCancelled):
            await queued.result
        w1.runner.hold.clear()
        await asyncio.wait_for(first.result, 30)
        assert [ids for _, ids in b.sent] == [(first.id,)]
        assert await b.status(queued.id) is JobStatus.CANCELLED
        assert await b.used(2) == 0  # refunded


async def test_a_job_sent_but_not_started_is_taken_back(engine: AsyncEngine, workers: WorkersConfig) -> None:
    async with in_process_worker(workers, "w1") as w1, bot(engine, workers, daily=5) as b:
        await wait_until(lambda: len(b.backend.lanes()) == 1, what="the worker")
        await w1.close()  # gone, but the bot does not know yet (worker_timeout_s): nobody takes it
        job = await b.submit(1)
        await wait_until(lambda: len(b.sent) == 1, what="the batch sent")
        assert await b.service.cancel(job.id) is CancelOutcome.STOPPING
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(job.result, 10)
        assert await b.status(job.id) is JobStatus.CANCELLED
        assert await b.used(1) == 0
        info = await b.backend._js_.stream_info(b.backend._names.work_stream)
        assert info.state.messages == 0  # the message was deleted: no worker will run it
    async with in_process_worker(workers, "w1") as again:
        await asyncio.sleep(1.5)
        assert again.runner.calls == []


async def test_a_running_job_stops_at_its_next_step(engine: AsyncEngine, workers: WorkersConfig) -> None:
    runner = ScriptedRunner(step_s=0.05)
    async with in_process_worker(workers, "w1", runner=runner), bot(engine, workers, daily=5) as b:
        job = await b.submit(1, steps=400)
        await wait_until(lambda: job.progress is not None, what="steps")
        assert await b.service.cancel(job.id) is CancelOutcome.STOPPING
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(job.result, 10)
        assert job.progress is not None and job.progress.step < 400
        assert await b.status(job.id) is JobStatus.CANCELLED
        assert await b.used(1) == 0


async def test_cancelling_one_job_of_a_batch_drops_only_its_image(engine: AsyncEngine, workers: WorkersConfig) -> None:
    runner = ScriptedRunner(step_s=0.05)
    async with bot(engine, workers, daily=5, start=False) as b:
        keep = await b.submit(1, steps=20)
        drop = await b.submit(2, steps=20, seed=2)
        async with in_process_worker(workers, "w1", max_batch=2, runner=runner):
            await wait_until(lambda: len(b.backend.lanes()) == 1, what="the worker")
            b.service.start()
            await wait_until(lambda: drop.progress is not None, what="steps")
            assert await b.service.cancel(drop.id) is CancelOutcome.STOPPING
            result = await asyncio.wait_for(keep.result, 30)
            with pytest.raises(JobCancelled):
                await asyncio.wait_for(drop.result, 10)
        assert b.sent == [("w1", (keep.id, drop.id))]
        assert result.images[0].seed == 1
        assert await b.status(drop.id) is JobStatus.CANCELLED
        assert await b.used(2) == 0
