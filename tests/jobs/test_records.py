"""The records the result buttons read: shared while being read, kept once finished."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from jobs.backend import Backend
from jobs.model import JobRecord, JobStatus
from jobs.scheduler import FairScheduler
from jobs.service import GenerationService
from jobs.store import JobStore
from tests.support.requests import sample_request


class CountingStore:
    def __init__(self, status: JobStatus) -> None:
        self.status = status
        self.reads = 0

    async def get(self, job_id: int) -> JobRecord | None:
        self.reads += 1
        await asyncio.sleep(0.01)  # a query in flight while the other clicks arrive
        now = datetime.now(UTC)
        return JobRecord(job_id, self.status, sample_request(), now, now, now, 1.0, None)


def _service(store: CountingStore) -> GenerationService:
    return GenerationService(cast(JobStore, cast(Any, store)), FairScheduler(10), cast(Backend, object()))


async def test_many_clicks_at_once_share_one_read_and_a_finished_record_is_kept() -> None:
    store = CountingStore(JobStatus.DONE)
    service = _service(store)
    records = await asyncio.gather(*(service.record(7) for _ in range(50)))
    assert store.reads == 1 and all(r is records[0] for r in records)
    assert (await service.record(7)) is records[0] and store.reads == 1


async def test_an_unfinished_record_is_read_again() -> None:
    store = CountingStore(JobStatus.RUNNING)
    service = _service(store)
    await service.record(7)
    await service.record(7)
    assert store.reads == 2
