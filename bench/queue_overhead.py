"""Bot-side cost of a job: ``python -m bench.queue_overhead [--jobs 10000 --users 1000]``.

Prints JSON with two parts:
- ``scheduler``: the fair scheduler alone with ``--jobs`` queued from ``--users`` members:
  claim+put, position and take (get) per operation.
- ``accept_to_worker``: the real path a request takes after Discord's interaction arrives and
  before the GPU sees it (moderation gate, quota reservation and job record in one SQLite
  transaction, fair queue, then taken by the worker), measured with the queue already holding
  ``--jobs`` jobs. Discord's own network time is not included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stats import percentile
from core.config import QuotaConfig
from db.audit import AuditLog
from db.engine import create_engine, create_sessionmaker
from db.jobs import JobStore
from db.migrate import upgrade_to_head
from db.policies import PolicyStore
from db.quotas import QuotaStore
from jobs.backend import Backend
from jobs.model import ActiveJob, Place
from jobs.scheduler import FairScheduler
from jobs.service import GenerationService
from moderation.content import ContentFilter
from moderation.gate import RequestGate, Where
from moderation.policy import PolicySettings, effective_rules
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import build_request
from prompt.tags import TagDatabase
from quota.policy import QuotaAsk

GUILD, CHANNEL = 1, 2


def _ms(values: list[float]) -> dict[str, float | int]:
    def pct(q: float) -> float:
        return round(percentile(values, q) * 1000, 4)

    return {
        "n": len(values),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "mean_ms": round(statistics.fmean(values) * 1000, 4),
    }


async def _scheduler_part(jobs: int, users: int, rng: random.Random) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rules = effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
    requests = {
        u: build_request(
            ImagineOptions(prompt="1girl"),
            limits=PromptLimits(),
            user_id=u,
            guild_id=GUILD,
            channel_id=CHANNEL,
            rules=rules,
        )
        for u in range(1, users + 1)
    }
    scheduler = FairScheduler(max_size=jobs * 2)
    put: list[float] = []
    for job_id in range(1, jobs + 1):
        user = rng.randint(1, users)
        started = time.perf_counter()
        slot = scheduler.claim(user)
        scheduler.put(ActiveJob(job_id, requests[user], loop.create_future()), slot)
        put.append(time.perf_counter() - started)
    position: list[float] = []
    for _ in range(2000):
        job_id = rng.randint(1, jobs)
        started = time.perf_counter()
        scheduler.position(job_id)
        position.append(time.perf_counter() - started)
    take: list[float] = []
    for _ in range(jobs):
        started = time.perf_counter()
        await scheduler.get()
        take.append(time.perf_counter() - started)
    return {"claim_put": _ms(put), "position": _ms(position), "take": _ms(take)}


ACCEPT_PROMPTS = (
    "1girl, long hair, smile, outdoors",
    "2boys, (black jacket:1.2), city, night",
    "1girl, hatsune miku, vocaloid, [twintails], BREAK, stage",
)


async def _accept_path(engine: AsyncEngine, capacity: int) -> tuple[RequestGate, GenerationService, FairScheduler]:
    """The real accept path on a fresh database: gate, service and the queue behind it."""
    await upgrade_to_head(engine)
    sessions = create_sessionmaker(engine)
    quotas = QuotaStore(sessions, QuotaConfig(daily_images=0, max_active=0, cooldown_s=0))
    store = JobStore(sessions, quotas)
    tags = await asyncio.to_thread(TagDatabase.load)
    content = await asyncio.to_thread(ContentFilter.load, tags)
    audit = AuditLog(sessions)
    gate = RequestGate(policies=PolicyStore(sessions), audit=audit, content=content, tags=tags, limits=PromptLimits())
    scheduler = FairScheduler(max_size=capacity)
    # Never started: only the accept path (gate, quota, job record, queue) is measured.
    service = GenerationService(store, scheduler, cast(Backend, object()))
    return gate, service, scheduler


async def _accept(gate: RequestGate, service: GenerationService, user: int, rng: random.Random) -> ActiveJob:
    where = Where(user_id=user, guild_id=GUILD, channel_id=CHANNEL, parent_id=None, age_restricted=False)
    options = ImagineOptions(prompt=rng.choice(ACCEPT_PROMPTS), steps=28)
    service.ensure_room()
    admission = await gate.check(options, where)
    place = Place(user, f"u{user}", GUILD, "g", CHANNEL, False)
    job = await service.submit(admission.request, place, quota=QuotaAsk(user, GUILD))
    await gate.record_allowed(where, admission, job.id)
    return job


async def _measure_accept(
    gate: RequestGate,
    service: GenerationService,
    scheduler: FairScheduler,
    measured: int,
    users: int,
    rng: random.Random,
) -> tuple[list[float], list[float]]:
    """Seconds to accept each measured request, and for the worker to take the next job."""
    accepted: list[float] = []
    handed: list[float] = []
    for _ in range(measured):
        started = time.perf_counter()
        await _accept(gate, service, rng.randint(1, users), rng)
        accepted.append(time.perf_counter() - started)
        started = time.perf_counter()
        await scheduler.get()  # the worker taking the next job
        handed.append(time.perf_counter() - started)
    return accepted, handed


async def _accept_part(jobs: int, users: int, measured: int, rng: random.Random) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            gate, service, scheduler = await _accept_path(engine, capacity=jobs + measured + 10)
            fill_started = time.perf_counter()
            for _ in range(jobs):
                await _accept(gate, service, rng.randint(1, users), rng)
            fill_s = time.perf_counter() - fill_started
            accepted, handed = await _measure_accept(gate, service, scheduler, measured, users, rng)
            total = [a + h for a, h in zip(accepted, handed, strict=True)]
            return {
                "queued_before": jobs,
                "fill_seconds": round(fill_s, 2),
                "accept": _ms(accepted),
                "handed_to_worker": _ms(handed),
                "accept_to_worker": _ms(total),
            }
        finally:
            await engine.dispose()


async def main(jobs: int, users: int, measured: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    return {
        "benchmark": "queue_overhead",
        "database": "sqlite (temporary file)",
        "jobs": jobs,
        "users": users,
        "scheduler": await _scheduler_part(jobs, users, rng),
        "accept_to_worker": await _accept_part(jobs, users, measured, rng),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--measured", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.jobs, args.users, args.measured, args.seed)), indent=2))
