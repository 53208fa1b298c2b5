"""Faults with GPU workers (real NATS servers; workers' code in this process, or a raw client
playing a misbehaving worker): the bot restarting, NATS restarting, a hung GPU, a worker lost
again and again, deliveries exhausted, and a report for a job a worker was not given."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster import connection
from cluster.wire import Event, Hello, Names, WorkerState
from core.config import WorkersConfig
from core.errors import GenerationFailed
from jobs.model import JobStatus
from tests.cluster.support import MODEL, NatsServer, ScriptedRunner, bot, in_process_worker, wait_until, workers_config


async def test_bot_restart_while_the_worker_runs_the_job(engine: AsyncEngine, workers: WorkersConfig) -> None:
    runner = ScriptedRunner()
    async with in_process_worker(workers, "w1", runner=runner):
        async with bot(engine, workers, daily=5) as first:
            runner.hold.set()
            job = await first.submit(1)
            await wait_until(lambda: job.started, what="the job to start")
        # The bot stopped; the worker goes on.
        async with bot(engine, workers, daily=5, start=False) as second:
            (restored,) = await second.service.restore()
            assert second.service.position(restored.job) == 0  # still running on its worker
            second.service.start()
            runner.hold.clear()
            result = await asyncio.wait_for(restored.job.result, 30)
            await second.service.complete(restored.job)
            assert second.sent == [("w1", (job.id,))]  # not sent again: the running batch was adopted
            assert await second.status(job.id) is JobStatus.DONE
    assert runner.calls == [(1,)] and result.images[0].seed == 1  # run once


async def test_a_job_finished_while_the_bot_was_down_is_delivered_not_run_again(
    engine: AsyncEngine, workers: WorkersConfig
) -> None:
    runner = ScriptedRunner()
    async with in_process_worker(workers, "w1", runner=runner):
        async with bot(engine, workers, daily=5) as first:
            runner.hold.set()
            job = await first.submit(1)
            await wait_until(lambda: job.started, what="the job to start")
        runner.hold.clear()
        await wait_until(lambda: len(runner.calls) == 1, what="the run")
        await asyncio.sleep(1.0)  # its result is published while no bot listens
        async with bot(engine, workers, daily=5, start=False) as second:
            (restored,) = await second.service.restore()
            assert restored.job.result.done()  # delivered from the events stream
            second.service.start()
            await second.service.complete(restored.job)
            await asyncio.sleep(0.5)
            assert second.sent == [] and await second.status(job.id) is JobStatus.DONE
    assert runner.calls == [(1,)]


async def test_nats_restart_loses_nothing(engine: AsyncEngine, own_nats: NatsServer) -> None:
    workers = workers_config(own_nats.url, "restart", worker_timeout_s=30.0, ack_wait_s=30.0)
    runner = ScriptedRunner()
    async with in_process_worker(workers, "w1", runner=runner), bot(engine, workers, daily=5) as b:
        runner.hold.set()
        job = await b.submit(1)
        await wait_until(lambda: job.started, what="the job to start")
        own_nats.stop()
        await asyncio.sleep(1.0)
        own_nats.start()  # same port, same store: the streams and consumers are still there
        runner.hold.clear()  # finishes while the clients reconnect; its events wait to be published
        result = await asyncio.wait_for(job.result, 60)
        after = await b.submit(2, seed=2)  # and the next job goes through as before
        assert (await asyncio.wait_for(after.result, 60)).images[0].seed == 2
        await b.service.complete(job)
        assert result.images[0].seed == 1 and await b.status(job.id) is JobStatus.DONE
        assert runner.calls == [(1,), (2,)]


async def test_a_nats_outage_longer_than_the_worker_timeout_takes_nothing_back(
    engine: AsyncEngine, own_nats: NatsServer
) -> None:
    # The bot hears no hello while it is cut off itself: that says nothing about its workers.
    workers = workers_config(own_nats.url, "outage", worker_timeout_s=2.0, ack_wait_s=2.0)
    runner = ScriptedRunner(step_s=0.05)
    async with in_process_worker(workers, "w1", runner=runner), bot(engine, workers, daily=5) as b:
        job = await b.submit(1, steps=100)
        await wait_until(lambda: job.progress is not None, what="steps")
        own_nats.stop()
        await asyncio.sleep(4.0)  # twice the worker timeout and the ack wait
        own_nats.start()
        result = await asyncio.wait_for(job.result, 60)
        assert b.sent == [("w1", (job.id,))] and result.images[0].seed == 1
        assert len(runner.calls) == 1


async def test_a_hung_gpu_loses_its_job_to_another_worker(engine: AsyncEngine, workers: WorkersConfig) -> None:
    workers = dataclasses.replace(workers, ack_wait_s=1.5)
    hung, healthy = ScriptedRunner(), ScriptedRunner()
    hung.hold.set()  # takes the batch, then makes no step: no heartbeat
    async with in_process_worker(workers, "hung", runner=hung), bot(engine, workers, daily=5) as b:
        await wait_until(lambda: len(b.backend.lanes()) == 1, what="the first worker")
        job = await b.submit(1)
        await wait_until(lambda: len(b.sent) == 1, what="the batch sent to the hung worker")
        async with in_process_worker(workers, "healthy", runner=healthy):
            result = await asyncio.wait_for(job.result, 30)
            assert [name for name, _ in b.sent] == ["hung", "healthy"]
            assert result.images[0].seed == 1
            assert {w.name: w.state for w in b.backend.workers()}["hung"] == "stalled"
        hung.hold.clear()


async def test_a_job_whose_worker_is_lost_too_often_fails_with_a_refund(
    engine: AsyncEngine, workers: WorkersConfig
) -> None:
    workers = dataclasses.replace(workers, max_deliveries=2)
    async with bot(engine, workers, daily=5) as b:
        job = await b.submit(1)
        for attempt in range(2):
            runner = ScriptedRunner()
            runner.hold.set()
            sent = attempt + 1
            async with in_process_worker(workers, "w1", runner=runner) as w1:
                await wait_until(lambda: len(b.sent) == sent, what="the batch sent")  # noqa: B023
                await wait_until(lambda: bool(runner.calls), what="the run")  # noqa: B023
                w1.task.cancel()  # the process dies mid-job: no answer, no more hellos
                runner.hold.clear()  # (its pipeline thread ends; a killed process's would vanish)
                await asyncio.gather(w1.task, return_exceptions=True)
            if attempt == 0:
                await wait_until(lambda: b.service.position(job) == 1, timeout=15, what="the job back in line")
        with pytest.raises(GenerationFailed, match="stopped 2 times"):
            await asyncio.wait_for(job.result, 15)
        assert await b.status(job.id) is JobStatus.FAILED
        assert await b.used(1) == 0


@contextlib.asynccontextmanager
async def rogue_worker(workers: WorkersConfig, name: str, state: WorkerState = "ready") -> AsyncIterator[nats.NATS]:
    """A raw client that says hello as a worker and does what the test makes it do."""
    nc = await nats.connect(workers.nats_url)
    names = Names(workers.namespace)
    hello = Hello(name, "boot", state, MODEL, "rogue", 0.0, 1, 0)

    async def say_hello() -> None:
        while True:
            await nc.publish(names.hello(name), hello.encode())
            await asyncio.sleep(0.5)

    task = asyncio.create_task(say_hello())
    try:
        yield nc
    finally:
        task.cancel()
        await nc.close()


async def test_deliveries_exhausted_fail_the_job_with_a_refund(engine: AsyncEngine, workers: WorkersConfig) -> None:
    # A worker that takes the batch and never answers nor heartbeats: JetStream delivers it
    # again after each ack wait, then gives up and says so (an advisory); the bot fails it.
    workers = dataclasses.replace(workers, ack_wait_s=1.0, max_deliveries=2)
    names = Names(workers.namespace)
    async with bot(engine, workers, daily=5) as b, rogue_worker(workers, "mute") as nc:
        js = nc.jetstream()
        pull = await js.pull_subscribe(
            names.work("mute"),
            durable=names.work_consumer("mute"),
            stream=names.work_stream,
            config=connection.work_consumer(names, "mute", workers),
        )
        job = await b.submit(1)
        deliveries = 0
        b.backend._config = dataclasses.replace(workers, ack_wait_s=60.0)  # the bot's own stall watch stays out
        while not job.result.done():
            with contextlib.suppress(TimeoutError):
                deliveries += len(await pull.fetch(1, timeout=0.5))
        with pytest.raises(GenerationFailed, match="stopped 2 times"):
            await job.result
        assert deliveries == 2
        assert await b.status(job.id) is JobStatus.FAILED and await b.used(1) == 0


async def test_a_report_for_a_job_not_given_is_ignored(engine: AsyncEngine, workers: WorkersConfig) -> None:
    names = Names(workers.namespace)
    async with bot(engine, workers, daily=5) as b, rogue_worker(workers, "liar", "loading") as nc:
        js = nc.jetstream()
        await wait_until(lambda: len(b.backend.workers()) == 1, what="the rogue worker")
        job = await b.submit(1)  # the rogue worker is "loading": it gets nothing
        forged = Event("succeeded", "made-up", job.id, seconds=1.0)
        await js.publish(names.events("liar", job.id), forged.encode())
        await asyncio.sleep(1.0)
        assert not job.result.done() and b.service.position(job) == 1
        async with in_process_worker(workers, "honest"):
            result = await asyncio.wait_for(job.result, 30)
        assert result.images[0].seed == 1
