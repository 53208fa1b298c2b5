"""The bot's side of the GPU workers: a ``jobs.backend.Backend`` whose lanes are worker slots.

The bot keeps the fair order: the service hands a batch to a worker only when that worker has
a free slot, so no worker holds a backlog. A batch travels as one JetStream message on the
worker's own subject; the worker's step heartbeats (``in_progress``) keep it from being
delivered again while it runs, its results come back as events on a stream (and PNGs in the
object store), so a bot restart loses nothing. A worker that goes away (silent, or started
again) gets its batch taken back: the jobs return to their place in line, and after
``max_deliveries`` tries a job fails with a refund.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Coroutine, Sequence
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from cluster import connection, orders, outcomes
from cluster.assignment import Assignment
from cluster.fleet import Fleet, WorkerLane
from cluster.orders import RETRY_S
from cluster.recovery import Streams, recover
from cluster.wire import TERMINAL, Control, Event, Hello, Names, StepReport, WorkOrder
from core.config import WorkersConfig
from core.errors import JobRequeued
from jobs.backend import BackendEvents, Lane, Recovery, WorkerStatus
from jobs.model import ActiveJob, Progress, StopReason

log = logging.getLogger(__name__)


class NatsBackend:
    def __init__(self, config: WorkersConfig, *, model: str) -> None:
        self._config = config
        self._names = Names(config.namespace)
        self._fleet = Fleet(lambda lane, batch: self.run_on(lane, batch), model, config.worker_timeout_s)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._results: ObjectStore | None = None
        self._sources: ObjectStore | None = None
        self._events: BackendEvents | None = None
        self._assignments: dict[str, Assignment] = {}
        self._tries: dict[int, int] = {}  # job id -> tries that ended with the worker gone
        self._tasks: set[asyncio.Task[None]] = set()
        # Events are consumed once recovery has registered the batches still running (or once
        # dispatching starts, when there was nothing to recover).
        self._recovered = asyncio.Event()
        self._events_sub: JetStreamContext.PullSubscription | None = None

    # --- connection ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and create the streams (before ``recover``); raises ConfigError if NATS is
        not there."""
        self._nc = await connection.connect(self._config, "animagine-bot")
        self._js = self._nc.jetstream()
        self._results = await connection.ensure_streams(self._js, self._names)
        self._sources = await connection.sources_bucket(self._js, self._names)
        self._events_sub = await connection.bind(
            self._js, self._names.events_stream, connection.events_consumer(self._names)
        )
        await self._nc.subscribe(self._names.hello(), cb=self._on_hello)
        await self._nc.subscribe(self._names.progress(), cb=self._on_progress)
        advisory = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self._names.work_stream}.*"
        await self._nc.subscribe(advisory, cb=self._on_max_deliveries)

    @property
    def _js_(self) -> JetStreamContext:
        assert self._js is not None, "connect() first"
        return self._js

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- Backend ------------------------------------------------------------------------

    def start(self, events: BackendEvents) -> None:
        self._events = events
        self._spawn(self._consume_events(), "nats-events")
        self._spawn(self._watch_workers(), "nats-watchdog")

    async def ready(self) -> None:
        self._recovered.set()  # jobs wait in line until a worker is there

    def lanes(self) -> Sequence[Lane]:
        return self._fleet.lanes()

    def workers(self) -> list[WorkerStatus]:
        return self._fleet.workers()

    @property
    def _reported(self) -> BackendEvents:
        assert self._events is not None, "start() first"
        return self._events

    async def run_on(self, lane: WorkerLane, batch: Sequence[ActiveJob]) -> None:
        """Send a batch to a worker and wait until each job's outcome is reported (or the batch
        comes back because the worker went away)."""
        jobs = [job for job in batch if not job.result.done()]
        recovered = self._recovered_assignment(lane, batch)
        if not jobs:
            if recovered is not None:
                self._assignments.pop(recovered.id, None)
            return
        if recovered is not None:  # still running there from before a bot restart
            try:
                await recovered.done.wait()
            finally:
                self._assignments.pop(recovered.id, None)
            return
        assignment = Assignment(f"{jobs[0].id}-{uuid.uuid4().hex[:10]}", lane, {job.id: job for job in jobs})
        self._assignments[assignment.id] = assignment
        order = WorkOrder(assignment.id, tuple((job.id, job.request) for job in jobs))
        try:
            await orders.put_sources(self._sources, jobs)
            await self._publish_order(assignment, order)
            log.info("job(s) %s sent to worker %s", list(assignment.jobs), lane.name)
            await assignment.done.wait()
        finally:
            self._assignments.pop(assignment.id, None)

    def _recovered_assignment(self, lane: WorkerLane, jobs: Sequence[ActiveJob]) -> Assignment | None:
        ids = {job.id for job in jobs}
        return next((a for a in self._assignments.values() if a.lane is lane and ids <= set(a.jobs)), None)

    async def _publish_order(self, assignment: Assignment, order: WorkOrder) -> None:
        # A method of its own: bench/workers.py wraps it to time each dispatch.
        await orders.publish(self._js_, self._names, assignment, order)

    def cancel(self, job: ActiveJob, reason: StopReason) -> None:
        job.stop(reason)
        assignment = self._assignment_of(job.id)
        if assignment is None:
            return
        if reason is StopReason.SHUTDOWN:
            # The worker goes on: the next start of the bot finds the result (or the job still
            # running) and delivers it. Only the member's status message is let go of here.
            if not job.result.done():
                job.result.set_exception(JobRequeued())
            return
        self._spawn(self._cancel_remote(assignment, job), f"cancel-{job.id}")

    async def _cancel_remote(self, assignment: Assignment, job: ActiveJob) -> None:
        not_started = not any(j.started for j in assignment.jobs.values())
        all_cancelled = all(j.cancel_flag.is_set() for j in assignment.open_jobs())
        # Sent but not started: take the message back so the worker never runs it.
        if not_started and all_cancelled and assignment.seq is not None and await self._delete_order(assignment):
            for other in assignment.open_jobs():
                await self._finish(assignment, other, "stopped")
        # (also after a delete: the worker may have fetched it a moment before)
        with contextlib.suppress(Exception):  # not connected: the job ends when its worker goes
            await self._nc_publish(self._names.control(assignment.lane.name), Control(cancel=(job.id,)).encode())

    async def _nc_publish(self, subject: str, payload: bytes) -> None:
        assert self._nc is not None
        await self._nc.publish(subject, payload)

    async def _delete_order(self, assignment: Assignment) -> bool:
        return await orders.delete(self._js_, self._names, assignment)

    def _assignment_of(self, job_id: int) -> Assignment | None:
        return next((a for a in self._assignments.values() if job_id in a.jobs and job_id not in a.finished), None)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # --- what workers report --------------------------------------------------------------

    async def _finish(
        self, assignment: Assignment, job: ActiveJob, kind: str, event: Event | None = None, *, lost_ok: bool = False
    ) -> bool:
        """Report one job's end to the service (``outcomes.finish``); recovery reports through it too."""
        return await outcomes.finish(
            self._reported, self._results, self._tries, assignment, job, kind, event, lost_ok=lost_ok
        )

    async def _consume_events(self) -> None:
        assert self._events_sub is not None
        await self._recovered.wait()
        while True:
            try:
                messages = await self._events_sub.fetch(batch=32, timeout=1.0)
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # (reconnecting: keep asking)
                log.debug("events: %s", exc)
                await asyncio.sleep(RETRY_S)
                continue
            for message in messages:
                try:
                    await self._on_event(message)
                except Exception:
                    log.exception("could not handle the event on %s", message.subject)
                with contextlib.suppress(Exception):
                    await message.ack()

    async def _on_event(self, message: Msg) -> None:
        worker = self._names.worker_of(message.subject)
        event = Event.decode(message.data)
        self._fleet.heard(worker)
        assignment = self._assignments.get(event.assignment)
        job = assignment.jobs.get(event.job_id) if assignment is not None else None
        if assignment is None or job is None or assignment.lane.name != worker:
            log.warning(
                "ignored a %s report from worker %s for job %s: not a job it was given",
                event.kind,
                worker,
                event.job_id,
            )
            return
        assignment.heard()
        if event.kind == "started":
            if not job.started and not job.result.done():
                await self._reported.started([job])
        elif event.kind in TERMINAL:
            await self._finish(assignment, job, event.kind, event)

    async def _on_progress(self, message: Msg) -> None:
        worker = self._names.worker_of(message.subject)
        self._fleet.heard(worker)
        try:
            report = StepReport.decode(message.data)
        except (ValueError, TypeError, KeyError):
            return
        assignment = self._assignments.get(report.assignment)
        if assignment is None or assignment.lane.name != worker:
            return
        assignment.heard()
        wanted = []
        for job_id in report.job_ids:
            job = assignment.jobs.get(job_id)
            if job is None:
                continue
            self._reported.progress(job, Progress(report.step, report.total))
            if report.preview is not None:
                self._reported.preview(job, report.preview)
            if job.preview_wanted.is_set():
                job.preview_wanted.clear()
                wanted.append(job_id)
        if wanted:
            with contextlib.suppress(Exception):
                await self._nc_publish(self._names.control(worker), Control(preview=tuple(wanted)).encode())

    async def _on_hello(self, message: Msg) -> None:
        try:
            hello = Hello.decode(message.data)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignored a malformed hello on %s: %s", message.subject, exc)
            return
        if hello.name != self._names.worker_of(message.subject):
            return
        changed, restarted = self._fleet.hello(hello)
        if restarted:
            log.warning("worker %s started again: its unfinished job(s) go back in line", hello.name)
            await self._take_back(self._of_lane(self._fleet.lane(hello.name)))
        if changed:
            self._reported.lanes_changed()

    async def _on_max_deliveries(self, message: Msg) -> None:
        """JetStream gave up on a work message (its worker hung or crashed each time)."""
        seq = json.loads(message.data).get("stream_seq")
        for assignment in list(self._assignments.values()):
            if assignment.seq == seq:
                log.error(
                    "job(s) %s: delivered %d times without an answer",
                    list(assignment.jobs),
                    self._config.max_deliveries,
                )
                await self._delete_order(assignment)
                for job in assignment.open_jobs():
                    await outcomes.fail_tries(self._reported, assignment, job, self._config.max_deliveries)

    async def _watch_workers(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._config.worker_timeout_s / 4))
            try:
                await self._watch_once()
            except Exception:  # the watch must go on (e.g. the database was away for a moment)
                log.exception("error while watching the workers")

    async def _watch_once(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            # Silence while the bot itself is cut off says nothing about the workers: their
            # clocks start again when it is back.
            self._fleet.heard_all()
            for assignment in self._assignments.values():
                assignment.heard()
            return
        gone: list[WorkerLane] = []
        self._fleet.expire(gone.append)
        for lane in gone:
            await self._take_back(self._of_lane(lane))
            self._reported.lanes_changed()
        await self._take_back_stalled()

    def _of_lane(self, lane: WorkerLane) -> list[Assignment]:
        return [a for a in self._assignments.values() if a.lane is lane]

    async def _take_back_stalled(self) -> None:
        """A batch whose worker still says hello but has made no step for ``ack_wait_s`` (a hung
        GPU: the heartbeat comes from the step callback) is taken back like a lost worker's,
        and that worker gets nothing more until it says it is idle again."""
        limit = self._config.ack_wait_s
        for assignment in [a for a in self._assignments.values() if a.silent_for() > limit]:
            if assignment.done.is_set():  # finished; its run_on has not collected it yet
                continue
            log.error(
                "worker %s made no step on job(s) %s for %.0f s (a hung GPU?): taking them back",
                assignment.lane.name,
                list(assignment.jobs),
                assignment.silent_for(),
            )
            self._fleet.suspend(assignment.lane.name)
            await self._take_back([assignment])

    async def _take_back(self, assignments: Sequence[Assignment]) -> None:
        """The worker went away: its batch is taken back (its message deleted, so it does not
        run it when it returns) and its jobs go back in line, or fail after too many tries."""
        for assignment in assignments:
            try:
                await self._take_back_one(assignment)
            finally:
                assignment.done.set()

    async def _take_back_one(self, assignment: Assignment) -> None:
        await self._delete_order(assignment)
        back = []
        for job in assignment.open_jobs():
            tries = self._tries[job.id] = self._tries.get(job.id, 0) + 1
            if job.cancel_flag.is_set():
                await self._finish(assignment, job, "stopped")
            elif tries >= self._config.max_deliveries:
                await outcomes.fail_tries(self._reported, assignment, job, tries)
            else:
                assignment.finished.add(job.id)
                back.append(job)
        if back:
            await self._reported.returned(back)

    # --- after a bot restart ------------------------------------------------------------

    async def recover(self, jobs: Sequence[ActiveJob]) -> Recovery:
        assert self._events_sub is not None
        streams = Streams(
            self._js_, self._names, self._fleet, self._assignments, self._events_sub, self._on_event, self._finish
        )
        try:
            return await recover(streams, jobs)
        finally:
            self._recovered.set()
