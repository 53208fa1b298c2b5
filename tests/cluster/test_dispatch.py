"""The bot keeps the fair order across GPU workers and batches to each one's size (real NATS
server, workers' code in this process on a scripted runner)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import WorkersConfig
from jobs.model import JobStatus
from quota.policy import QuotaAsk
from tests.cluster.support import bot, in_process_worker, place, request, wait_until


async def test_two_workers_take_batches_in_the_fair_order(engine: AsyncEngine, workers: WorkersConfig) -> None:
    async with bot(engine, workers, start=False) as b:
        alice = [await b.submit(1, seed=i) for i in range(4)]
        bob = [await b.submit(2, seed=10 + i) for i in range(2)]
        async with in_process_worker(workers, "w1", max_batch=2) as w1, in_process_worker(workers, "w2", max_batch=2):
            await wait_until(lambda: len(b.backend.lanes()) == 2, what="two workers")
            b.service.start()
            results = await asyncio.wait_for(asyncio.gather(*(j.result for j in alice + bob)), 30)
            for job in alice + bob:
                await b.service.complete(job)
        fair = [alice[0], bob[0], alice[1], bob[1], alice[2], alice[3]]
        assert [i for _, ids in b.sent for i in ids] == [j.id for j in fair]
        assert all(len(ids) == 2 for _, ids in b.sent)  # batched up to each worker's size
        assert {name for name, _ in b.sent} == {"w1", "w2"}
        assert [r.images[0].seed for r in results] == [0, 1, 2, 3, 10, 11]
        assert results[0].png == b"png-0" * 1000  # the PNG came through the object store
        assert w1.runner.calls  # both worked
        for job in alice + bob:
            record = await b.store.get(job.id)
            assert record is not None and record.status is JobStatus.DONE


async def test_no_worker_holds_a_backlog(engine: AsyncEngine, workers: WorkersConfig) -> None:
    async with in_process_worker(workers, "w1") as w1, bot(engine, workers) as b:
        w1.runner.hold.set()
        jobs = [await b.submit(i) for i in range(1, 5)]
        await wait_until(lambda: len(b.sent) == 1, what="the first batch")
        await asyncio.sleep(0.5)
        assert len(b.sent) == 1  # one batch out; the rest wait in the bot's fair queue
        assert [b.service.position(j) for j in jobs] == [0, 1, 2, 3]
        again = await b.submit(2)
        late = await b.submit(9)
        # Still in the bot's fair order: member 9's first job goes before member 2's second.
        assert (b.service.position(late), b.service.position(again)) == (4, 5)
        w1.runner.hold.clear()
        await asyncio.wait_for(asyncio.gather(*(j.result for j in [*jobs, late, again])), 30)
        assert [ids for _, ids in b.sent] == [(j.id,) for j in [*jobs, late, again]]


async def test_a_job_too_big_for_a_worker_goes_to_one_that_fits(engine: AsyncEngine, workers: WorkersConfig) -> None:
    async with (
        in_process_worker(workers, "small", max_pixels=512 * 512) as small,
        in_process_worker(workers, "big") as big,
        bot(engine, workers) as b,
    ):
        await wait_until(lambda: len(b.backend.lanes()) == 2, what="two workers")
        job = await b.submit(1)  # 832x1216
        await asyncio.wait_for(job.result, 30)
        assert b.sent == [("big", (job.id,))]
        assert big.runner.calls and not small.runner.calls


async def test_workers_lists_each_worker(engine: AsyncEngine, workers: WorkersConfig) -> None:
    async with in_process_worker(workers, "w1"), bot(engine, workers) as b:
        await wait_until(lambda: len(b.backend.workers()) == 1, what="the worker's hello")
        (status,) = b.backend.workers()
        assert (status.name, status.gpu, status.state) == ("w1", "scripted", "ready")
        job = await b.submit(1)
        await asyncio.wait_for(job.result, 30)
        await wait_until(lambda: b.backend.workers()[0].images_done == 1, what="the count")


async def test_a_remix_reaches_its_worker_with_its_source_image(engine: AsyncEngine, workers: WorkersConfig) -> None:
    source = b"\x89PNG a fitted source" * 100
    digest = "f" * 64
    async with in_process_worker(workers, "w1") as w1, bot(engine, workers) as b:
        ask = QuotaAsk(user_id=1, guild_id=10)
        remix = request(1, source=digest, strength=0.5)
        job = await b.service.submit(remix, place(1), quota=ask, source_png=source)
        await asyncio.wait_for(job.result, 30)
        assert w1.runner.sources == [{digest: source}]  # through the sources bucket, by digest
