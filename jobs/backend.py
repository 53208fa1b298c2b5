"""The seam between "the job" and "where it runs".

The service keeps the fair order. A backend offers lanes: places where one batch can run now
(the in-process GPU is one lane; each GPU worker process with a free slot is another). The
service hands each free lane the first jobs in line that fit it, one batch at a time, and the
backend reports what happens to each job as events (started, progress, preview, result, failed,
stopped, returned) to the service, which is the only code that records a job's status or
refunds it. Today's backends: the in-process GPU worker (``generation.worker.GenerationWorker``)
and GPU worker processes over NATS JetStream (``cluster.backend.NatsBackend``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.text import Message
from jobs.model import ActiveJob, GenerationResult, Progress, StopReason
from prompt.request import GenerationRequest


class BackendEvents(Protocol):
    """What a backend reports, on the event loop, for the jobs of the batches it runs."""

    async def started(self, jobs: Sequence[ActiveJob]) -> None:
        """The batch's pipeline call began."""
        ...

    def progress(self, job: ActiveJob, progress: Progress) -> None: ...

    def preview(self, job: ActiveJob, jpeg: bytes) -> None: ...

    async def succeeded(self, job: ActiveJob, result: GenerationResult) -> None:
        """The images are made (the job is done once they are delivered)."""
        ...

    async def failed(self, job: ActiveJob, recorded: str, told: Message) -> None:
        """No image: ``recorded`` goes to the job record, ``told`` to the member."""
        ...

    async def stopped(self, job: ActiveJob) -> None:
        """The job stopped because it was asked to (``job.stop_reason`` says why)."""
        ...

    async def returned(self, jobs: Sequence[ActiveJob]) -> None:
        """These jobs did not run to the end where they were sent (their worker went away): they
        go back to the queue at the place they had, to run on the next free lane."""
        ...

    def lanes_changed(self) -> None:
        """A lane appeared, went away or became free outside a ``run`` call (a worker joined)."""
        ...


class Lane(Protocol):
    """One place where one batch can run now."""

    @property
    def max_batch(self) -> int:
        """Most images one ``run`` call takes."""
        ...

    def fits(self, request: GenerationRequest) -> bool:
        """Whether this lane can run the request at all (its size, its model)."""
        ...

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        """Requests with equal keys may share a batch; None: this one runs alone (or the
        backend cannot tell yet)."""
        ...

    async def run(self, batch: Sequence[ActiveJob]) -> None:
        """Run a batch to its end, reporting every job's outcome (or its return) to the events."""
        ...


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a backend still holds of the jobs the last run left unfinished."""

    settled: frozenset[int] = frozenset()  # finished while the bot was away: already reported
    running: tuple[tuple[Lane, tuple[ActiveJob, ...]], ...] = field(default=())  # still running there


class Backend(Protocol):
    def start(self, events: BackendEvents) -> None:
        """Get ready (e.g. load the model in the background) and report to ``events``."""
        ...

    async def ready(self) -> None:
        """Wait until batches can be run (a backend that failed to start is ready too: it
        refuses each batch with the reason)."""
        ...

    def lanes(self) -> Sequence[Lane]:
        """The lanes that exist now, busy or not (the service knows which ones it gave a batch)."""
        ...

    async def recover(self, jobs: Sequence[ActiveJob]) -> Recovery:
        """After a restart, before anything is dispatched: take over the jobs of ``jobs`` that
        are still running (or finished) where the last run sent them; the rest are queued again."""
        ...

    def cancel(self, job: ActiveJob, reason: StopReason) -> None:
        """Stop a running job at its next step; it is then reported as stopped."""
        ...

    async def close(self) -> None:
        """Release what ``start`` took (the service has already stopped the running jobs)."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One GPU worker as ``/workers`` shows it."""

    name: str
    gpu: str
    state: str  # loading, ready, busy, failed, gone
    jobs: tuple[int, ...]
    images_done: int
    seconds_per_image: float | None  # after warm-up
    last_seen_s: float  # seconds ago
    error: str = ""


class Fleet(Protocol):
    """The GPU workers a backend knows of."""

    def workers(self) -> Sequence[WorkerStatus]: ...
