"""Work orders on JetStream: a remix's source image goes ahead of its order, the order is
published until JetStream has stored it, and deleted to take it back from its worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from cluster import results
from cluster.assignment import Assignment
from cluster.wire import Names, WorkOrder
from jobs.model import ActiveJob

log = logging.getLogger(__name__)

RETRY_S = 0.5


async def put_sources(sources: ObjectStore | None, jobs: Sequence[ActiveJob]) -> None:
    """Remixes' source images go ahead of the order, named by digest (a Re-roll reuses one)."""
    for job in jobs:
        if job.request.source is not None and job.source_png is not None:
            assert sources is not None
            # Put once: putting again replaces the object under a worker reading it.
            if not await results.exists(sources, job.request.source):
                await results.upload(sources, job.request.source, job.source_png)


async def publish(js: JetStreamContext, names: Names, assignment: Assignment, order: WorkOrder) -> None:
    """Publish until JetStream has stored it (NATS may be restarting); the message id makes
    a publish that was stored but not acknowledged count once."""
    subject = names.work(assignment.lane.name, assignment.id)
    while True:
        try:
            ack = await js.publish(subject, order.encode(), headers={"Nats-Msg-Id": assignment.id})
        except Exception as exc:  # (not connected, timeout: try again)
            log.warning(
                "could not send job(s) %s to worker %s (%s); retrying",
                list(assignment.jobs),
                assignment.lane.name,
                exc,
            )
            await asyncio.sleep(RETRY_S)
            continue
        assignment.seq = ack.seq
        if assignment.done.is_set():  # taken back while it was being sent: nobody runs it
            await delete(js, names, assignment)
        return


async def delete(js: JetStreamContext, names: Names, assignment: Assignment) -> bool:
    """Take the order back from JetStream, so that its worker does not run it; False when it
    was not there to delete."""
    try:
        assert assignment.seq is not None
        return await js.delete_msg(names.work_stream, assignment.seq)
    except Exception:  # (already taken and acknowledged, or NATS is away)
        return False
