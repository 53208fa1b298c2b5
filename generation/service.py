"""What the cogs call: accept a request (record it, queue it) and cancel it."""

from __future__ import annotations

import asyncio

from db.jobs import JobStore, Place
from generation.jobs import ActiveJob
from generation.queue import JobQueue
from generation.request import GenerationRequest
from generation.runner import GenerationResult
from generation.worker import GenerationWorker


class GenerationService:
    def __init__(self, store: JobStore, queue: JobQueue, worker: GenerationWorker) -> None:
        self._store = store
        self._queue = queue
        self._worker = worker

    async def submit(
        self,
        request: GenerationRequest,
        place: Place,
        *,
        interaction_id: int | None = None,
        interaction_token: str | None = None,
    ) -> ActiveJob:
        """Record the job, then queue it; the record exists before the member is told."""
        job_id = await self._store.create(
            request, place, interaction_id=interaction_id, interaction_token=interaction_token
        )
        future: asyncio.Future[GenerationResult] = asyncio.get_running_loop().create_future()
        job = ActiveJob(id=job_id, request=request, result=future)
        try:
            await self._queue.put(job)
        except Exception as exc:
            await self._store.mark_failed(job_id, f"not queued: {exc}")
            raise
        return job

    def ensure_room(self) -> None:
        """Raise QueueFull now, before the interaction is deferred, so the refusal is ephemeral."""
        self._queue.ensure_room()

    def position(self, job: ActiveJob) -> int | None:
        """1-based position in the queue; 0 while running; None when finished."""
        if self._worker.current is job:
            return 0
        return self._queue.position(job.id)
