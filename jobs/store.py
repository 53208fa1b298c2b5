"""What the job layer needs of storage, as protocols; ``db.jobs.JobStore`` implements them.

Protocols rather than an import, so that ``jobs`` never loads SQLAlchemy: the database layer
depends on the job model, not the other way round.
"""

from __future__ import annotations

from typing import Protocol

from jobs.model import JobRecord, JobStatus, Place, QueueSlot, UnfinishedJob
from prompt.request import GenerationRequest
from quota.policy import QuotaAsk


class JobStore(Protocol):
    """Every job the service accepts is recorded here before the member hears it is queued."""

    async def mark_running(self, job_id: int) -> None: ...

    async def mark_failed(self, job_id: int, error: str) -> None: ...

    async def mark_cancelled(self, job_id: int) -> None: ...

    async def requeue(self, job_id: int) -> None: ...

    async def create(
        self,
        request: GenerationRequest,
        place: Place,
        *,
        interaction_id: int | None = ...,
        interaction_token: str | None = ...,
        quota: QuotaAsk | None = ...,
        slot: QueueSlot = ...,
        source_png: bytes | None = ...,
        private: bool = ...,
        locale: str = ...,
    ) -> int:
        """Record an accepted job (charging ``quota`` in the same transaction); its id. A
        remix's source image is kept with it."""
        ...

    async def load_source(self, digest: str) -> bytes | None:
        """A remix's kept source image, for Re-roll; None when it is gone."""
        ...

    async def get(self, job_id: int) -> JobRecord | None: ...

    async def finish(
        self,
        job_id: int,
        status: JobStatus,
        *,
        error: str | None = ...,
        seconds: float | None = ...,
        refund: bool = ...,
    ) -> bool:
        """Move a queued or running job to its final state, once (refunding when asked)."""
        ...

    async def unfinished(self) -> list[UnfinishedJob]: ...
