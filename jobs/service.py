"""What the cogs call: accept a request (charge the quota, record it, queue it), follow it,
cancel it, and pick up the jobs a previous run left unfinished; and record what the backend
reports. Its ``jobs.dispatch.Dispatcher`` hands the queue to the backend."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.errors import GenerationFailed, JobCancelled, JobRequeued, NotYourJob
from core.text import Message, t
from jobs.backend import Backend
from jobs.context import tag_jobs
from jobs.dispatch import Dispatcher
from jobs.model import (
    ActiveJob,
    GenerationResult,
    JobRecord,
    JobStatus,
    Place,
    Progress,
    QueueSlot,
    StopReason,
    UnfinishedJob,
)
from jobs.observer import JobObserver, Outcome
from jobs.scheduler import NORMAL, FairScheduler
from jobs.store import JobStore
from prompt.request import GenerationRequest
from quota.policy import QuotaAsk

log = logging.getLogger(__name__)

RECENT_JOBS = 20  # how many recent job times the wait estimate averages
FINISHED_REMEMBERED = 512  # finished jobs' records kept for their result buttons
FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


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
    """Accepts, dispatches, follows and cancels jobs; the only code that records a job's status
    (and refunds it). Implements ``jobs.backend.BackendEvents`` for the backend it dispatches to."""

    def __init__(
        self,
        store: JobStore,
        scheduler: FairScheduler,
        backend: Backend,
        *,
        shutdown_grace_s: float = 60.0,
        before_batch: Callable[[], Awaitable[None]] | None = None,
        observer: JobObserver | None = None,
    ) -> None:
        """``before_batch``: awaited before each batch is taken from the queue (the bot lets a
        burst of answers go first: the pipeline's thread would compete with them). ``observer``:
        told what happens to each job (the bot's metrics)."""
        self._store = store
        self._observer = observer
        self._scheduler = scheduler
        self._backend = backend
        self._shutdown_grace_s = shutdown_grace_s
        self._recent: deque[float] = deque(maxlen=RECENT_JOBS)
        self._dispatcher = Dispatcher(scheduler, backend, self.failed, before_batch=before_batch, observer=observer)
        self._backend_started = False
        self._finished: OrderedDict[int, JobRecord] = OrderedDict()
        self._reading: dict[int, asyncio.Future[JobRecord | None]] = {}

    @property
    def running(self) -> tuple[ActiveJob, ...]:
        """The jobs of the batches the backend is running now."""
        return self._dispatcher.running

    # --- dispatching ----------------------------------------------------------------------

    def _start_backend(self) -> None:
        if not self._backend_started:
            self._backend_started = True
            self._backend.start(self)

    def start(self) -> None:
        """Start the backend and hand its free lanes the queue's jobs, a batch at a time, in fair
        order (just in time: a job stays in line, cancellable, until a lane is free for it)."""
        self._start_backend()
        self._dispatcher.start()

    # --- what the backend reports (BackendEvents) -------------------------------------------

    async def started(self, jobs: Sequence[ActiveJob]) -> None:
        for job in jobs:
            await self._store.mark_running(job.id)
            job.mark_started()
            if self._observer is not None:
                self._observer.started(job)

    def progress(self, job: ActiveJob, progress: Progress) -> None:
        job.report(progress)

    def preview(self, job: ActiveJob, jpeg: bytes) -> None:
        job.show_preview(jpeg)

    async def succeeded(self, job: ActiveJob, result: GenerationResult) -> None:
        # Marked done once delivered (complete()), so a crash in between runs it again.
        if not job.result.done():
            job.result.set_result(result)

    async def failed(self, job: ActiveJob, recorded: str, told: Message) -> None:
        try:
            await self._store.mark_failed(job.id, recorded)
        except Exception:  # e.g. the database is down: the job is run again at the next start
            log.exception("job %s: could not record the failure", job.id)
        if not job.result.done():
            job.result.set_exception(GenerationFailed(told))
            self._observe_end(job, Outcome.FAILED)

    async def stopped(self, job: ActiveJob) -> None:
        if job.stop_reason is StopReason.SHUTDOWN:
            await self._requeue(job)
            return
        await self._store.mark_cancelled(job.id)
        if not job.result.done():
            job.result.set_exception(JobCancelled())
            self._observe_end(job, Outcome.CANCELLED)

    def _observe_end(self, job: ActiveJob, outcome: Outcome, result: GenerationResult | None = None) -> None:
        if self._observer is not None:
            self._observer.finished(job, outcome, result)

    def queue_lengths(self) -> dict[int, int]:
        """Jobs waiting in line, per priority tier (NORMAL, PRIORITY), read by the metrics."""
        return self._scheduler.lengths()

    async def returned(self, jobs: Sequence[ActiveJob]) -> None:
        for job in jobs:
            self._dispatcher.drop(job)
            if job.result.done():
                continue
            try:
                await self._store.requeue(job.id)
            except Exception:  # it runs from the queue anyway; the record follows when it starts
                log.exception("job %s: could not record its return to the queue", job.id)
            job.back_in_line()
            self._scheduler.put_back(job)
            log.info("job %s is back in line at #%s", job.id, self._scheduler.position(job.id))

    def lanes_changed(self) -> None:
        self._dispatcher.lanes_changed()

    async def _requeue(self, job: ActiveJob) -> None:
        await self._store.requeue(job.id)
        if not job.result.done():
            job.result.set_exception(JobRequeued())

    async def close(self) -> None:
        """Stop taking jobs; the running ones stop at their next step and go back to the queue
        (as do the waiting ones, which the database already holds as queued). Idempotent."""
        self._scheduler.close()
        self._dispatcher.closing = True
        running = self.running
        for job in running:
            self._backend.cancel(job, StopReason.SHUTDOWN)
        if running:
            # Let the pipeline reach its next step and the backend report the jobs as stopped.
            await asyncio.wait({job.result for job in running}, timeout=self._shutdown_grace_s)
        tasks = self._dispatcher.tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in [*running, *self.running, *self._scheduler.drain()]:
            job.stop(StopReason.SHUTDOWN)
            if not job.result.done():
                await self._requeue(job)
        await self._backend.close()

    # --- accepting and following ------------------------------------------------------------

    def _new_job(self, job_id: int, request: GenerationRequest, source_png: bytes | None = None) -> ActiveJob:
        future: asyncio.Future[GenerationResult] = asyncio.get_running_loop().create_future()
        return ActiveJob(id=job_id, request=request, result=future, source_png=source_png)

    def ensure_room(self) -> None:
        """Raise QueueFull (or NotAccepting) now, before the interaction is deferred."""
        self._scheduler.ensure_room()

    def hold_seat(self, user_id: int, priority: int = NORMAL) -> QueueSlot:
        """A place in line, held while the request is decided: a full queue (or a stopping bot) is
        refused now, before anything is answered or read. ``submit`` takes it, or release it."""
        self._scheduler.ensure_room()
        return self._scheduler.claim(user_id, priority)

    def release_seat(self, user_id: int, slot: QueueSlot) -> None:
        self._scheduler.release(user_id, slot)

    async def submit(
        self,
        request: GenerationRequest,
        place: Place,
        *,
        quota: QuotaAsk | None = None,
        priority: int = NORMAL,
        interaction_id: int | None = None,
        interaction_token: str | None = None,
        slot: QueueSlot | None = None,
        source_png: bytes | None = None,
        private: bool = False,
        locale: str = "en-US",
    ) -> ActiveJob:
        """Charge the quota and record the job in one transaction, then queue it: the record
        exists before the member is told. QuotaRefused leaves no trace. ``slot``: a seat taken
        with ``hold_seat`` (released here if the job is not recorded). A remix brings its
        source image, kept with the job."""
        if (request.source is None) != (source_png is None):
            raise ValueError("a remix needs its source image, and only a remix has one")
        if slot is None:
            slot = self.hold_seat(request.user_id, priority)
        try:
            job_id = await self._store.create(
                request,
                place,
                interaction_id=interaction_id,
                interaction_token=interaction_token,
                quota=quota,
                slot=slot,
                source_png=source_png,
                private=private,
                locale=locale,
            )
        except BaseException:
            self._scheduler.release(request.user_id, slot)
            raise
        job = self._new_job(job_id, request, source_png)
        tag_jobs([job])
        self._scheduler.put(job, slot)
        if self._observer is not None:
            self._observer.queued(job)
        log.info("job %s queued for user %s at #%s", job_id, request.user_id, self._scheduler.position(job_id))
        return job

    async def restore(self) -> list[Restored]:
        """Queue again what the last run left queued or running, in its order (running first),
        except what the backend still runs or finished meanwhile (GPU workers outlive the bot)."""
        records = await self._store.unfinished()
        restored = [Restored(self._new_job(r.id, r.request, r.source_png), r) for r in records]
        for one in restored:
            self._scheduler.restore(one.job, one.record.slot)
        self._start_backend()
        recovery = await self._backend.recover([one.job for one in restored])
        taken = set(recovery.settled)
        for lane, batch in recovery.running:
            for job in batch:
                self._scheduler.remove(job.id)
                await self._store.mark_running(job.id)
                job.mark_started()
                taken.add(job.id)
            self._dispatcher.launch(lane, batch)
        for one in restored:
            if one.job.id in recovery.settled:
                self._scheduler.remove(one.job.id)
            elif one.job.id not in taken and one.record.status is JobStatus.RUNNING:
                await self._store.requeue(one.job.id)
        return restored

    def position(self, job: ActiveJob) -> int | None:
        """1-based position in the queue; 0 while running; None when finished."""
        if job in self.running:
            return 0
        return self._scheduler.position(job.id)

    def estimated_wait(self, job: ActiveJob) -> float | None:
        """Seconds until the job starts, from recent job times; None before any job finished."""
        position = self.position(job)
        if not self._recent or position is None or position == 0:
            return None
        average = sum(self._recent) / len(self._recent)
        # Several lanes (GPU workers) take jobs from the line side by side.
        lanes = max(len(self._backend.lanes()), 1)
        started = [job.started_at for job in self.running if job.started_at is not None]
        running_left = max(average - (time.monotonic() - min(started)), 0.0) if started else 0.0
        return running_left + average * (position - 1) / lanes

    def waiting(self) -> list[ActiveJob]:
        """The jobs in line (not yet running), in the order they will run."""
        return self._scheduler.queued()

    def active_jobs(self, user_id: int) -> list[ActiveJob]:
        """The member's running job (if any), then their queued ones in order."""
        running = [job for job in self.running if job.request.user_id == user_id]
        return [*running, *self._scheduler.jobs_of(user_id)]

    async def source(self, digest: str) -> bytes | None:
        """A remix's kept source image (for Re-roll), or None when it is gone."""
        return await self._store.load_source(digest)

    async def record(self, job_id: int) -> JobRecord | None:
        """A job as stored, finished or not (the result buttons rebuild requests from it).

        A popular result's buttons are clicked by many members at once: a finished job's record
        no longer changes, so it is kept (the last few hundred), and concurrent reads of one job
        share a single query."""
        known = self._finished.get(job_id)
        if known is not None:
            return known
        reading = self._reading.get(job_id)
        if reading is None:
            reading = asyncio.ensure_future(self._store.get(job_id))
            self._reading[job_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(job_id, None))
        record = await asyncio.shield(reading)
        if record is not None and record.status in FINISHED:
            self._finished[job_id] = record
            while len(self._finished) > FINISHED_REMEMBERED:
                self._finished.popitem(last=False)
        return record

    def find(self, job_id: int) -> ActiveJob | None:
        running = next((job for job in self.running if job.id == job_id), None)
        return running if running is not None else self._scheduler.job(job_id)

    async def cancel(self, job_id: int) -> CancelOutcome:
        """Remove a queued job, or stop a running one at its next step; its images are refunded."""
        queued = self._scheduler.remove(job_id)
        if queued is not None:
            await self._store.mark_cancelled(job_id)
            if not queued.result.done():
                queued.result.set_exception(JobCancelled())
                self._observe_end(queued, Outcome.CANCELLED)
            return CancelOutcome.REMOVED
        current = next((job for job in self.running if job.id == job_id), None)
        if current is not None and not current.result.done():
            # Reported as stopped, then recorded and refunded; a batch stops once all its jobs are.
            self._backend.cancel(current, StopReason.CANCELLED)
            return CancelOutcome.STOPPING
        return CancelOutcome.NOT_FOUND

    async def cancel_as(self, job_id: int, user_id: int, *, moderator_in: int | None = None) -> CancelOutcome:
        """Cancel for a member: their own job, or any job of the guild they moderate."""
        job = self.find(job_id)
        if job is None:
            return CancelOutcome.NOT_FOUND
        is_moderator = moderator_in is not None and job.request.guild_id == moderator_in
        if job.request.user_id != user_id and not is_moderator:
            raise NotYourJob(t("Only the member who asked for this image, or a moderator, can cancel it."))
        return await self.cancel(job_id)

    async def complete(self, job: ActiveJob, *, withheld: str | None = None) -> None:
        """After delivery: the job is done (or, withheld by the output check, failed and refunded)."""
        result = job.result.result()
        self._recent.append(result.seconds)
        if withheld is not None:
            await self._store.finish(job.id, JobStatus.FAILED, error=withheld, seconds=result.seconds, refund=True)
        else:
            await self._store.finish(job.id, JobStatus.DONE, seconds=result.seconds)
        self._observe_end(job, Outcome.DONE if withheld is None else Outcome.WITHHELD, result)
