"""The seam between "the job" and "where it runs".

The service queues jobs in the fair scheduler; a backend takes them from there, runs them and
resolves each job's ``result`` future, reporting progress and previews on the ``ActiveJob``.
Today's implementation is the in-process GPU worker (``generation.worker.GenerationWorker``).
"""

from __future__ import annotations

from typing import Protocol

from jobs.model import ActiveJob


class Backend(Protocol):
    @property
    def current(self) -> ActiveJob | None:
        """The first job of the pipeline call now running, if any."""
        ...

    @property
    def running(self) -> tuple[ActiveJob, ...]:
        """Every job of the pipeline call now running (several when batched)."""
        ...

    def start(self) -> None:
        """Begin taking jobs (loading the model in the background first)."""
        ...

    async def close(self) -> None:
        """Stop taking jobs; the running ones go back to the queue, stored."""
        ...
