"""The dispatcher waits for ``before_batch`` (the bot's answers to a burst) before each batch."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import Any, cast

from jobs.backend import BackendEvents, Lane, Recovery
from jobs.model import ActiveJob, GenerationResult, StopReason
from jobs.scheduler import FairScheduler
from jobs.service import GenerationService
from jobs.store import JobStore
from prompt.request import GenerationRequest
from tests.support.requests import sample_request


class Backend:
    max_batch = 1

    def __init__(self) -> None:
        self.ran: list[int] = []

    def start(self, events: BackendEvents) -> None:
        self.events = events

    async def ready(self) -> None:
        return None

    def lanes(self) -> Sequence[Lane]:
        return (self,)

    def fits(self, request: GenerationRequest) -> bool:
        return True

    async def recover(self, jobs: Sequence[ActiveJob]) -> Recovery:
        return Recovery()

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        return None

    async def run(self, batch: Sequence[ActiveJob]) -> None:
        for job in batch:
            self.ran.append(job.id)
            await self.events.succeeded(job, GenerationResult(images=(), seconds=0.0))

    def cancel(self, job: ActiveJob, reason: StopReason) -> None:
        job.stop(reason)

    async def close(self) -> None:
        return None


async def test_no_batch_is_taken_while_before_batch_waits() -> None:
    quiet = asyncio.Event()

    async def until_quiet() -> None:
        await quiet.wait()

    backend = Backend()
    scheduler = FairScheduler(10)
    service = GenerationService(cast(JobStore, cast(Any, object())), scheduler, backend, before_batch=until_quiet)
    service.start()
    job = ActiveJob(id=1, request=sample_request(), result=asyncio.get_running_loop().create_future())
    scheduler.put(job, scheduler.claim(job.request.user_id))
    await asyncio.sleep(0.05)
    assert backend.ran == [] and service.position(job) == 1  # still in line, still cancellable
    quiet.set()
    await asyncio.wait_for(job.result, 1)
    assert backend.ran == [1]
    await service.close()
