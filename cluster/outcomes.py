"""A job's end as the bot reports it to the service: the outcome its worker sent (a success's
images fetched from the object store first), or a failure after too many tries. An assignment
ends with its last job."""

from __future__ import annotations

from nats.js.object_store import ObjectStore

from cluster import results
from cluster.assignment import Assignment
from cluster.wire import Event
from core.text import t
from jobs.backend import BackendEvents
from jobs.model import ActiveJob

TOO_MANY_TRIES = "This image could not be made: its GPU worker stopped {n} times while making it. You were not charged."


async def finish(
    events: BackendEvents,
    store: ObjectStore | None,
    tries: dict[int, int],
    assignment: Assignment,
    job: ActiveJob,
    kind: str,
    event: Event | None = None,
    *,
    lost_ok: bool = False,
) -> bool:
    """Report one job's end to the service; the assignment ends with its last job. With
    ``lost_ok``, a result whose images are gone is not reported (False): it runs again.
    ``tries``: the jobs' tries that ended with their worker gone (this job's is forgotten)."""
    if job.id in assignment.finished:
        return True
    assignment.finished.add(job.id)
    if kind == "succeeded" and event is not None:
        assert store is not None
        result = await results.fetch(store, event)
        if result is None and lost_ok:
            assignment.finished.discard(job.id)
            return False
        if result is None:
            await events.failed(job, "the result's images were lost", t("The image was made but got lost; try again."))
        else:
            await events.succeeded(job, result)
    elif kind == "failed" and event is not None:
        await events.failed(job, event.recorded, event.told_message())
    else:
        await events.stopped(job)
    tries.pop(job.id, None)
    if not assignment.open_jobs():
        assignment.done.set()
    return True


async def fail_tries(events: BackendEvents, assignment: Assignment, job: ActiveJob, tries: int) -> None:
    """The job's worker stopped ``tries`` times while running it: it fails (and is refunded)."""
    assignment.finished.add(job.id)
    message = TOO_MANY_TRIES.format(n=tries)
    await events.failed(job, f"gave up after {tries} tries (worker gone or hung)", message)
    if not assignment.open_jobs():
        assignment.done.set()
