"""After a bot restart: what the GPU workers still run, and what they finished meanwhile.

The work stream holds every batch not yet acknowledged by its worker (acknowledged only after
its results were published), and the events stream every result the bot has not consumed, so
between the two nothing that was sent is lost and nothing finished runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

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


OnEvent = Callable[[Msg], Awaitable[None]]
Finish = Callable[[Assignment, ActiveJob, str, Event], Awaitable[None]]


async def recover(
    js: JetStreamContext,
    names: Names,
    fleet: Fleet,
    assignments: dict[str, Assignment],
    events: JetStreamContext.PullSubscription,
    jobs: Sequence[ActiveJob],
    *,
    on_event: OnEvent,
    finish: Finish,
) -> Recovery:
    """Adopt the batches still in the work stream, then handle the events that came while the
    bot was away; returns what is settled and what still runs."""
    by_id = {job.id: job for job in jobs}
    adopted: list[Assignment] = []
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
        lane = fleet.lane(names.worker_of(subject))
        assignment = Assignment(order.assignment, lane, mine, seq=raw.seq)
        assignments[assignment.id] = assignment
        adopted.append(assignment)
        log.info("job(s) %s are still with worker %s", list(mine), lane.name)
    settled = await _drain_events(names, fleet, assignments, events, by_id, on_event, finish)
    running: list[tuple[Lane, tuple[ActiveJob, ...]]] = []
    for assignment in adopted:
        settled |= assignment.finished
        if assignment.open_jobs():
            running.append((assignment.lane, tuple(assignment.open_jobs())))
        else:
            assignments.pop(assignment.id, None)
    return Recovery(settled=frozenset(settled), running=tuple(running))


async def _drain_events(
    names: Names,
    fleet: Fleet,
    assignments: dict[str, Assignment],
    events: JetStreamContext.PullSubscription,
    by_id: dict[int, ActiveJob],
    on_event: OnEvent,
    finish: Finish,
) -> set[int]:
    """Handle the events that came while the bot was away; returns the jobs they finished."""
    settled: set[int] = set()
    while True:
        try:
            messages = await events.fetch(batch=64, timeout=DRAIN_WAIT_S)
        except TimeoutError:
            return settled
        for message in messages:
            event = Event.decode(message.data)
            job = by_id.get(event.job_id)
            if event.assignment in assignments:
                await on_event(message)
            elif job is not None and event.kind in TERMINAL and job.id not in settled:
                # Finished while the bot was away (its batch was already acknowledged).
                worker = names.worker_of(message.subject)
                await finish(Assignment(event.assignment, fleet.lane(worker), {job.id: job}), job, event.kind, event)
                settled.add(job.id)
                log.info("job %s finished on worker %s while the bot was away", job.id, worker)
            await message.ack()
