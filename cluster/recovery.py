"""After a bot restart: what the GPU workers still run, and what they finished meanwhile.

The work stream holds every batch not yet acknowledged by its worker (acknowledged only after
its results were published), and the events stream every job's last report (read here by
subject, not through the bot's consumer, whose last pull may have taken events to a bot that
was stopping), so between the two nothing that was sent is lost and nothing finished runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from cluster.assignment import Assignment
from cluster.fleet import Fleet
from cluster.wire import TERMINAL, Event, Names, WorkOrder
from jobs.backend import Lane, Recovery
from jobs.model import ActiveJob

log = logging.getLogger(__name__)

DRAIN_WAIT_S = 0.5


@dataclass(frozen=True, slots=True)
class Streams:
    """What recovery reads, and how it reports (the backend's own pieces)."""

    js: JetStreamContext
    names: Names
    fleet: Fleet
    assignments: dict[str, Assignment]
    events: JetStreamContext.PullSubscription
    on_event: Callable[[Msg], Awaitable[None]]
    finish: Callable[..., Awaitable[bool]]


async def recover(streams: Streams, jobs: Sequence[ActiveJob]) -> Recovery:
    """Adopt the batches still in the work stream, settle the jobs whose last report is final,
    and handle the events waiting for the bot; returns what is settled and what still runs."""
    by_id = {job.id: job for job in jobs}
    adopted = await _adopt_sent(streams, by_id)
    held = {job_id for assignment in adopted for job_id in assignment.jobs}
    settled = {job.id for job in jobs if job.id not in held and await _settle(streams, job)}
    await _drain_events(streams)
    running: list[tuple[Lane, tuple[ActiveJob, ...]]] = []
    for assignment in adopted:
        settled |= assignment.finished
        if assignment.open_jobs():
            running.append((assignment.lane, tuple(assignment.open_jobs())))
        else:
            streams.assignments.pop(assignment.id, None)
    return Recovery(settled=frozenset(settled), running=tuple(running))


async def _adopt_sent(streams: Streams, by_id: dict[int, ActiveJob]) -> list[Assignment]:
    js, names = streams.js, streams.names
    adopted = []
    info = await js.stream_info(names.work_stream, subjects_filter=">")
    for subject in sorted((info.state.subjects or {}).keys()):
        try:
            raw = await js.get_last_msg(names.work_stream, subject)
        except NotFoundError:
            continue
        order = WorkOrder.decode(raw.data or b"")
        mine = {job_id: by_id[job_id] for job_id, _ in order.jobs if job_id in by_id}
        if not mine:  # its jobs are finished (or gone): nobody should run it
            await js.delete_msg(names.work_stream, raw.seq or 0)
            continue
        lane = streams.fleet.lane(names.worker_of(subject))
        assignment = Assignment(order.assignment, lane, mine, seq=raw.seq)
        streams.assignments[assignment.id] = assignment
        adopted.append(assignment)
        log.info("job(s) %s are still with worker %s", list(mine), lane.name)
    return adopted


async def _settle(streams: Streams, job: ActiveJob) -> bool:
    """Report the job's final event, if a worker published one; False: it runs (again)."""
    js, names = streams.js, streams.names
    info = await js.stream_info(names.events_stream, subjects_filter=names.events("*", job.id))
    for subject in info.state.subjects or {}:
        try:
            raw = await js.get_last_msg(names.events_stream, subject)
        except NotFoundError:
            continue
        try:
            event = Event.decode(raw.data or b"")
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignored a malformed event on %s: %s", subject, exc)
            continue
        if event.kind not in TERMINAL:
            continue
        assignment = Assignment(event.assignment, streams.fleet.lane(names.worker_of(subject)), {job.id: job})
        if await streams.finish(assignment, job, event.kind, event, lost_ok=True):
            log.info("job %s finished on worker %s while the bot was away", job.id, assignment.lane.name)
            return True
    return False


async def _drain_events(streams: Streams) -> None:
    """Handle the events waiting in the bot's consumer (those of adopted batches count; the
    others were settled above or belong to jobs already finished)."""
    while True:
        try:
            messages = await streams.events.fetch(batch=64, timeout=DRAIN_WAIT_S)
        except TimeoutError:
            return
        for message in messages:
            try:
                await streams.on_event(message)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("ignored a malformed event on %s: %s", message.subject, exc)
            await message.ack()
