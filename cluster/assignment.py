"""One try of one batch on one worker, as the bot follows it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cluster.fleet import WorkerLane
from jobs.model import ActiveJob


@dataclass(eq=False)
class Assignment:
    """One try of one batch on one worker."""

    id: str
    lane: WorkerLane
    jobs: dict[int, ActiveJob]
    seq: int | None = None  # of its work message, to delete it
    finished: set[int] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def open_jobs(self) -> list[ActiveJob]:
        return [job for job_id, job in self.jobs.items() if job_id not in self.finished]
