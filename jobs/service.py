"""What the cogs call: accept a request (charge the quota, record it, queue it), follow it,
cancel it, and pick up the jobs a previous run left unfinished."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from dataclasses import dataclass

from core.errors import JobCancelled, UserFacingError
from jobs.backend import Backend
from jobs.model import ActiveJob, GenerationResult, JobRecord, JobStatus, Place, StopReason, UnfinishedJob
from jobs.scheduler import NORMAL, FairScheduler
from jobs.store import JobStore
from prompt.request import GenerationRequest
from quota.policy import QuotaAsk

log = logging.getLogger(__name__)

RECENT_JOBS = 20  # how many recent job times the wait estimate averages


class NotYourJob(UserFacingError):
    """Someone else's job: only its member or a moderator may cancel it."""


class CancelOutcome(enum.Enum):
    REMOVED = "removed"  # taken out of the queue
    STOPPING = "stopping"  # running: stops at the next step
    NOT_FOUND = "not_found"  # already finished, or never existed


@dataclass(frozen=True, slots=True)
class Restored:
    """A job picked up from the database at start-up, with what delivering it needs."""

    job: ActiveJob
    record: UnfinishedJob


class GenerationService:
    def __init__(self, store: JobStore, scheduler: FairScheduler, worker: Backend) -> None:
        self._store = store
        self._scheduler = scheduler
        self._worker = worker
        self._recent: deque[float] = deque(maxlen=RECENT_JOBS)

    def _new_job(self, job_id: int, request: GenerationRequest) -> ActiveJob:
        future: asyncio.Future[GenerationResult] = asyncio.get_running_loop().create_future()
        return ActiveJob(id=job_id, request=request, result=future)

    def ensure_room(self) -> None:
        """Raise QueueFull (or NotAccepting) now, before the interaction is deferred."""
        self._scheduler.ensure_room()

    async def submit(
        self,
        request: GenerationRequest,
        place: Place,
        *,
        quota: QuotaAsk | None = None,
        priority: int = NORMAL,
        interaction_id: int | None = None,
        interaction_token: str | None = None,
    ) -> ActiveJob:
        """Charge the quota and record the job in one transaction, then queue it: the record
        exists before the member is told. QuotaRefused leaves no trace."""
        self._scheduler.ensure_room()
        slot = self._scheduler.claim(request.user_id, priority)
        try:
            job_id = await self._store.create(
                request,
                place,
                interaction_id=interaction_id,
                interaction_token=interaction_token,
                quota=quota,
                slot=slot,
            )
        except BaseException:
            self._scheduler.release(request.user_id, slot)
            raise
        job = self._new_job(job_id, request)
        self._scheduler.put(job, slot)
        log.info("job %s queued for user %s at #%s", job_id, request.user_id, self._scheduler.position(job_id))
        return job

    async def restore(self) -> list[Restored]:
        """Queue again what the last run left queued or running, in its order (running first)."""
        restored = []
        for record in await self._store.unfinished():
            if record.status is JobStatus.RUNNING:
                await self._store.requeue(record.id)
            job = self._new_job(record.id, record.request)
            self._scheduler.restore(job, record.slot)
            restored.append(Restored(job, record))
        return restored

    def position(self, job: ActiveJob) -> int | None:
        """1-based position in the queue; 0 while running; None when finished."""
        if job in self._worker.running:
            return 0
        return self._scheduler.position(job.id)

    def estimated_wait(self, job: ActiveJob) -> float | None:
        """Seconds until the job starts, from recent job times; None before any job finished."""
        position = self.position(job)
        if not self._recent or position is None or position == 0:
            return None
        average = sum(self._recent) / len(self._recent)
        current = self._worker.current
        running_left = 0.0
        if current is not None and current.started_at is not None:
            running_left = max(average - (time.monotonic() - current.started_at), 0.0)
        return running_left + average * (position - 1)

    def active_jobs(self, user_id: int) -> list[ActiveJob]:
        """The member's running job (if any), then their queued ones in order."""
        running = [job for job in self._worker.running if job.request.user_id == user_id]
        return [*running, *self._scheduler.jobs_of(user_id)]

    async def record(self, job_id: int) -> JobRecord | None:
        """A job as stored, finished or not (the result buttons rebuild requests from it)."""
        return await self._store.get(job_id)

    def find(self, job_id: int) -> ActiveJob | None:
        running = next((job for job in self._worker.running if job.id == job_id), None)
        return running if running is not None else self._scheduler.job(job_id)

    async def cancel(self, job_id: int) -> CancelOutcome:
        """Remove a queued job, or stop a running one at its next step; its images are refunded."""
        queued = self._scheduler.remove(job_id)
        if queued is not None:
            await self._store.mark_cancelled(job_id)
            if not queued.result.done():
                queued.result.set_exception(JobCancelled())
            return CancelOutcome.REMOVED
        current = next((job for job in self._worker.running if job.id == job_id), None)
        if current is not None and not current.result.done():
            # The worker records it and refunds; a batch stops once all its jobs are cancelled.
            current.stop(StopReason.CANCELLED)
            return CancelOutcome.STOPPING
        return CancelOutcome.NOT_FOUND

    async def cancel_as(self, job_id: int, user_id: int, *, moderator_in: int | None = None) -> CancelOutcome:
        """Cancel for a member: their own job, or any job of the guild they moderate."""
        job = self.find(job_id)
        if job is None:
            return CancelOutcome.NOT_FOUND
        is_moderator = moderator_in is not None and job.request.guild_id == moderator_in
        if job.request.user_id != user_id and not is_moderator:
            raise NotYourJob("Only the member who asked for this image, or a moderator, can cancel it.")
        return await self.cancel(job_id)

    async def complete(self, job: ActiveJob, *, withheld: str | None = None) -> None:
        """After delivery: the job is done (or, withheld by the output check, failed and refunded)."""
        result = job.result.result()
        self._recent.append(result.seconds)
        if withheld is not None:
            await self._store.finish(job.id, JobStatus.FAILED, error=withheld, seconds=result.seconds, refund=True)
        else:
            await self._store.finish(job.id, JobStatus.DONE, seconds=result.seconds)
