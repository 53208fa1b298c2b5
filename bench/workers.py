"""GPU worker processes over NATS JetStream: throughput with one and with two workers, and the
bot's dispatch overhead with a long queue. Prints JSON.

    python -m bench.workers [--images 16] [--size 1024] [--steps 28] [--queued 1000]

- ``throughput``: the real ``python bot.py worker`` processes on the tiny random-weight model
  (one torch thread each), fed by the bot's service and NATS backend; images per minute with
  one worker and then with two, in the same run, and their ratio.
- ``dispatch``: ``queued`` jobs waiting, two workers (their code in this process, answering at
  once); per job, the time from a worker's slot coming free to the next batch stored in
  JetStream for it: what the bot itself adds to each job (p50/p99 in ms).

Needs a NATS server with JetStream at ``--nats`` (scripts/nats.sh starts one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import percentile
from db.engine import create_engine
from db.migrate import upgrade_to_head
from jobs.model import ActiveJob
from tests.cluster.support import (
    ScriptedRunner,
    bot,
    in_process_worker,
    new_namespace,
    wait_until,
    worker_process,
    workers_config,
    write_worker_config,
)
from tests.support.tiny_sdxl import save_tiny_sdxl


async def _engine(folder: Path) -> Any:
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await upgrade_to_head(engine)
    return engine


async def _throughput(folder: Path, model: Path, url: str, workers: int, images: int, size: int, steps: int) -> float:
    """Images per minute with ``workers`` worker processes (batches of one: the tiny model gains
    nothing from batching on a CPU, and one image per batch measures the workers, not batching)."""
    config = workers_config(url, new_namespace(), worker_timeout_s=30.0)
    run = folder / f"run-{workers}"
    run.mkdir()
    engine = await _engine(run)
    names = [f"bench-{i}" for i in range(workers)]
    processes = [
        worker_process(write_worker_config(run, name, model, config, max_batch=1), run / f"{name}.log")
        for name in names
    ]
    try:
        async with bot(engine, config, start=False) as b:
            jobs = [await b.submit(i % 4 + 1, seed=i, steps=steps, width=size, height=size) for i in range(images)]
            for process in processes:
                await process.start()
            await wait_until(lambda: len(b.backend.lanes()) == workers, timeout=300, what="the workers")
            started = time.perf_counter()
            b.service.start()
            await asyncio.gather(*(job.result for job in jobs))
            elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            await process.stop()
        await engine.dispose()
    return images / elapsed * 60


async def _dispatch(folder: Path, url: str, queued: int) -> dict[str, Any]:
    config = workers_config(url, new_namespace(), worker_timeout_s=30.0)
    engine = await _engine(folder)
    freed: dict[str, float] = {}
    overheads: list[float] = []
    try:
        async with bot(engine, config, start=False) as b:
            jobs = [await b.submit(i % 50 + 1, seed=i, steps=1) for i in range(queued)]
            backend = b.backend
            run_on, publish = backend.run_on, backend._publish_order

            async def timed_run_on(lane: Any, batch: Sequence[ActiveJob]) -> None:
                try:
                    await run_on(lane, batch)
                finally:
                    freed[lane.name] = time.perf_counter()

            async def timed_publish(assignment: Any, order: Any) -> None:
                await publish(assignment, order)
                since = freed.get(assignment.lane.name)
                if since is not None:
                    overheads.append(time.perf_counter() - since)

            backend.run_on = timed_run_on  # type: ignore[method-assign]
            backend._publish_order = timed_publish  # type: ignore[method-assign]
            fast = [ScriptedRunner(step_s=0.0), ScriptedRunner(step_s=0.0)]
            async with in_process_worker(config, "w1", runner=fast[0]), in_process_worker(config, "w2", runner=fast[1]):
                await wait_until(lambda: len(backend.lanes()) == 2, what="the workers")
                b.service.start()
                await asyncio.gather(*(job.result for job in jobs))
    finally:
        await engine.dispose()
    return {
        "queued": queued,
        "workers": 2,
        "n": len(overheads),
        "p50_ms": round(percentile(overheads, 0.5) * 1000, 2),
        "p99_ms": round(percentile(overheads, 0.99) * 1000, 2),
        "max_ms": round(max(overheads) * 1000, 2),
    }


async def main(*, images: int, size: int, steps: int, queued: int, nats: str) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one torch thread per worker process
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = await asyncio.to_thread(save_tiny_sdxl, folder / "fast-sdxl", attention=False)
        one = await _throughput(folder, model, nats, 1, images, size, steps)
        two = await _throughput(folder, model, nats, 2, images, size, steps)
        (folder / "dispatch").mkdir()
        dispatch = await _dispatch(folder / "dispatch", nats, queued)
    return {
        "machine": f"{os.cpu_count()} CPU cores, no GPU",
        "model": "tiny random-weight SDXL (no attention), one torch thread per worker",
        "throughput": {
            "images": images,
            "size": f"{size}x{size}",
            "steps": steps,
            "one_worker_images_per_minute": round(one, 1),
            "two_workers_images_per_minute": round(two, 1),
            "two_vs_one": round(two / one, 2),
        },
        "dispatch_overhead": dispatch,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=28)  # Animagine's default
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    result = asyncio.run(main(images=args.images, size=args.size, steps=args.steps, queued=args.queued, nats=args.nats))
    print(json.dumps(result, indent=2))
