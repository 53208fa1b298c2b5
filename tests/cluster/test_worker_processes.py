"""Real GPU worker processes (`python bot.py worker` on the tiny model) with a real NATS server:
fair batches across two of them, and one killed with SIGKILL mid-job."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.wire import Event, Names
from core.config import WorkersConfig
from jobs.model import JobStatus
from tests.cluster.support import Bot, bot, wait_until, worker_process, write_worker_config
from tests.e2e.harness import BotProcess

SMALL = {"width": 512, "height": 512}


@contextlib.asynccontextmanager
async def worker_processes(
    folder: Path, model: Path, workers: WorkersConfig, names: tuple[str, ...], *, max_batch: int = 2
) -> AsyncIterator[dict[str, BotProcess]]:
    processes = {
        name: worker_process(
            write_worker_config(folder, name, model, workers, max_batch=max_batch), folder / f"{name}.log"
        )
        for name in names
    }
    for process in processes.values():
        await process.start()
    try:
        yield processes
    except BaseException:
        for name, process in processes.items():
            print(f"--- worker {name} ---\n{process.output()[-3000:]}")
        raise
    finally:
        for process in processes.values():
            await process.stop()


async def _ready(b: Bot, count: int) -> None:
    await wait_until(lambda: len(b.backend.lanes()) == count, timeout=120, what=f"{count} worker(s) ready")


async def _succeeded_events(b: Bot, job_id: int) -> int:
    js, names = b.backend._js_, Names(b.backend._names.namespace)
    info = await js.stream_info(names.events_stream, subjects_filter=names.events("*", job_id))
    count = 0
    for subject, n in (info.state.subjects or {}).items():
        if n:
            raw = await js.get_last_msg(names.events_stream, subject)
            count += Event.decode(raw.data or b"").kind == "succeeded"
    return count


async def test_two_worker_processes_share_the_fair_order_in_batches(
    engine: AsyncEngine, workers: WorkersConfig, fast_model_dir: Path, tmp_path: Path
) -> None:
    async with bot(engine, workers, daily=10, start=False) as b:
        alice = [await b.submit(1, seed=i, steps=3, **SMALL) for i in range(3)]
        bob = await b.submit(2, seed=7, steps=3, **SMALL)
        async with worker_processes(tmp_path, fast_model_dir, workers, ("w1", "w2")):
            await _ready(b, 2)
            b.service.start()
            jobs = [*alice, bob]
            results = await asyncio.wait_for(asyncio.gather(*(j.result for j in jobs)), 180)
            for job in jobs:
                await b.service.complete(job)
        assert [ids for _, ids in b.sent] == [(alice[0].id, bob.id), (alice[1].id, alice[2].id)]
        assert {name for name, _ in b.sent} == {"w1", "w2"}
        for job, result in zip(jobs, results, strict=True):
            image = Image.open(io.BytesIO(result.png))
            assert image.size == (512, 512) and result.images[0].seed == job.request.seed
            assert await b.status(job.id) is JobStatus.DONE


async def test_a_worker_killed_mid_job_loses_it_to_the_other(
    engine: AsyncEngine, workers: WorkersConfig, fast_model_dir: Path, tmp_path: Path
) -> None:
    async with (
        bot(engine, workers, daily=10) as b,
        worker_processes(tmp_path, fast_model_dir, workers, ("w1", "w2"), max_batch=1) as processes,
    ):
        await _ready(b, 2)
        job = await b.submit(1, steps=40, **SMALL)
        await wait_until(lambda: job.progress is not None and job.progress.step >= 2, timeout=120, what="steps")
        victim = b.sent[0][0]
        await processes[victim].stop(signal.SIGKILL)  # no goodbye, no ack
        result = await asyncio.wait_for(job.result, 180)
        await b.service.complete(job)
        survivor = next(name for name in processes if name != victim)
        assert b.sent == [(victim, (job.id,)), (survivor, (job.id,))]
        assert Image.open(io.BytesIO(result.png)).size == (512, 512)
        assert await b.status(job.id) is JobStatus.DONE and await b.used(1) == 1
        assert await _succeeded_events(b, job.id) == 1  # one image for the member
        # The killed worker comes back: it does not run the job again (its message was taken back).
        await processes[victim].start()
        await _ready(b, 2)
        await asyncio.sleep(2.0)
        assert await _succeeded_events(b, job.id) == 1
        assert "from the bot" not in processes[victim].output().split("worker " + victim + " ready")[-1]
