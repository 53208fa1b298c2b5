"""The seam between "the job" and "where it runs".

The service keeps the fair order and hands a backend one batch at a time (``run``); the backend
reports what happens to each job as events (started, progress, preview, result, failed, stopped)
to the service, which is the only code that records a job's status or refunds it. Today's
backend is the in-process GPU worker (``generation.worker.GenerationWorker``); one that sends
batches to GPU worker processes implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

from jobs.model import ActiveJob, GenerationResult, Progress, StopReason
from prompt.request import GenerationRequest


class BackendEvents(Protocol):
    """What a backend reports, on the event loop, for the jobs of the batch it runs."""

    async def started(self, jobs: Sequence[ActiveJob]) -> None:
        """The batch's pipeline call began."""
        ...

    def progress(self, job: ActiveJob, progress: Progress) -> None: ...

    def preview(self, job: ActiveJob, jpeg: bytes) -> None: ...

    async def succeeded(self, job: ActiveJob, result: GenerationResult) -> None:
        """The images are made (the job is done once they are delivered)."""
        ...

    async def failed(self, job: ActiveJob, recorded: str, told: str) -> None:
        """No image: ``recorded`` goes to the job record, ``told`` to the member."""
        ...

    async def stopped(self, job: ActiveJob) -> None:
        """The job stopped because it was asked to (``job.stop_reason`` says why)."""
        ...


class Backend(Protocol):
    @property
    def max_batch(self) -> int:
        """Most images one ``run`` call takes."""
        ...

    def start(self, events: BackendEvents) -> None:
        """Get ready (e.g. load the model in the background) and report to ``events``."""
        ...

    async def ready(self) -> None:
        """Wait until batches can be run (a backend that failed to start is ready too: it
        refuses each batch with the reason)."""
        ...

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        """Requests with equal keys may share a batch; None: this one runs alone (or the
        backend cannot tell yet)."""
        ...

    async def run(self, batch: Sequence[ActiveJob]) -> None:
        """Run a batch to its end, reporting every job's outcome to the events."""
        ...

    def cancel(self, job: ActiveJob, reason: StopReason) -> None:
        """Stop a running job at its next step; it is then reported as stopped."""
        ...

    async def close(self) -> None:
        """Release what ``start`` took (the service has already stopped the running jobs)."""
        ...
