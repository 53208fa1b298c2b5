"""What the service tells an onlooker (the bot's metrics) about jobs, without knowing who listens.

Called on the event loop, synchronously: an observer only counts, it never waits or fails.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from jobs.model import ActiveJob, GenerationResult


class Outcome(enum.StrEnum):
    DONE = "done"
    WITHHELD = "withheld"  # made, then held back by the output check (refunded)
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobObserver(Protocol):
    def queued(self, job: ActiveJob) -> None:
        """The job joined the queue (accepted, or picked up again at start-up)."""
        ...

    def dispatched(self, batch: Sequence[ActiveJob]) -> None:
        """These jobs were handed to a lane as one batch."""
        ...

    def started(self, job: ActiveJob) -> None:
        """The job's pipeline call began (its wait is over)."""
        ...

    def finished(self, job: ActiveJob, outcome: Outcome, result: GenerationResult | None) -> None:
        """The job reached its end; ``result`` when images were made."""
        ...
