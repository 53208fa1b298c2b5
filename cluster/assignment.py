"""One try of one batch on one worker, as the bot follows it."""

from __future__ import annotations

import asyncio
import time
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
    heard_at: float = field(default_factory=time.monotonic)  # last start or step report

    def heard(self) -> None:
        self.heard_at = time.monotonic()

    def silent_for(self) -> float:
        return time.monotonic() - self.heard_at

    def open_jobs(self) -> list[ActiveJob]:
        return [job for job_id, job in self.jobs.items() if job_id not in self.finished]
