"""Handing the backend's free lanes the queue's jobs: a batch at a time, in fair order, and just
in time (a job stays in line, cancellable, until a lane is free for it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from core.text import Message, t
from jobs.backend import Backend, Lane
from jobs.context import tag_jobs
from jobs.model import ActiveJob
from jobs.observer import JobObserver
from jobs.scheduler import FairScheduler

log = logging.getLogger(__name__)

# How a batch's job that ends in an unexpected error is reported (the service records it).
Failed = Callable[[ActiveJob, str, Message], Awaitable[None]]


class Dispatcher:
    """Takes batches from the queue for the backend's free lanes and runs each in its own task;
    knows which batch each busy lane runs."""

    def __init__(
        self,
        scheduler: FairScheduler,
        backend: Backend,
        failed: Failed,
        *,
        before_batch: Callable[[], Awaitable[None]] | None = None,
        observer: JobObserver | None = None,
    ) -> None:
        self._scheduler = scheduler
        self._backend = backend
        self._failed = failed
        self._before_batch = before_batch
        self._observer = observer
        self._batches: dict[Lane, tuple[ActiveJob, ...]] = {}  # what each busy lane runs
        self._runs: set[asyncio.Task[None]] = set()
        self._lane_freed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closing = False  # the bot is stopping: no new batch, nor a follower for one

    @property
    def running(self) -> tuple[ActiveJob, ...]:
        """The jobs of the batches the backend is running now."""
        return tuple(job for batch in self._batches.values() for job in batch)

    def start(self) -> None:
        self._task = asyncio.create_task(self._dispatch(), name="job-dispatcher")

    def tasks(self) -> list[asyncio.Task[None]]:
        """The batches' tasks and the dispatcher's own (for closing)."""
        return [*self._runs, *([self._task] if self._task is not None else [])]

    def lanes_changed(self) -> None:
        self._lane_freed.set()

    def drop(self, job: ActiveJob) -> None:
        """The job left its lane's batch (its worker went away); the rest of the batch runs on."""
        for lane, batch in list(self._batches.items()):
            if job in batch:
                self._batches[lane] = tuple(other for other in batch if other is not job)

    async def _dispatch(self) -> None:
        await self._backend.ready()
        while True:
            if self._before_batch is not None:
                await self._before_batch()
            await self._scheduler.wait_for_jobs()
            if self.closing:  # the bot is stopping: what is queued stays queued in the database
                return
            try:
                picked = self._pick()
            except Exception:  # a backend that misreports a lane must not stop all dispatching
                log.exception("could not pick the next batch")
                picked = None
            if picked is None:  # no free lane, or none that fits the jobs in line
                await self._wait_for_change()
                continue
            lane, batch = picked
            self.launch(lane, batch)

    def _pick(self) -> tuple[Lane, list[ActiveJob]] | None:
        """A free lane and the first jobs in line that it can run, or None (the dispatcher then
        waits for a lane to free up or a job to arrive). Clears the "something changed" flags
        before looking, so a change that comes after this look wakes the dispatcher."""
        self._lane_freed.clear()
        self._scheduler.arrived.clear()
        free = [lane for lane in self._backend.lanes() if lane not in self._batches]
        if not free:
            return None
        lead = self._scheduler.take_first(lambda job: any(lane.fits(job.request) for lane in free))
        if lead is None:
            return None
        lane = next(lane for lane in free if lane.fits(lead.request))
        return lane, [lead, *self._followers(lane, lead)]

    async def _wait_for_change(self) -> None:
        waits = {
            asyncio.ensure_future(self._lane_freed.wait()),
            asyncio.ensure_future(self._scheduler.arrived.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def launch(self, lane: Lane, batch: Sequence[ActiveJob]) -> None:
        """Run the batch on the lane, in a task of its own."""
        self._batches[lane] = tuple(batch)
        if self._observer is not None:
            self._observer.dispatched(batch)
        run = asyncio.create_task(self._run(lane, batch), name=f"batch-{batch[0].id}")
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)

    async def _run(self, lane: Lane, batch: Sequence[ActiveJob]) -> None:
        tag_jobs(batch)  # this task's log lines name the batch's jobs and members
        try:
            await lane.run(batch)
        except Exception:  # one batch's failure must not stop the others (or their bookkeeping)
            log.exception("job(s) %s: unexpected error", [j.id for j in batch])
            for one in batch:
                if not one.result.done() and one in self._batches.get(lane, ()):
                    await self._failed(one, "unexpected error (logged)", t("Something went wrong while generating."))
        finally:
            self._batches.pop(lane, None)
            self._lane_freed.set()

    def _followers(self, lane: Lane, lead: ActiveJob) -> list[ActiveJob]:
        """The next jobs in line that can share the lead's batch (never one that would run later
        than a job left waiting)."""
        if lane.max_batch <= 1 or self.closing:
            return []
        key = lane.batch_key(lead.request)
        if key is None:
            return []
        room = lane.max_batch - lead.request.count
        return self._scheduler.take_following(
            lambda job: lane.fits(job.request) and lane.batch_key(job.request) == key, room
        )
