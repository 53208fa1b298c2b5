"""Which job(s) the running code is about, for the logs (core.logs adds them to every line).

A ContextVar, set where a job is handled: asyncio gives each task its own copy, so a tag set in
one job's task stays with that job's lines (and the threads it starts with a copied context).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from jobs.model import ActiveJob


@dataclass(frozen=True, slots=True)
class JobTag:
    job_ids: tuple[int, ...]
    member_ids: tuple[int, ...]  # each member once, in the jobs' order


CURRENT: ContextVar[JobTag | None] = ContextVar("current_jobs", default=None)


def tag_jobs(jobs: Iterable[ActiveJob]) -> None:
    """From here on in this task (or thread), log lines carry these jobs' and members' ids."""
    jobs = list(jobs)
    members = dict.fromkeys(job.request.user_id for job in jobs)
    CURRENT.set(JobTag(tuple(job.id for job in jobs), tuple(members)))
