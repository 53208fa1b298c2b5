"""The job queue the worker drains (first come, first served for now)."""

from __future__ import annotations

import asyncio
from collections import deque

from core.errors import QueueFull
from generation.jobs import ActiveJob


class JobQueue:
    def __init__(self, max_size: int) -> None:
        self._jobs: deque[ActiveJob] = deque()
        self._max_size = max_size
        self._available = asyncio.Condition()

    def __len__(self) -> int:
        return len(self._jobs)

    def ensure_room(self) -> None:
        if len(self._jobs) >= self._max_size:
            raise QueueFull(f"The queue is full ({self._max_size} images waiting). Please try again in a few minutes.")

    async def put(self, job: ActiveJob) -> None:
        self.ensure_room()
        async with self._available:
            self._jobs.append(job)
            self._available.notify()

    async def get(self) -> ActiveJob:
        async with self._available:
            await self._available.wait_for(lambda: bool(self._jobs))
            return self._jobs.popleft()

    def position(self, job_id: int) -> int | None:
        """1-based place in line, or None once the job has left the queue."""
        for index, job in enumerate(self._jobs):
            if job.id == job_id:
                return index + 1
        return None

    def remove(self, job_id: int) -> ActiveJob | None:
        for job in self._jobs:
            if job.id == job_id:
                self._jobs.remove(job)
                return job
        return None

    def drain(self) -> list[ActiveJob]:
        jobs = list(self._jobs)
        self._jobs.clear()
        return jobs
